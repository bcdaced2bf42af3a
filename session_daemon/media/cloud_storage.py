"""Production media adapter: Cloud Storage for Firebase with a download-token URL.

The Firebase console's own download links work this way: the object carries the metadata
`firebaseStorageDownloadTokens: <uuid>`, and
`https://firebasestorage.googleapis.com/v0/b/{bucket}/o/{urlencoded name}?alt=media&token=<uuid>`
serves it to anyone holding the token, with no header and no expiry. Rotating the token
(`revoke`) kills the old link; the bytes stay. A signed URL (what the old backend used) expires
after at most 7 days, which message documents that live forever cannot have.

`download_base` is injectable because the Firebase download endpoint and the Cloud Storage JSON
API share the shape `{base}/b/{bucket}/o/{name}?alt=media`: tests point it at fake-gcs-server's
`/download/storage/v1` and fetch the very URL this adapter returns.

Objects live under `whatsapp-media/`, apart from the app's other files in the same bucket.
"""

from __future__ import annotations

import uuid
from typing import Any, Final
from urllib.parse import quote

from session_daemon.media.port import MediaStoreError, StoredMedia, split_object_name

__all__ = ["FIREBASE_DOWNLOAD_BASE", "OBJECT_PREFIX", "TOKEN_METADATA", "CloudStorageMediaStore"]

FIREBASE_DOWNLOAD_BASE: Final = "https://firebasestorage.googleapis.com/v0"
TOKEN_METADATA: Final = "firebaseStorageDownloadTokens"
OBJECT_PREFIX: Final = "whatsapp-media/"


class CloudStorageMediaStore:
    """`MediaStore` on a bucket. `bucket` is a `google.cloud.storage.Bucket` (built by the
    caller, so credentials and `STORAGE_EMULATOR_HOST` stay the caller's business)."""

    def __init__(self, bucket: Any, download_base: str = FIREBASE_DOWNLOAD_BASE) -> None:
        # `bucket` may be a callable that makes it: the client then needs credentials only
        # at the first upload (a daemon without them starts; its jobs fail `storage_failed`)
        self._bucket_or_factory = bucket
        self._resolved: Any = None if callable(bucket) else bucket
        self._base = download_base.rstrip("/")

    @property
    def _bucket(self) -> Any:
        if self._resolved is None:
            try:
                self._resolved = self._bucket_or_factory()
            except Exception as exc:
                raise MediaStoreError(f"Cloud Storage unavailable: {type(exc).__name__}") from exc
        return self._resolved

    def blob_name(self, name: str) -> str:
        split_object_name(name)  # only names object_name() made
        return OBJECT_PREFIX + name

    def url_for(self, blob_name: str, token: str) -> str:
        return (
            f"{self._base}/b/{quote(self._bucket.name, safe='')}/o/"
            f"{quote(blob_name, safe='')}?alt=media&token={quote(token, safe='')}"
        )

    def put(self, name: str, data: bytes, mimetype: str) -> StoredMedia:
        from google.api_core import exceptions as gexc

        blob = self._bucket.blob(self.blob_name(name))
        token = str(uuid.uuid4())
        blob.metadata = {TOKEN_METADATA: token}
        blob.cache_control = "private, max-age=86400"
        try:
            blob.upload_from_string(data, content_type=mimetype)
        except (gexc.GoogleAPIError, OSError) as exc:
            raise MediaStoreError(f"Cloud Storage upload failed: {type(exc).__name__}") from exc
        return StoredMedia(name, self.url_for(blob.name, token), len(data), mimetype)

    def token_of(self, name: str) -> str | None:
        """The object's current download token (None when it has none or does not exist)."""
        blob = self._bucket.get_blob(self.blob_name(name))
        if blob is None:
            return None
        value = (blob.metadata or {}).get(TOKEN_METADATA)
        return value if isinstance(value, str) and value else None

    def revoke(self, name: str) -> None:
        """Replace the download token: every link made with the old one stops working."""
        from google.api_core import exceptions as gexc

        blob = self._bucket.get_blob(self.blob_name(name))
        if blob is None:
            return
        blob.metadata = {**(blob.metadata or {}), TOKEN_METADATA: str(uuid.uuid4())}
        try:
            blob.patch()
        except (gexc.GoogleAPIError, OSError) as exc:
            raise MediaStoreError(f"Cloud Storage update failed: {type(exc).__name__}") from exc
