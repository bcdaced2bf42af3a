"""Pure `media.*` document logic: what a message's `media` map says at each step.

CONTRACT.md section 4 lists `media {type, url, mimetype, filename, thumbBase64, sizeBytes,
sha256}`; issue 12 adds `status` (`pending` → `stored` | `failed`) and, when failed, a stable
`reason` code with a human `reasonText`, so the app and the operator never see a silent null.
The message document is created at once with `status: pending` and the thumbnail; the job
fills in `url` when the file is stored.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MAX_BYTES_ENV",
    "MEDIA_TYPES",
    "REASON_TEXT",
    "FailureReason",
    "MediaStatus",
    "StoredFields",
    "failed_patch",
    "is_final",
    "max_bytes_from_env",
    "pending_fields",
    "precheck",
    "progress_patch",
    "stored_patch",
]

MediaStatus = Literal["pending", "stored", "failed"]
FailureReason = Literal[
    "too_large",
    "unsupported_type",
    "expired",
    "download_failed",
    "corrupt",
    "storage_failed",
    "no_download_info",
]

MAX_BYTES_ENV: Final = "WHATSAPP_MEDIA_MAX_BYTES"
DEFAULT_MAX_BYTES: Final = 100 * 1024 * 1024
MEDIA_TYPES: Final = frozenset({"image", "video", "audio", "document", "sticker"})

REASON_TEXT: Final[dict[str, str]] = {
    "too_large": "The file is larger than this server keeps (WHATSAPP_MEDIA_MAX_BYTES).",
    "unsupported_type": "This kind of attachment is not stored.",
    # whatsmeow can send a media retry receipt asking the phone to re-upload, but neonize 0.5.2
    # exposes no call for it: once WhatsApp's servers dropped the file, it is gone for us.
    "expired": (
        "WhatsApp no longer has this file, and neonize 0.5.2 cannot ask the phone to "
        "upload it again; ask the client to resend it."
    ),
    "download_failed": "The file could not be downloaded from WhatsApp after several tries.",
    "corrupt": "The downloaded file did not match its checksum.",
    "storage_failed": "The file was downloaded but could not be stored.",
    "no_download_info": "The message carries no download information for its file.",
}


def max_bytes_from_env(environ: Mapping[str, str] | None = None) -> int:
    """`WHATSAPP_MEDIA_MAX_BYTES` (default 100 MB); a value that is not a positive integer is
    a configuration error, raised at start-up rather than guessed around."""
    raw = (environ if environ is not None else os.environ).get(MAX_BYTES_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_BYTES
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{MAX_BYTES_ENV} must be a whole number of bytes") from None
    if value <= 0:
        raise ValueError(f"{MAX_BYTES_ENV} must be positive")
    return value


def pending_fields(
    media_type: str,
    *,
    mimetype: str | None,
    filename: str | None,
    thumb_base64: str | None,
    size_bytes: int | None,
    sha256: str | None,
) -> dict[str, Any]:
    """The `media` map a message document is created with, before its file is stored."""
    return {
        "type": media_type,
        "url": None,
        "mimetype": mimetype,
        "filename": filename,
        "thumbBase64": thumb_base64,
        "sizeBytes": size_bytes,
        "sha256": sha256,
        "status": "pending",
        "attempts": 0,
    }


def precheck(media_type: str, declared_size: int | None, max_bytes: int) -> FailureReason | None:
    """Why a file must not even be downloaded (None: go ahead). WhatsApp tells the size in the
    message itself, so an over-cap video costs no download."""
    if media_type not in MEDIA_TYPES:
        return "unsupported_type"
    if declared_size is not None and declared_size > max_bytes:
        return "too_large"
    return None


@dataclass(frozen=True)
class StoredFields:
    url: str
    size_bytes: int
    sha256: str
    mimetype: str
    object_name: str


def stored_patch(stored: StoredFields, attempts: int, at: datetime) -> dict[str, Any]:
    """Dotted `update` fields once the file is stored (the rest of `media` is kept)."""
    return {
        "media.url": stored.url,
        "media.sizeBytes": stored.size_bytes,
        "media.sha256": stored.sha256,
        "media.mimetype": stored.mimetype,
        "media.objectName": stored.object_name,
        "media.status": "stored",
        "media.attempts": attempts,
        "media.storedAt": at,
        "media.reason": None,
        "media.reasonText": None,
    }


def progress_patch(attempts: int, last_reason: FailureReason, retry_at: datetime) -> dict[str, Any]:
    """Still pending after a failed try: how many tries, why the last one failed, when next."""
    return {
        "media.status": "pending",
        "media.attempts": attempts,
        "media.reason": last_reason,
        "media.reasonText": REASON_TEXT[last_reason],
        "media.nextAttemptAt": retry_at,
    }


def failed_patch(reason: FailureReason, attempts: int, at: datetime) -> dict[str, Any]:
    """The final state of a file that will not be stored; `url` stays None with the reason."""
    return {
        "media.url": None,
        "media.status": "failed",
        "media.attempts": attempts,
        "media.reason": reason,
        "media.reasonText": REASON_TEXT[reason],
        "media.failedAt": at,
        "media.nextAttemptAt": None,
    }


def is_final(media: Mapping[str, Any] | None) -> bool:
    """A `media` map whose job is over (stored or failed): a replayed job must not touch it."""
    return media is not None and media.get("status") in ("stored", "failed")
