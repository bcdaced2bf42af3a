"""Pure conversion of neonize (whatsmeow) protobuf events into the transport port's dataclasses.

No client, no network, no clock: callers pass `now` where an event carries a relative time. The
units differ on the wire and are easy to mix up, so they are named here once:

- `MessageEv.Info.Timestamp`: **milliseconds** (neonize encodes `time.UnixMilli()`);
- `ReceiptEv.Timestamp`, `SendResponse.Timestamp`, `WebMessageInfo.messageTimestamp` (history
  sync): **seconds**;
- `TemporaryBanEv.Expire`: a **duration** in seconds, not a date.

Only content a person wrote becomes a `WireMessage`: protocol messages (history-sync
notifications, app-state keys, revokes, edits), bare sender-key distributions, poll votes and
system stubs convert to None.

What a message holds (content type, text, media, download info) is read by
`neonize_content.py`; the kinds' own converters live in `session_daemon/kinds/`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

# neonize loads its Go library on first import and Go reads the environment only then: the
# "AI" badge on outgoing 1:1 messages must be switched off before any neonize import.
os.environ["NEONIZE_BOT_TAG"] = "off"

from google.protobuf.message import Message as ProtoMessage
from neonize.proto import Neonize_pb2 as nz
from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as e2e
from neonize.proto.waHistorySync import WAWebProtobufsHistorySync_pb2 as hs
from neonize.proto.waWeb import WAWebProtobufsWeb_pb2 as web

from session_daemon.kinds import content_from_neonize
from session_daemon.transport.neonize_content import message_content, unwrap, with_download
from session_daemon.transport.port import (
    CallContent,
    ClientOutdated,
    Connected,
    ConnectFailure,
    Content,
    Disconnected,
    HistorySyncChunk,
    KeepAliveRestored,
    KeepAliveTimeout,
    LoggedOut,
    Media,
    MessageReceived,
    MessageType,
    Paired,
    PairFailed,
    PasskeyRequired,
    QrCode,
    ReceiptReceived,
    ReceiptStatus,
    StreamReplaced,
    TemporaryBan,
    TransportEvent,
    UndecryptableContent,
    WireMessage,
)
from shared.jids import GROUP_SERVER, LID_SERVER, PHONE_SERVER, normalize_jid
from shared.timeutil import from_ms, from_seconds

log = logging.getLogger(__name__)
__all__ = [
    "convert_event",
    "convert_history_sync",
    "convert_message",
    "convert_qr",
    "convert_receipt",
    "convert_web_message",
    "jid_proto",
    "jid_str",
]

# ---- JIDs ----------------------------------------------------------------------------------------


def jid_str(jid: nz.JID) -> str | None:
    """`user@server` with device and agent stripped; None for an empty JID."""
    if jid.IsEmpty or not jid.Server or not jid.User:
        return None
    raw = f"{jid.User}@{jid.Server}"
    # Unknown servers (newer WhatsApp address kinds) are kept as written rather than dropped.
    return normalize_jid(raw) or raw.lower()


def jid_proto(jid: str) -> nz.JID | None:
    """The neonize JID of a `user@server` string (device part dropped); None if malformed."""
    normalized = normalize_jid(jid)
    if normalized is None:
        return None
    user, _, server = normalized.partition("@")
    return nz.JID(User=user, Server=server, Device=0, RawAgent=0, Integrator=0, IsEmpty=False)


def _server(jid: str | None) -> str | None:
    return jid.rpartition("@")[2] if jid else None


def _phone_or_none(jid: str | None) -> str | None:
    return jid if _server(jid) == PHONE_SERVER else None


def _wire_time(convert: Callable[[int], datetime], value: int) -> datetime | None:
    """A wire time through `convert` (`from_ms` or `from_seconds`), or None when it is not a
    representable date (a corrupt or out-of-range value)."""
    try:
        return convert(value)
    except (OverflowError, ValueError, OSError):
        return None


def _norm(raw: str) -> str | None:
    if not raw:
        return None
    return normalize_jid(raw) or (raw.lower() if "@" in raw else None)


# ---- messages ------------------------------------------------------------------------------------


def convert_message(ev: nz.Message, *, now: datetime | None = None) -> WireMessage | None:
    """A live MessageEv → WireMessage (timestamp in milliseconds); None when not content.
    A timestamp that is not a representable date falls back to `now` (the receive time), so
    the message is kept; without `now` such a message is None.

    `chat_pn_jid` is the chat's phone JID: the chat itself when phone-addressed; for a LID chat
    the sender's alternative address (incoming) or the recipient's (typed on the linked phone).
    """
    kind = content_from_neonize(unwrap(ev.Message))
    if kind is not None:
        return _wire_from_info(ev.Info, (_kind_type(kind), "", None), now=now, kind=kind)
    content = message_content(ev.Message)
    if content is None:
        return None
    return _wire_from_info(ev.Info, content, now=now, media_message=ev.Message)


_KIND_TYPES: dict[str, MessageType] = {
    "poll": "poll",
    "call": "call",
    "undecryptable": "undecryptable",
    "edit": "edit",
    "revoke": "revoke",
    "reaction": "reaction",
}


def _kind_type(content: Content) -> MessageType:
    from session_daemon.kinds import kind_of

    return _KIND_TYPES.get(kind_of(content).tag, "other")


def _wire_from_info(
    info: Any,
    content: tuple[MessageType, str, Media | None],
    *,
    now: datetime | None,
    kind: Content | None = None,
    media_message: e2e.Message | None = None,
) -> WireMessage | None:
    message_type, text, media = content
    src = info.MessageSource
    chat = jid_str(src.Chat)
    if not info.ID or chat is None:
        return None
    sender = jid_str(src.Sender) or chat
    sender_alt = jid_str(src.SenderAlt)
    is_group = src.IsGroup or _server(chat) == GROUP_SERVER
    chat_pn: str | None = None
    if not is_group:
        if _server(chat) == PHONE_SERVER:
            chat_pn = chat
        elif _server(chat) == LID_SERVER:
            alt = jid_str(src.RecipientAlt) if src.IsFromMe else sender_alt
            chat_pn = _phone_or_none(alt)
    sender_pn = _phone_or_none(sender) or _phone_or_none(sender_alt)
    timestamp = _wire_time(from_ms, info.Timestamp) or now
    if timestamp is None:
        return None
    return WireMessage(
        id=info.ID,
        chat_jid=chat,
        sender_jid=sender,
        from_me=src.IsFromMe,
        timestamp=timestamp,
        text=text,
        message_type=message_type,
        chat_pn_jid=chat_pn,
        sender_pn_jid=sender_pn,
        is_group=is_group,
        push_name=info.Pushname or None,
        media=with_download(media, media_message),
        content=kind,
    )


def convert_undecryptable(ev: Any, *, now: datetime | None = None) -> WireMessage | None:
    """UndecryptableMessage: a placeholder ("waiting for this message"), upgraded in place when
    the phone resends the content under the same id. `DECRYPT_FAIL_HIDE` is whatsmeow saying the
    message would not be shown anyway (reactions, poll votes): nothing to keep."""
    if ev.DecryptFailMode == nz.UndecryptableMessage.DECRYPT_FAIL_HIDE:
        return None
    content = UndecryptableContent()
    return _wire_from_info(ev.Info, ("undecryptable", "", None), now=now, kind=content)


def _call_time(value: int, now: datetime | None) -> datetime | None:
    """A call's timestamp: neonize's unit for calls is not documented, so the magnitude
    decides (milliseconds since 2001 exceed 10^12; seconds stay below 10^11)."""
    if value > 10**11:
        return _wire_time(from_ms, value) or now
    return (_wire_time(from_seconds, value) if value > 0 else None) or now


def convert_call_offer(ev: Any, *, now: datetime | None = None) -> WireMessage | None:
    """CallOffer: the linked device never answers, so the call shows as a missed call in the
    chat (video when the offer carries a `video` node)."""
    meta = ev.basicCallMeta
    chat = jid_str(getattr(meta, "from"))  # `from` is a Python keyword
    if not meta.callID or chat is None:
        return None
    creator = jid_str(meta.callCreator) or chat
    creator_alt = jid_str(meta.callCreatorAlt)
    group = _server(chat) == GROUP_SERVER
    timestamp = _call_time(int(meta.timestamp), now)
    if timestamp is None:
        return None
    video = any(node.Tag == "video" for node in ev.data.Nodes)
    pn = None if group else (_phone_or_none(chat) or _phone_or_none(creator_alt))
    return WireMessage(
        id=str(meta.callID),
        chat_jid=chat,
        sender_jid=creator,
        from_me=False,
        timestamp=timestamp,
        message_type="call",
        chat_pn_jid=pn,
        sender_pn_jid=_phone_or_none(creator) or _phone_or_none(creator_alt),
        is_group=group,
        content=CallContent(video=video, group=group),
    )


def convert_web_message(
    info: web.WebMessageInfo,
    *,
    chat_pn_jid: str | None = None,
    own_jid: str | None = None,
    fallback_time: datetime | None = None,
) -> WireMessage | None:
    """A history-sync WebMessageInfo → WireMessage (timestamp in **seconds**); None if not
    content. `chat_pn_jid` comes from the conversation (pnJID) or the chunk's LID mappings."""
    key = info.key
    chat = _norm(key.remoteJID)
    if not key.ID or chat is None or not info.HasField("message"):
        return None
    kind = content_from_neonize(unwrap(info.message))
    content = (_kind_type(kind), "", None) if kind is not None else message_content(info.message)
    if content is None:
        return None
    message_type, text, media = content
    media = with_download(media, info.message)
    is_group = _server(chat) == GROUP_SERVER
    if key.fromMe:
        sender = own_jid or ""
    elif is_group:
        sender = _norm(key.participant) or _norm(info.participant) or chat
    else:
        sender = chat
    timestamp = _wire_time(from_seconds, info.messageTimestamp) if info.messageTimestamp else None
    timestamp = timestamp or fallback_time
    if timestamp is None:
        return None
    chat_pn = None if is_group else (_phone_or_none(chat) or _phone_or_none(chat_pn_jid))
    sender_pn = _phone_or_none(sender) or (chat_pn if not is_group and not key.fromMe else None)
    return WireMessage(
        id=key.ID,
        chat_jid=chat,
        sender_jid=sender,
        from_me=key.fromMe,
        timestamp=timestamp,
        text=text,
        message_type=message_type,
        chat_pn_jid=chat_pn,
        sender_pn_jid=sender_pn,
        is_group=is_group,
        push_name=info.pushName or None,
        media=media,
        content=kind,
    )


# ---- history sync --------------------------------------------------------------------------------


def _lid_mappings(data: hs.HistorySync) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for entry in data.phoneNumberToLidMappings:
        lid, pn = _norm(entry.lidJID), _norm(entry.pnJID)
        if lid and pn and _server(lid) == LID_SERVER and _server(pn) == PHONE_SERVER:
            mapping[lid] = pn
    for conv in data.conversations:
        chat = _norm(conv.ID)
        lid = _norm(conv.lidJID) if conv.lidJID else (chat if _server(chat) == LID_SERVER else None)
        pn = _norm(conv.pnJID) if conv.pnJID else (chat if _server(chat) == PHONE_SERVER else None)
        if lid and pn and _server(lid) == LID_SERVER and _server(pn) == PHONE_SERVER:
            mapping[lid] = pn
    return mapping


def convert_history_sync(
    account_id: str, ev: nz.HistorySync, *, own_jid: str | None = None
) -> HistorySyncChunk:
    """One history-sync blob → HistorySyncChunk, messages oldest first.

    LID → phone mappings come from `phoneNumberToLidMappings` and from conversations that name
    both addresses (`lidJID`/`pnJID`); LID-addressed messages get `chat_pn_jid` from them.
    """
    data = ev.Data
    lid_to_pn = _lid_mappings(data)
    messages: list[WireMessage] = []
    for conv in data.conversations:
        chat = _norm(conv.ID)
        conv_pn = _phone_or_none(_norm(conv.pnJID)) if conv.pnJID else None
        chat_pn = conv_pn or (lid_to_pn.get(chat) if chat else None)
        for item in conv.messages:
            try:  # one malformed entry must not cost the rest of the chunk
                wire = convert_web_message(item.message, chat_pn_jid=chat_pn, own_jid=own_jid)
            except Exception:
                log.exception("history sync: entry %r of %r skipped", item.message.key.ID, conv.ID)
                continue
            if wire is not None:
                messages.append(wire)
    messages.sort(key=lambda m: m.timestamp)
    push_names: dict[str, str] = {}
    for entry in data.pushnames:
        jid = _norm(entry.ID)
        if jid and entry.pushname:
            push_names[jid] = entry.pushname
    return HistorySyncChunk(
        account_id=account_id,
        messages=tuple(messages),
        lid_to_pn=lid_to_pn,
        push_names=push_names,
        chunk_order=data.chunkOrder,
        progress=data.progress if data.HasField("progress") else None,
    )


# ---- receipts, pairing, connection ---------------------------------------------------------------

_RECEIPT_STATUS: dict[int, ReceiptStatus] = {
    nz.Receipt.DELIVERED: "delivered",
    nz.Receipt.READ: "read",
    nz.Receipt.PLAYED: "played",
}


def convert_receipt(account_id: str, ev: nz.Receipt) -> ReceiptReceived | None:
    """Delivered/read/played receipts of messages we sent (timestamp in seconds); other receipt
    kinds (retry, self-read, server error, ...) → None."""
    status = _RECEIPT_STATUS.get(ev.Type)
    src = ev.MessageSource
    chat = jid_str(src.Chat)
    if status is None or chat is None or not ev.MessageIDs:
        return None
    chat_pn: str | None = None
    if _server(chat) == PHONE_SERVER:
        chat_pn = chat
    elif _server(chat) == LID_SERVER and not src.IsFromMe:
        chat_pn = _phone_or_none(jid_str(src.SenderAlt))
    return ReceiptReceived(
        account_id=account_id,
        message_ids=tuple(ev.MessageIDs),
        chat_jid=chat,
        status=status,
        timestamp=from_seconds(ev.Timestamp),
        chat_pn_jid=chat_pn,
    )


def convert_qr(account_id: str, data: bytes) -> QrCode:
    """The QR callback hands over the raw code (`2@...,...`) as bytes."""
    return QrCode(account_id=account_id, code=data.decode("utf-8", errors="replace").strip())


def _enum_name(enum_type: object, value: int, default: str) -> str:
    try:
        return str(enum_type.Name(value)).lower()  # type: ignore[attr-defined]
    except ValueError:
        return default


def convert_event(
    account_id: str, ev: ProtoMessage, *, now: datetime, own_jid: str | None = None
) -> TransportEvent | None:
    """Any subscribed neonize event → port event; None for what the daemon does not use."""
    if isinstance(ev, nz.Message):
        wire = convert_message(ev, now=now)
        return MessageReceived(account_id, wire) if wire is not None else None
    if isinstance(ev, nz.HistorySync):
        return convert_history_sync(account_id, ev, own_jid=own_jid)
    if isinstance(ev, nz.Receipt):
        return convert_receipt(account_id, ev)
    if isinstance(ev, nz.CallOffer):
        call = convert_call_offer(ev, now=now)
        return MessageReceived(account_id, call) if call is not None else None
    if isinstance(ev, nz.UndecryptableMessage):
        placeholder = convert_undecryptable(ev, now=now)
        return MessageReceived(account_id, placeholder) if placeholder is not None else None
    if isinstance(ev, nz.PairStatus):
        if ev.Status == nz.PairStatus.SUCCESS:
            own = jid_str(ev.ID)
            if own is None:
                return PairFailed(account_id, "pairing succeeded without a device JID")
            return Paired(account_id, own_jid=own)
        if "passkey" in ev.Error.lower():  # whatsmeow names the step when it knows it
            return PasskeyRequired(account_id, detail=ev.Error)
        return PairFailed(account_id, ev.Error or "pairing failed")
    if isinstance(ev, nz.Connected):
        return Connected(account_id)
    if isinstance(ev, nz.Disconnected):
        return Disconnected(account_id)
    if isinstance(ev, nz.LoggedOut):
        reason = _enum_name(nz.ConnectFailureReason, ev.Reason, "unknown")
        return LoggedOut(account_id, reason=reason if ev.HasField("Reason") else "logged_out")
    if isinstance(ev, nz.StreamReplaced):
        return StreamReplaced(account_id)
    if isinstance(ev, nz.TemporaryBan):
        expires = now + timedelta(seconds=ev.Expire) if ev.Expire > 0 else None
        return TemporaryBan(account_id, code=int(ev.Code), expires_at=expires)
    if isinstance(ev, nz.ConnectFailure):
        reason = _enum_name(nz.ConnectFailureReason, ev.Reason, str(int(ev.Reason)))
        return ConnectFailure(account_id, reason=reason, message=ev.Message)
    if isinstance(ev, nz.ClientOutdated):
        return ClientOutdated(account_id)
    if isinstance(ev, nz.KeepAliveTimeout):
        return KeepAliveTimeout(account_id, error_count=int(ev.ErrorCount))
    if isinstance(ev, nz.KeepAliveRestored):
        return KeepAliveRestored(account_id)
    return None
