"""neonize's media download behind the media job's `Fetch`, with whatsmeow's errors mapped to
the job's reasons (issue 12: never a silent null, and say when a file is gone for good).

`neonize.exc.DownloadError` carries whatsmeow's error text; the ones that matter:
- `download failed with status code 404` / `410`: WhatsApp's servers dropped the file (media
  expires after some weeks, or the sender deleted it). whatsmeow could ask the phone to upload
  it again (a media retry receipt), but neonize 0.5.2 exposes no call for that: final, `expired`.
- `didn't find any attachments in message`, `no url present`, `unknown media type`,
  `media download path does not start with slash`: nothing to download, final.
- `invalid media hmac`, `hash of media ciphertext doesn't match`, `hash of unencrypted media
  doesn't match`, `file too short`: a damaged transfer, retried as `corrupt`.
- anything else (network, a 5xx): retried as `download_failed`.
"""

from __future__ import annotations

from typing import Any

from session_daemon.media.jobs import DownloadError, Fetch, classify_download_error

# The attachment's download info is read by conversion (pure); it is re-exported here.
from session_daemon.transport.neonize_content import DownloadInfo, download_info

__all__ = ["DownloadInfo", "classify_download_error", "download_info", "neonize_fetch"]


def neonize_fetch(client: Any, message: Any) -> Fetch:
    """A `Fetch` for one waE2E `Message` through an async neonize client's `download_any`."""
    from neonize.exc import DownloadError as NeonizeDownloadError

    async def fetch() -> bytes:
        try:
            data = await client.download_any(message)
        except NeonizeDownloadError as exc:
            raise classify_download_error(str(exc)) from None
        if not isinstance(data, bytes | bytearray):
            raise DownloadError("download_failed", permanent=False, detail="no bytes returned")
        return bytes(data)

    return fetch
