"""Pure conversion: transport messages → journal records → message documents and thread patches.

No I/O here. The pipeline calls `record_from_wire` when an event arrives (the result is what the
journal stores), and `message_document` / `thread_patch` when it writes to the store, once the
client's phone JID is known (a LID-addressed message may wait for its mapping in between).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from session_daemon.inbound.groups import group_thread_patch
from session_daemon.transport.port import WireMessage
from shared import paths
from shared.ids import thread_id as make_thread_id
from shared.jids import jid_to_e164, parse_jid
from shared.store.sentinels import Increment
from shared.timeutil import from_ms, to_ms

__all__ = [
    "PREVIEW_CHARS",
    "InboundRecord",
    "SkipReason",
    "message_doc_id",
    "message_document",
    "message_path",
    "record_from_wire",
    "thread_id_for",
    "thread_patch",
    "thread_path",
]

PREVIEW_CHARS: Final = 100
RECORD_VERSION: Final = 1  # 0: the first format (no "v"); 1: kinds, groups (issue 12)
Source = Literal["live", "history"]
SkipReason = Literal["group", "status", "broadcast", "newsletter", "invalid", "empty", "reaction"]

_PLACEHOLDERS: Final[dict[str, str]] = {
    "image": "[Imagine]",
    "video": "[Video]",
    "audio": "[Audio]",
    "document": "[Document]",
    "sticker": "[Sticker]",
    "location": "[Locație]",
    "contact": "[Contact]",
}


@dataclass(frozen=True, slots=True)
class InboundRecord:
    """One message as the journal keeps it: enough to build its documents later.

    `addr_jid` is the chat as WhatsApp addressed it (device stripped; a phone JID or a LID);
    `pn_jid` is the chat's phone JID when the message itself told us. Times are epoch ms.
    """

    account_id: str
    wa_id: str
    addr_jid: str
    pn_jid: str | None
    from_me: bool
    ts_ms: int
    text: str
    message_type: str
    push_name: str | None
    media: dict[str, Any] | None
    source: Source
    received_ms: int
    # Since record version 1 (absent from version 0 records, which read as the defaults):
    content: Any = None  # a kind's typed content (session_daemon.kinds), None for text/media
    is_group: bool = False
    group_subject: str | None = None
    sender_jid: str | None = None  # in a group: the participant who wrote (phone JID if known)

    def to_json(self) -> dict[str, Any]:
        from session_daemon.kinds import content_to_json

        return {
            "v": RECORD_VERSION,
            "k": content_to_json(self.content) if self.content is not None else None,
            "g": self.is_group,
            "gs": self.group_subject,
            "sj": self.sender_jid,
            "a": self.account_id,
            "i": self.wa_id,
            "c": self.addr_jid,
            "p": self.pn_jid,
            "f": self.from_me,
            "t": self.ts_ms,
            "x": self.text,
            "y": self.message_type,
            "n": self.push_name,
            "m": self.media,
            "s": self.source,
            "r": self.received_ms,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> InboundRecord:
        """Reads every record version written so far: a field added later is absent from
        older records and takes its default, so an old journal replays after an upgrade."""
        from session_daemon.kinds import content_from_json

        version = raw.get("v", 0)
        if not isinstance(version, int) or version < 0 or version > RECORD_VERSION:
            # a newer daemon's record: left in the journal for that daemon, never guessed at
            raise ValueError(f"journal record version {version!r} is not readable here")
        extra: dict[str, Any] = {}
        if version >= 1:
            kind = raw.get("k")
            extra = {
                "content": content_from_json(kind) if kind is not None else None,
                "is_group": bool(raw.get("g")),
                "group_subject": raw.get("gs"),
                "sender_jid": raw.get("sj"),
            }
        return cls(
            **extra,
            account_id=raw["a"],
            wa_id=raw["i"],
            addr_jid=raw["c"],
            pn_jid=raw["p"],
            from_me=bool(raw["f"]),
            ts_ms=int(raw["t"]),
            text=raw["x"],
            message_type=raw["y"],
            push_name=raw["n"],
            media=raw["m"],
            source=raw["s"],
            received_ms=int(raw["r"]),
        )

    @property
    def is_lid(self) -> bool:
        return self.addr_jid.endswith("@lid")


def _skip_reason_for_chat(raw_chat: str, is_group: bool) -> tuple[str | None, SkipReason | None]:
    jid = parse_jid(raw_chat)
    if jid is None:
        return None, "invalid"
    if jid.is_group:  # mirrored since issue 12: the group JID is the thread's clientJid
        return str(jid.to_non_device()), None
    if is_group:
        return None, "group"  # a group message whose chat is not a group JID: not mirrored
    if jid.is_status:
        return None, "status"
    if jid.is_broadcast:
        return None, "broadcast"
    if jid.is_newsletter:
        return None, "newsletter"
    if not jid.is_user:
        return None, "invalid"
    return str(jid.to_non_device()), None


def _clean(text: str | None) -> str | None:
    """Text that SQLite and Firestore accept: lone surrogates (broken UTF-16 from a client)
    become U+FFFD instead of failing the journal write of every event committed with it."""
    if text is None:
        return None
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _user_jid_or_none(raw: str | None) -> str | None:
    if not raw:
        return None
    jid = parse_jid(raw)
    return str(jid.to_non_device()) if jid is not None and jid.is_user else None


def _phone_jid_or_none(raw: str | None) -> str | None:
    if not raw:
        return None
    jid = parse_jid(raw)
    return str(jid.to_non_device()) if jid is not None and jid.is_phone else None


def record_from_wire(
    account_id: str,
    wire: WireMessage,
    *,
    source: Source,
    received_ms: int,
    push_names: Mapping[str, str] | None = None,
) -> InboundRecord | SkipReason:
    """The journal record of a message, or why it is not mirrored as a client message.

    Groups, status updates, broadcast lists and newsletters are not client threads; reactions
    and empty protocol messages are not messages the app can show.
    """
    addr, reason = _skip_reason_for_chat(wire.chat_jid, wire.is_group)
    if reason is not None or addr is None:
        return reason or "invalid"
    is_group = addr.endswith("@g.us")
    if wire.message_type == "reaction" and wire.content is None:
        return "reaction"  # a reaction without its target: nothing to attach it to
    empty_kinds = ("text", "other")
    if (
        not wire.text
        and wire.media is None
        and wire.content is None
        and (wire.message_type in empty_kinds)
    ):
        return "empty"
    if not wire.id:
        return "invalid"
    sender = None
    if is_group:
        pn: str | None = addr  # a group thread is keyed by the group JID itself
        sender = _phone_jid_or_none(wire.sender_pn_jid) or _user_jid_or_none(wire.sender_jid)
    else:
        pn = addr if addr.endswith("@s.whatsapp.net") else _phone_jid_or_none(wire.chat_pn_jid)
        if pn is None and not wire.from_me:
            pn = _phone_jid_or_none(wire.sender_pn_jid)
    name = _clean(wire.push_name)
    if not name and push_names and not wire.from_me:
        key = sender if is_group else addr
        name = (push_names.get(key) if key else None) or (
            push_names.get(pn) if pn and not is_group else None
        )
    media = None
    if wire.media is not None:
        media = {
            "type": wire.media.type,
            "url": _clean(wire.media.url),
            "mimetype": _clean(wire.media.mimetype),
            "filename": _clean(wire.media.filename),
            "thumbBase64": _clean(wire.media.thumb_base64),
            "sizeBytes": wire.media.size_bytes,
            "sha256": _clean(wire.media.sha256),
            "voice": wire.media.voice,
            "download": wire.media.download,
        }
    return InboundRecord(
        content=wire.content,
        is_group=is_group,
        group_subject=_clean(wire.group_subject) if is_group else None,
        sender_jid=sender,
        account_id=account_id,
        wa_id=_clean(wire.id) or "",
        addr_jid=addr,
        pn_jid=pn,
        from_me=wire.from_me,
        ts_ms=to_ms(wire.timestamp),
        text=_clean(wire.text) or "",
        message_type=wire.message_type,
        push_name=_clean(name) or None,
        media=media,
        source=source,
        received_ms=received_ms,
    )


# ---- documents ----------------------------------------------------------------------------------


def message_doc_id(wa_id: str) -> str:
    """A document id for a WhatsApp message id: itself when it is plain (the usual `3EB0…` hex),
    else a stable hash, so any id is a valid, unique path segment."""
    return paths.safe_doc_id(wa_id)


def thread_path(thread_id: str) -> str:
    return paths.thread_path(thread_id)


def message_path(thread_id: str, wa_id: str) -> str:
    return paths.message_path(thread_id, message_doc_id(wa_id))


def thread_id_for(account_id: str, client_jid: str) -> str:
    return make_thread_id(account_id, client_jid)


def _kind_fields(record: InboundRecord) -> dict[str, Any]:
    """The document fields of a message kind (poll, call, placeholder); {} for text/media."""
    if record.content is None:
        return {}
    from session_daemon.kinds import kind_of

    kind = kind_of(record.content)
    return kind.fields(record.content) if kind.fields is not None else {}


def _media_map(media: Mapping[str, Any]) -> dict[str, Any]:
    """The document's `media`: the journal's map without the download handle, with its status
    (`pending` until the download job stores the file; a link given by the transport is
    `stored`; nothing to download from is `failed` with the reason, never a silent null)."""
    from session_daemon.media.fields import REASON_TEXT, pending_fields

    doc = pending_fields(
        str(media.get("type")),
        mimetype=media.get("mimetype"),
        filename=media.get("filename"),
        thumb_base64=media.get("thumbBase64"),
        size_bytes=media.get("sizeBytes"),
        sha256=media.get("sha256"),
    )
    if media.get("voice"):
        doc["voice"] = True
    if media.get("url"):
        doc.update({"url": media["url"], "status": "stored"})
    elif not media.get("download"):
        doc.update(
            {
                "status": "failed",
                "reason": "no_download_info",
                "reasonText": REASON_TEXT["no_download_info"],
            }
        )
    return doc


def shown_text(record: InboundRecord) -> str:
    """What the inbox shows for a message: its text, a kind's body, or a media placeholder."""
    return _shown_text(record)


def _shown_text(record: InboundRecord) -> str:
    if record.text:
        return record.text
    body = _kind_fields(record).get("body")
    if isinstance(body, str) and body:
        return body
    kind = record.media["type"] if record.media else record.message_type
    return _PLACEHOLDERS.get(kind, "[Mesaj]")


def message_document(record: InboundRecord, client_jid: str) -> dict[str, Any]:
    """`threads/{threadId}/messages/{id}` exactly as CONTRACT.md section 4 lists it.

    `createdAt` is the message's own time (the app sorts by `createdAtMs`, so a history message
    must sort where it was written, not where it was synced); `tsServer` is when we received it.
    """
    ts = from_ms(record.ts_ms)
    doc: dict[str, Any] = {
        "accountId": record.account_id,
        "clientJid": client_jid,
        "direction": "outbound" if record.from_me else "inbound",
        "body": record.text,
        "status": "sent" if record.from_me else "delivered",
        "tsClient": ts,
        "tsClientMs": record.ts_ms,
        "createdAt": ts,
        "createdAtMs": record.ts_ms,
        "tsServer": from_ms(record.received_ms),
        "messageType": record.message_type,
        "waMessageId": record.wa_id,
        "providerMessageId": record.wa_id,
        "senderName": record.push_name,
        "clientMessageId": None,  # only the app's own sends carry one
        "media": _media_map(record.media) if record.media is not None else None,
    }
    if record.is_group:
        doc["senderJid"] = None if record.from_me else record.sender_jid
    doc.update(_kind_fields(record))
    return doc


def _last_message_ms(thread: Mapping[str, Any]) -> int | None:
    """The thread's last-message time; older documents may carry only the Timestamp."""
    ms = thread.get("lastMessageAtMs")
    if isinstance(ms, int) and not isinstance(ms, bool):
        return ms
    at = thread.get("lastMessageAt")
    return to_ms(at) if isinstance(at, datetime) else None


def _newest(records: Sequence[InboundRecord]) -> InboundRecord:
    return max(records, key=lambda r: r.ts_ms)


def thread_patch(
    existing: Mapping[str, Any] | None,
    account_id: str,
    client_jid: str,
    new_records: Sequence[InboundRecord],
    now: datetime,
) -> dict[str, Any] | None:
    """The one `set(merge=True)` for a thread after a flush created `new_records` in it; None
    when nothing would change.

    The summary only moves forward: an older (history) message never replaces a newer last
    message. `unreadCount` grows by the live inbound messages; a live message typed by the owner
    that becomes the last message means the chat was read on the phone (reset). `displayName` is
    the client's push name (never message text); a new thread without one shows the number.

    `createdAt`/`updatedAt` are the flush time `now`, not server timestamps: at most one
    transform (the `unreadCount` Increment) per write, which every Firestore backend applies
    (the npm emulator keeps only the first transform of a write).
    """
    if not new_records:
        return None
    patch: dict[str, Any] = {}
    group = client_jid.endswith("@g.us")
    phone = None if group else jid_to_e164(client_jid)
    current = existing or {}
    if existing is None:
        patch.update(
            {
                "accountId": account_id,
                "clientJid": client_jid,
                "normalizedPhone": phone,
                "phoneE164": phone,
                "createdAt": now,
                # Present from the start (the app reads them on every thread): no picture
                # yet, no owner until the first send, no co-writers.
                "profilePictureUrl": None,
                "ownerUid": None,
                "coWriterUids": [],
            }
        )
    if group:
        # A group is named by its subject, never by whoever wrote last; no phone fields.
        subjects = [r.group_subject for r in sorted(new_records, key=lambda r: r.ts_ms)]
        known = [s for s in subjects if s]
        patch.update(group_thread_patch(existing, client_jid, known[-1] if known else None) or {})
        patch.pop("clientJid", None)
    else:
        names = [
            r for r in sorted(new_records, key=lambda r: r.ts_ms) if not r.from_me and r.push_name
        ]
        name = names[-1].push_name if names else None
        if name and name != current.get("displayName"):
            patch["displayName"] = name
        elif existing is None or not current.get("displayName"):
            patch["displayName"] = phone or client_jid

    newest = _newest(new_records)
    current_ms = _last_message_ms(current)
    moves = current_ms is None or newest.ts_ms >= current_ms
    live_inbound = [r for r in new_records if r.source == "live" and not r.from_me]
    if moves:
        shown = _shown_text(newest)
        patch.update(
            {
                "lastMessageAt": from_ms(newest.ts_ms),
                "lastMessageAtMs": newest.ts_ms,
                "lastMessageText": shown[:PREVIEW_CHARS],
                "lastMessagePreview": shown[:PREVIEW_CHARS],
                "lastMessageDirection": "outbound" if newest.from_me else "inbound",
                "lastMessageSenderName": newest.push_name,
                "lastMessageId": message_doc_id(newest.wa_id),
                "lastMessageStatus": "sent" if newest.from_me else "delivered",
            }
        )
    if moves and newest.from_me and newest.source == "live":
        patch["unreadCount"] = sum(1 for r in live_inbound if r.ts_ms > newest.ts_ms)
    elif live_inbound:
        patch["unreadCount"] = Increment(len(live_inbound))
    elif existing is None:
        patch["unreadCount"] = 0
    if not patch:
        return None
    for key, value in (("accountId", account_id), ("clientJid", client_jid)):
        if current.get(key) != value:
            patch[key] = value
    if phone and current.get("normalizedPhone") != phone:
        patch["normalizedPhone"] = phone
        patch["phoneE164"] = phone
    patch["updatedAt"] = now
    return patch
