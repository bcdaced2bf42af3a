"""The media store port: keep a file's bytes and hand back a URL the app opens with no header.

CONTRACT.md section 4: the app shows `media.url` with a plain `Image.network` or player, and
message documents live forever, so the URL must not expire. Each adapter makes a URL that is
its own credential and can be revoked (the local store by rotating its signing key, Cloud
Storage by rotating the object's download token).

Objects are named `{accountId}/{messageDocId}{ext}`: one object per message, so storing the
same message twice (a retried job, a journal replay) overwrites the same object instead of
leaving orphans, and every segment is already a checked single path segment.
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass
from typing import Final, Protocol

__all__ = [
    "InvalidObjectName",
    "MediaStore",
    "MediaStoreError",
    "StoredMedia",
    "extension_for",
    "object_name",
    "split_object_name",
]

# A message document id (the WhatsApp id or its `wa-` hash) and an account id the daemon made.
_SEGMENT: Final = re.compile(r"[A-Za-z0-9_-]{1,128}")
_EXTENSION: Final = re.compile(r"\.[a-z0-9]{1,8}")
_NAME: Final = re.compile(
    r"(?P<account>[A-Za-z0-9_-]{1,128})/(?P<stem>[A-Za-z0-9_-]{1,128})(?P<ext>\.[a-z0-9]{1,8})?"
)
# mimetypes' first guess for some common WhatsApp types is odd (`.jpe`, `.oga`): pin them.
_PREFERRED_EXT: Final[dict[str, str]] = {
    "image/jpeg": ".jpg",
    "image/webp": ".webp",
    "audio/ogg": ".ogg",
    "audio/mpeg": ".mp3",
    "audio/mp4": ".m4a",
    "video/mp4": ".mp4",
    "application/pdf": ".pdf",
}


class MediaStoreError(Exception):
    """The store could not keep or serve the object (disk full, Cloud Storage unreachable)."""


class InvalidObjectName(MediaStoreError, ValueError):
    """An account or message id that is not one plain path segment."""


@dataclass(frozen=True)
class StoredMedia:
    """Where a stored file is: `url` opens with no header; `object_name` names it in the
    store (for revocation and for the operator)."""

    object_name: str
    url: str
    size_bytes: int
    mimetype: str


def extension_for(mimetype: str | None) -> str:
    """A short lowercase extension for a mimetype (`""` when unknown); parameters such as
    `; codecs=opus` are ignored."""
    base = (mimetype or "").split(";", 1)[0].strip().lower()
    ext = _PREFERRED_EXT.get(base) or mimetypes.guess_extension(base) or ""
    return ext if _EXTENSION.fullmatch(ext) else ""


def object_name(account_id: str, message_doc_id: str, mimetype: str | None) -> str:
    """`{accountId}/{messageDocId}{ext}`; raises InvalidObjectName for ids that are not plain."""
    for value, what in ((account_id, "account id"), (message_doc_id, "message id")):
        if not _SEGMENT.fullmatch(value) or value.startswith("__"):
            raise InvalidObjectName(f"{what} is not a plain path segment")
    return f"{account_id}/{message_doc_id}{extension_for(mimetype)}"


def split_object_name(name: str) -> tuple[str, str]:
    """`(accountId, file name)` of a name `object_name` made; InvalidObjectName otherwise."""
    match = _NAME.fullmatch(name)
    if match is None or match["account"].startswith("__") or match["stem"].startswith("__"):
        raise InvalidObjectName("not a media object name")
    return match["account"], match["stem"] + (match["ext"] or "")


class MediaStore(Protocol):
    """Blocking calls (the daemon runs them in a worker thread)."""

    def put(self, name: str, data: bytes, mimetype: str) -> StoredMedia:
        """Store (or overwrite) the object and return its no-header URL."""

    def revoke(self, name: str) -> None:
        """Make every URL handed out for this object stop working (the bytes stay)."""
