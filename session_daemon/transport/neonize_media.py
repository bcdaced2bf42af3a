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

import base64
import re
from dataclasses import dataclass
from typing import Any, Final

from session_daemon.media.jobs import DownloadError, Fetch

# neonize is imported through conversion, which sets the Go environment before neonize loads;
# the wrapper list (ephemeral, view-once, document-with-caption, ...) has its one home there.
from session_daemon.transport.neonize_convert import _unwrap, e2e

__all__ = ["DownloadInfo", "classify_download_error", "download_info", "neonize_fetch"]

# (field of waE2E.Message, our media type); whatsmeow's DownloadAny looks at exactly these
# top-level fields, so a wrapped attachment must be handed over unwrapped.
_ATTACHMENTS: Final = (
    ("imageMessage", "image"),
    ("videoMessage", "video"),
    ("ptvMessage", "video"),
    ("audioMessage", "audio"),
    ("documentMessage", "document"),
    ("stickerMessage", "sticker"),
)


@dataclass(frozen=True)
class DownloadInfo:
    """What the message says about its file, and the bytes `download_any` needs to fetch it
    (kept in the journal, so a download can be retried after a restart)."""

    media_type: str
    mimetype: str | None
    filename: str | None
    size_bytes: int | None
    sha256: str | None  # hex of the decrypted file (WhatsApp's `fileSHA256`)
    thumb_base64: str | None
    voice: bool
    message_b64: str  # a waE2E.Message holding only this attachment, serialized

    def message(self) -> e2e.Message:
        return e2e.Message.FromString(base64.b64decode(self.message_b64))


def download_info(message: e2e.Message) -> DownloadInfo | None:
    """The attachment of a message (through its wrappers), or None when it has none."""
    msg = _unwrap(message)
    for field_name, media_type in _ATTACHMENTS:
        if not msg.HasField(field_name):
            continue
        part = getattr(msg, field_name)
        alone = e2e.Message()
        # ptvMessage (round video notes) downloads like a video; whatsmeow knows only the five.
        target = "videoMessage" if field_name == "ptvMessage" else field_name
        getattr(alone, target).CopyFrom(part)
        filename = (getattr(part, "fileName", "") or getattr(part, "title", "")) or None
        thumb = getattr(part, "JPEGThumbnail", b"") or b""
        return DownloadInfo(
            media_type=media_type,
            mimetype=part.mimetype or None,
            filename=filename if media_type == "document" else None,
            size_bytes=int(part.fileLength) if part.fileLength else None,
            sha256=part.fileSHA256.hex() if part.fileSHA256 else None,
            thumb_base64=base64.b64encode(thumb).decode("ascii") if thumb else None,
            voice=bool(getattr(part, "PTT", False)),
            message_b64=base64.b64encode(alone.SerializeToString()).decode("ascii"),
        )
    return None


_EXPIRED: Final = re.compile(r"status code (404|410)\b")
_NOTHING: Final = (
    "didn't find any attachments",
    "no url present",
    "unknown media type",
    "does not start with slash",
)
_CORRUPT: Final = ("invalid media hmac", "doesn't match", "file too short")


def classify_download_error(text: str) -> DownloadError:
    lowered = text.lower()
    if _EXPIRED.search(lowered):
        return DownloadError("expired", permanent=True, detail=text)
    if any(marker in lowered for marker in _NOTHING):
        return DownloadError("no_download_info", permanent=True, detail=text)
    if any(marker in lowered for marker in _CORRUPT):
        return DownloadError("corrupt", permanent=False, detail=text)
    return DownloadError("download_failed", permanent=False, detail=text)


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
