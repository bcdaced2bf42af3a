"""Cloud API events → the transport port's events. Pure.

This is the seam that lets the inbound pipeline (journal, dedup by message id, threads, receipts,
auto-reply, CRM) take Cloud API accounts unchanged: a client message becomes `MessageReceived`,
an echo typed in the Business app a from-me `MessageReceived` (a phone-typed outbound message),
history items a `HistorySyncChunk`, and `delivered`/`read`/`played` statuses `ReceiptReceived`.

What the port cannot say yet stays in the typed event for the caller: `failed` statuses (see
`statuses.status_patch`), reactions, replies and locations in detail (the media/fidelity port),
and the identity changes a `system` message carries (its text is kept as a message).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from session_daemon.cloud_api.graph import sha256_b64_to_hex
from session_daemon.cloud_api.model import CloudMessage, CloudStatus
from session_daemon.transport.port import (
    HistorySyncChunk,
    Media,
    MediaType,
    MessageReceived,
    MessageType,
    ReceiptReceived,
    TransportEvent,
    WireMessage,
)
from shared.timeutil import from_ms

__all__ = ["UNSUPPORTED_TEXT", "receipt_event", "to_transport_events", "wire_message"]

UNSUPPORTED_TEXT: Final = "[Mesaj pe care WhatsApp Cloud API nu îl poate arăta]"
_TYPES: Final[dict[str, MessageType]] = {
    "text": "text",
    "image": "image",
    "video": "video",
    "audio": "audio",
    "document": "document",
    "sticker": "sticker",
    "location": "location",
    "contacts": "contact",
    "reaction": "reaction",
    # a button or list choice is what the client answered: shown as their text
    "interactive": "text",
    "button": "text",
}
_MEDIA_TYPES: Final[dict[str, MediaType]] = {
    "image": "image",
    "video": "video",
    "audio": "audio",
    "document": "document",
    "sticker": "image",
}


def wire_message(msg: CloudMessage, *, own_jid: str = "") -> WireMessage:
    chat = msg.client.client_jid
    media = None
    if msg.media is not None:
        ref = msg.media
        media = Media(
            type=_MEDIA_TYPES.get(ref.kind, "document"),
            mimetype=ref.mime_type,
            filename=ref.filename,
            # filled once the file is downloaded into the media store (the daemon's media
            # service fetches `cloud:<media id>` through the Graph API at once: ids expire)
            url=None,
            sha256=sha256_b64_to_hex(ref.sha256_b64) if ref.sha256_b64 else None,
            voice=ref.voice,
            download=f"cloud:{ref.media_id}" if ref.media_id else None,
        )
    text = msg.text
    if not text and media is None and msg.meta_type not in ("reaction", "request_welcome"):
        text = UNSUPPORTED_TEXT  # something arrived: the app hides an empty, media-less message
    outbound = msg.direction == "outbound"
    return WireMessage(
        id=msg.wamid,
        chat_jid=chat,
        sender_jid=own_jid if outbound else chat,
        from_me=outbound,
        timestamp=from_ms(msg.ts_ms),
        text=text,
        message_type=_TYPES.get(msg.meta_type, "other"),
        chat_pn_jid=msg.client.pn_jid,
        sender_pn_jid=None if outbound else msg.client.pn_jid,
        push_name=None if outbound else (msg.client.profile_name or msg.client.username),
        media=media,
    )


def receipt_event(account_id: str, status: CloudStatus) -> ReceiptReceived | None:
    """`delivered`/`read`/`played` as a receipt; `sent` is recorded by the send itself and
    `failed` needs `status_patch`, so both give None."""
    if status.status not in ("delivered", "read", "played"):
        return None
    return ReceiptReceived(
        account_id=account_id,
        message_ids=(status.message_id,),
        chat_jid=status.recipient.client_jid
        if status.recipient.known
        else "",  # a failed-to-phone status may name nobody: found by message id alone
        status=status.status,
        timestamp=from_ms(status.ts_ms),
        chat_pn_jid=status.recipient.pn_jid,
    )


def to_transport_events(
    account_id: str, messages: Iterable[CloudMessage], statuses: Iterable[CloudStatus] = ()
) -> list[TransportEvent]:
    out: list[TransportEvent] = []
    history: list[WireMessage] = []
    for msg in messages:
        wire = wire_message(msg)
        if msg.origin == "history":
            history.append(wire)
        else:
            out.append(MessageReceived(account_id, wire))
    if history:
        out.append(HistorySyncChunk(account_id, tuple(history)))
    for status in statuses:
        receipt = receipt_event(account_id, status)
        if receipt is not None:
            out.append(receipt)
    return out
