"""Inbound media: where downloaded files are kept and how the app opens them (issue 12).

- `port`: the `MediaStore` port every adapter implements, and the object naming rule.
- `local`: the embedded store's adapter, a folder served by the daemon under links signed with
  a server key (`routes` serves them).
- `cloud_storage`: production, Cloud Storage for Firebase with a download-token URL.
- `fields`: pure `media.*` document patches (pending, stored, failed with a reason).
- `jobs`: the download job (retries with backoff, size cap, never a silent null).
"""
