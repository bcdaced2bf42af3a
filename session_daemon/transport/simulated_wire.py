"""Wire messages for the simulated network, built from JSON-like specs (what
`/api/simulator/*` bodies and tests carry), and the simulator's own error and record types.

Pure: no state, no threads; `SimulatedTransport` and the simulator HTTP routes share it.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, NamedTuple, cast

from session_daemon.transport.port import Media, MessageType, WireMessage
from shared.jids import normalize_jid, parse_jid, phone_jid
from shared.phones import to_e164_lenient
from shared.timeutil import ensure_utc, from_ms, parse_iso, utc_now

_MESSAGE_TYPES: frozenset[str] = frozenset(
    ("text", "image", "video", "audio", "document", "sticker", "location", "contact",
     "reaction", "other")
)  # fmt: skip
_MEDIA_TYPES: frozenset[str] = frozenset(("image", "video", "audio", "document", "sticker"))


class SimulatorError(ValueError):
    """A control call that makes no sense in the current state; `code` is a stable error code
    (`unknown_account`, `not_pairing`, `bad_pairing_code`, `not_connected`, `invalid_argument`,
    `logged_out`)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ReceivedMessage(NamedTuple):
    """One message a simulated client phone received: `(account_id, text, message_id)`."""

    account_id: str
    text: str
    message_id: str


def new_message_id() -> str:
    """An id shaped like the ones WhatsApp clients make (`3EB0` + 16 upper hex)."""
    return "3EB0" + secrets.token_hex(8).upper()


def lid_for_phone(phone: str) -> str:
    """The (stable, made-up) LID of a client phone in this simulated network."""
    e164 = to_e164_lenient(phone) or phone
    digest = hashlib.sha256(e164.encode()).hexdigest()
    return f"{int(digest[:12], 16) % 10**14 + 10**14}@lid"


def require_phone(raw: str, what: str) -> str:
    e164 = to_e164_lenient(raw)
    if e164 is None:
        raise SimulatorError("invalid_argument", f"{what} is not a phone number: {raw!r}")
    return e164


def to_datetime(value: datetime | int | float | str | None, default: datetime) -> datetime:
    """A timestamp from a datetime, epoch seconds (< 1e11) or ms, or ISO text."""
    if value is None:
        return default
    if isinstance(value, datetime):
        return ensure_utc(value)
    if isinstance(value, bool):
        raise SimulatorError("invalid_argument", "timestamp must be a number or ISO text")
    if isinstance(value, int | float):
        try:
            return from_ms(value if value >= 1e11 else value * 1000)
        except (OverflowError, ValueError, OSError):
            raise SimulatorError("invalid_argument", f"timestamp out of range: {value!r}") from None
    parsed = parse_iso(value) if isinstance(value, str) else None
    if parsed is None:
        raise SimulatorError("invalid_argument", f"not a timestamp: {value!r}")
    return parsed


def media_from(value: Media | Mapping[str, Any] | None) -> Media | None:
    if value is None or isinstance(value, Media):
        return value
    if not isinstance(value, Mapping):
        raise SimulatorError("invalid_argument", "media must be an object")
    mtype = value.get("type")
    if mtype not in _MEDIA_TYPES:
        raise SimulatorError(
            "invalid_argument", f"media.type must be one of {sorted(_MEDIA_TYPES)}"
        )
    fields: dict[str, str | None] = {}
    for key, attr in (
        ("mimetype", "mimetype"),
        ("filename", "filename"),
        ("url", "url"),
        ("thumbBase64", "thumb_base64"),
    ):
        item = value.get(key, value.get(attr))
        if item is not None and not isinstance(item, str):
            raise SimulatorError("invalid_argument", f"media.{key} must be a string")
        fields[attr] = item
    return Media(
        type=mtype,
        mimetype=fields["mimetype"],
        filename=fields["filename"],
        url=fields["url"],
        thumb_base64=fields["thumb_base64"],
    )


def wire_message_from_spec(
    spec: Mapping[str, Any], *, own_jid: str, default_time: datetime | None = None
) -> WireMessage:
    """Build a `WireMessage` from a JSON-like spec (what `/api/simulator/*` bodies carry).

    Keys: `from` (client phone, or a `…@lid` JID) or `chat`; `text`; `id`; `timestamp` (epoch
    seconds or ms, or ISO); `fromMe` (bool); `pushName`; `media` {type, mimetype, filename, url,
    thumbBase64}; `messageType`; `phoneJid` (the phone JID behind a LID chat, if it travels with
    the message). Raises `SimulatorError("invalid_argument", ...)` on anything malformed.
    """
    if not isinstance(spec, Mapping):
        raise SimulatorError("invalid_argument", "a message must be an object")
    who = spec.get("from", spec.get("chat"))
    if not isinstance(who, str) or not who.strip():
        raise SimulatorError("invalid_argument", "message needs 'from' (a phone or a JID)")
    text = spec.get("text", "")
    if not isinstance(text, str):
        raise SimulatorError("invalid_argument", "text must be a string")
    msg_id = spec.get("id") or new_message_id()
    if not isinstance(msg_id, str) or len(msg_id) > 128:
        raise SimulatorError("invalid_argument", "id must be a string of at most 128 chars")
    from_me = spec.get("fromMe", False)
    if not isinstance(from_me, bool):
        raise SimulatorError("invalid_argument", "fromMe must be a boolean")
    push_name = spec.get("pushName")
    if push_name is not None and not isinstance(push_name, str):
        raise SimulatorError("invalid_argument", "pushName must be a string")
    media = media_from(spec.get("media"))
    mtype = cast(MessageType, spec.get("messageType") or (media.type if media else "text"))
    if mtype not in _MESSAGE_TYPES:
        raise SimulatorError(
            "invalid_argument", f"messageType must be one of {sorted(_MESSAGE_TYPES)}"
        )
    chat, pn = chat_and_pn(who)
    alt = spec.get("phoneJid")
    if alt is not None:
        pn = normalize_jid(alt) if isinstance(alt, str) else None
        if pn is None or not pn.endswith("@s.whatsapp.net"):
            raise SimulatorError("invalid_argument", "phoneJid must be a phone JID")
    ts = to_datetime(spec.get("timestamp"), default_time or utc_now())
    return WireMessage(
        id=msg_id,
        chat_jid=chat,
        sender_jid=own_jid if from_me else chat,
        from_me=from_me,
        timestamp=ts,
        text=text,
        message_type=mtype,
        chat_pn_jid=pn if pn != chat else None,
        sender_pn_jid=None if from_me else (pn if pn != chat else None),
        is_group=chat.endswith("@g.us"),
        push_name=push_name,
        media=media,
    )


def chat_and_pn(who: str) -> tuple[str, str | None]:
    """(chat JID as addressed, its phone JID when it is one) for a phone number or any JID."""
    if "@" in who:
        jid = parse_jid(who)
        if jid is None:
            raise SimulatorError("invalid_argument", f"not a JID: {who!r}")
        chat = str(jid.to_non_device())
        return chat, chat if jid.is_phone else None
    chat = phone_jid(require_phone(who, "from"))
    return chat, chat


def with_timestamp(message: WireMessage, ts: datetime) -> WireMessage:
    """A copy of `message` at another time (handy for building history chunks in tests)."""
    return replace(message, timestamp=ensure_utc(ts))
