"""The content of one Cloud API message object (`type` and its `<type>: {...}`), parsed.

Shared by incoming messages, Business-app echoes and history items, which carry the same
per-type objects. Unknown types are kept as `unsupported`-like messages with their type name, so
nothing a client sent disappears silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from session_daemon.cloud_api.identity import is_bsuid, phone_jid_of_wa_id
from session_daemon.cloud_api.model import (
    GraphErrorInfo,
    Interactive,
    MediaRef,
    Reaction,
    SystemChange,
)

__all__ = ["Content", "MalformedItem", "parse_content", "parse_errors", "text_of"]

MEDIA_KINDS: Final = ("image", "video", "audio", "document", "sticker")


class MalformedItem(ValueError):
    """One item of an otherwise valid payload cannot be read (counted, the rest proceeds)."""


@dataclass(frozen=True, slots=True)
class Content:
    text: str = ""
    media: MediaRef | None = None
    reaction: Reaction | None = None
    interactive: Interactive | None = None
    location: dict[str, Any] | None = None
    contacts: tuple[dict[str, Any], ...] = ()
    system: SystemChange | None = None


def text_of(value: object) -> str:
    return value if isinstance(value, str) else ""


def _opt(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _obj(item: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = item.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise MalformedItem(f"{key} is not an object")
    return value


def parse_errors(raw: object) -> tuple[GraphErrorInfo, ...]:
    if not isinstance(raw, list):
        return ()
    out: list[GraphErrorInfo] = []
    for err in raw:
        if not isinstance(err, Mapping):
            continue
        code = err.get("code")
        data = err.get("error_data")
        details = data.get("details") if isinstance(data, Mapping) else None
        out.append(
            GraphErrorInfo(
                code=code if isinstance(code, int) and not isinstance(code, bool) else None,
                title=text_of(err.get("title")),
                message=text_of(err.get("message")),
                details=text_of(details),
            )
        )
    return tuple(out)


def _media(kind: str, body: Mapping[str, Any]) -> MediaRef:
    media_id = _opt(body.get("id"))
    link = _opt(body.get("link")) or _opt(body.get("url"))
    if media_id is None and link is None:
        raise MalformedItem(f"{kind} without id or link")
    return MediaRef(
        kind=kind,
        media_id=media_id,
        mime_type=_opt(body.get("mime_type")),
        sha256_b64=_opt(body.get("sha256")),
        caption=_opt(body.get("caption")),
        filename=_opt(body.get("filename")),
        link=link,
        voice=body.get("voice") is True,
        animated=body.get("animated") is True,
    )


def _location(body: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    lat, lng = body.get("latitude"), body.get("longitude")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lat, lng)):
        raise MalformedItem("location without numeric latitude/longitude")
    name, address = _opt(body.get("name")), _opt(body.get("address"))
    loc = {"lat": float(lat), "lng": float(lng), "name": name, "address": address}  # type: ignore[arg-type]
    shown = " — ".join(p for p in (name, address) if p)
    return loc, shown


def _contacts(raw: object) -> tuple[tuple[dict[str, Any], ...], str]:
    if not isinstance(raw, list):
        raise MalformedItem("contacts is not a list")
    cards: list[dict[str, Any]] = []
    for card in raw:
        if not isinstance(card, Mapping):
            continue
        name = card.get("name")
        formatted = text_of(name.get("formatted_name")) if isinstance(name, Mapping) else ""
        phones = [
            {"phone": text_of(p.get("phone")), "waId": _opt(p.get("wa_id"))}
            for p in card.get("phones") or []
            if isinstance(p, Mapping)
        ]
        cards.append({"name": formatted, "phones": phones})
    shown = ", ".join(c["name"] for c in cards if c["name"])
    return tuple(cards), shown


def _interactive(body: Mapping[str, Any]) -> Interactive:
    kind = text_of(body.get("type"))
    reply = body.get(kind)
    if not isinstance(reply, Mapping):
        raise MalformedItem(f"interactive {kind!r} without its reply object")
    if kind == "nfm_reply":  # a WhatsApp Flow's answer: a JSON string, shown by its name
        return Interactive(kind, None, text_of(reply.get("body")) or text_of(reply.get("name")))
    return Interactive(kind, _opt(reply.get("id")), text_of(reply.get("title")))


def _system(body: Mapping[str, Any]) -> SystemChange:
    new_bsuid = body.get("user_id")
    prev_bsuid = body.get("previous_user_id")
    return SystemChange(
        kind=text_of(body.get("type")),
        body=text_of(body.get("body")),
        # `wa_id` since Graph v12 (`new_wa_id` before)
        new_pn_jid=phone_jid_of_wa_id(body.get("wa_id") or body.get("new_wa_id")),
        new_bsuid=new_bsuid if is_bsuid(new_bsuid) else None,
        previous_bsuid=prev_bsuid if is_bsuid(prev_bsuid) else None,
    )


def parse_content(meta_type: str, item: Mapping[str, Any]) -> Content:
    """The message's content by Meta's `type`; raises MalformedItem for an unreadable object."""
    body = _obj(item, meta_type) if meta_type != "contacts" else {}
    if meta_type == "text":
        return Content(text=text_of(body.get("body")))
    if meta_type in MEDIA_KINDS:
        media = _media(meta_type, body)
        return Content(text=media.caption or "", media=media)
    if meta_type == "reaction":
        target = _opt(body.get("message_id"))
        if target is None:
            raise MalformedItem("reaction without message_id")
        emoji = _opt(body.get("emoji"))
        return Content(text=emoji or "", reaction=Reaction(target, emoji))
    if meta_type == "location":
        loc, shown = _location(body)
        return Content(text=shown, location=loc)
    if meta_type == "contacts":
        cards, shown = _contacts(item.get("contacts"))
        return Content(text=shown, contacts=cards)
    if meta_type == "interactive":
        choice = _interactive(body)
        return Content(text=choice.title, interactive=choice)
    if meta_type == "button":  # a template's quick-reply button
        title = text_of(body.get("text"))
        return Content(
            text=title, interactive=Interactive("button", _opt(body.get("payload")), title)
        )
    if meta_type == "system":
        return Content(text=text_of(body.get("body")), system=_system(body))
    if meta_type == "order":
        return Content(text=text_of(body.get("text")))
    # request_welcome, unsupported, and kinds Meta adds later: no content we can show
    return Content()
