"""Meta's JSON bodies for `POST /{phone-number-id}/messages`. Pure.

`target` is `ClientRef.send_target()`: `{"to": digits}` for a phone, `{"recipient": BSUID}` for
a user known only by the business-scoped id (Meta applies `to` when both are given).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Final, Literal, cast
from urllib.parse import unquote, urlsplit

from shared.outbox import media_kind

__all__ = [
    "MAX_CAPTION_CHARS",
    "MAX_TEXT_CHARS",
    "OutboundMedia",
    "media_body",
    "outbound_media",
    "reaction_body",
    "read_body",
    "template_body",
    "text_body",
]

MAX_TEXT_CHARS: Final = 4096
MAX_CAPTION_CHARS: Final = 1024  # Meta's limit for a media caption
MediaKind = Literal["image", "video", "audio", "document", "sticker"]


def _base(target: Mapping[str, str], kind: str, reply_to: str | None) -> dict[str, Any]:
    if not target.get("to") and not target.get("recipient"):
        raise ValueError("a send needs `to` or `recipient`")
    body: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual"}
    body.update({k: v for k, v in target.items() if k in ("to", "recipient") and v})
    body["type"] = kind
    if reply_to:
        body["context"] = {"message_id": reply_to}
    return body


def text_body(
    target: Mapping[str, str], text: str, *, reply_to: str | None = None, preview_url: bool = False
) -> dict[str, Any]:
    if not text.strip():
        raise ValueError("an empty text is not sent")
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"a text body holds at most {MAX_TEXT_CHARS} characters")
    body = _base(target, "text", reply_to)
    body["text"] = {"body": text, "preview_url": preview_url}
    return body


def media_body(
    target: Mapping[str, str],
    kind: MediaKind,
    *,
    media_id: str | None = None,
    link: str | None = None,
    caption: str | None = None,
    filename: str | None = None,
    reply_to: str | None = None,
) -> dict[str, Any]:
    if bool(media_id) == bool(link):
        raise ValueError("media needs exactly one of id or link")
    obj: dict[str, Any] = {"id": media_id} if media_id else {"link": link}
    if caption and kind in ("image", "video", "document"):
        obj["caption"] = caption
    if filename and kind == "document":
        obj["filename"] = filename
    body = _base(target, kind, reply_to)
    body[kind] = obj
    return body


def template_body(
    target: Mapping[str, str],
    name: str,
    language: str,
    *,
    body_params: Sequence[str] = (),
    components: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """A template send; `body_params` fill `{{1}}`, `{{2}}`… of the body (the common case),
    `components` is Meta's full list for anything else (headers, buttons)."""
    template: dict[str, Any] = {"name": name, "language": {"code": language}}
    if components is not None:
        template["components"] = [dict(c) for c in components]
    elif body_params:
        template["components"] = [
            {"type": "body", "parameters": [{"type": "text", "text": p} for p in body_params]}
        ]
    body = _base(target, "template", None)
    body["template"] = template
    return body


def reaction_body(target: Mapping[str, str], message_id: str, emoji: str) -> dict[str, Any]:
    body = _base(target, "reaction", None)
    body["reaction"] = {"message_id": message_id, "emoji": emoji}
    return body


def read_body(message_id: str) -> dict[str, Any]:
    """The read receipt staff send by opening a thread (same endpoint, no recipient)."""
    return {"messaging_product": "whatsapp", "status": "read", "message_id": message_id}


@dataclass(frozen=True)
class OutboundMedia:
    url: str  # where the daemon fetches the file before uploading it to Meta
    mime_type: str
    file_name: str  # the multipart file name; shown to the client for documents
    kind: MediaKind
    caption: str | None


def outbound_media(media: Mapping[str, Any], text: str) -> OutboundMedia:
    """An outbox item's `media {url, mimeType, fileName?, kind?}` and its text (the caption),
    checked; raises ValueError. Audio carries no caption on WhatsApp: the text stays on the
    message document only."""
    url, mime = media.get("url"), media.get("mimeType")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise ValueError("media needs an http(s) url")
    if not isinstance(mime, str) or not mime.strip():
        raise ValueError("media needs a mimeType")
    kind = media.get("kind")
    if kind not in ("image", "video", "audio", "document"):
        kind = media_kind(mime)
    name = media.get("fileName")
    if not isinstance(name, str) or not name.strip():
        name = unquote(PurePosixPath(urlsplit(url).path).name) or "file"
    caption = text.strip() or None
    if caption is not None and len(caption) > MAX_CAPTION_CHARS:
        raise ValueError(f"a caption holds at most {MAX_CAPTION_CHARS} characters")
    return OutboundMedia(url, mime.strip(), name.strip(), cast(MediaKind, kind), caption)
