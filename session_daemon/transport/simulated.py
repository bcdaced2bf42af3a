"""`SimulatedTransport`: a phone network in memory that behaves like WhatsApp for the daemon.

The daemon side is the `WhatsAppTransport` port. The other side is a set of *control* methods
that play the phones (the linked phone of each account and every client phone):

- pairing: `start_session` of an unpaired session emits a `QrCode` at once and then every
  `qr_interval` seconds until `pair()` (the phone scans) or `qr_timeout` (→ `QrTimeout`);
  `request_pairing_code` + `pair_with_code` is the phone-code path;
- sessions persist in the session db file (a small JSON marker written atomically), so a new
  transport instance (a restarted daemon) resumes a paired session without a QR;
- `deliver_message` (a client writes; by phone JID or LID), `type_on_phone` (the owner types on
  the linked phone: a from-me message), `history_sync` (chunks with LID mappings and push names);
- receipts: a `delivered` receipt follows every send automatically; `read()` and `receipt()` emit
  more (duplicates and any order allowed, like the real network);
- `disconnect` / `reconnect`, `logout` (the phone unlinks the device), `ban` (temporary ban),
  `stream_replace`, failure switches for sends and connects;
- `received_by(phone)` records what each client phone received, so outbound tests can check
  exactly-once delivery.

Threading: every control method is synchronous and thread-safe. Events reach the session's sink on
the calling thread (QR codes and automatic receipts on timer threads), never while a lock is held.
Delivering a message blocks until the sink returned (the daemon journalled it), like an
acknowledgement; from async code use the `a*` wrappers (`adeliver_message`, ...), which run the
call in a worker thread so the event loop is never blocked.

Messages sent to a session that is known but not connected are queued "on the server" and
delivered when it connects again (as WhatsApp does); `deliver_message` then returns the id at once.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal, NamedTuple, ParamSpec, TypeVar, cast

from session_daemon.session_import.model import ImportAction, ImportedSession
from session_daemon.transport.port import (
    Connected,
    Disconnected,
    EventSink,
    HistorySyncChunk,
    LoggedOut,
    Media,
    MessageReceived,
    MessageType,
    NotConnected,
    Paired,
    PairingCode,
    QrCode,
    QrTimeout,
    ReceiptReceived,
    ReceiptStatus,
    SendResult,
    StreamReplaced,
    TemporaryBan,
    TransportError,
    TransportEvent,
    WireMessage,
)
from shared.jids import jid_to_e164, normalize_jid, parse_jid, phone_jid
from shared.phones import to_e164_lenient
from shared.timeutil import ensure_utc, from_ms, parse_iso, to_ms, utc_now

__all__ = [
    "ReceivedMessage",
    "SimulatedTransport",
    "SimulatorError",
    "lid_for_phone",
    "wire_message_from_spec",
]

P = ParamSpec("P")
R = TypeVar("R")

SESSION_FORMAT = "superparty-simulated-session/1"
_PAIRING_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTVWXYZ"  # whatsmeow's pairing-code alphabet
_MESSAGE_TYPES: frozenset[str] = frozenset(
    ("text", "image", "video", "audio", "document", "sticker", "location", "contact",
     "reaction", "other")
)  # fmt: skip
_MEDIA_TYPES: frozenset[str] = frozenset(("image", "video", "audio", "document"))

SendFailure = Literal["retryable", "permanent"]
_SERVER_HELD = (MessageReceived, HistorySyncChunk, ReceiptReceived)
SessionState = Literal["pairing", "connected", "disconnected", "logged_out", "banned", "stopped"]


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


@dataclass
class _Session:
    account_id: str
    session_db: Path
    sink: EventSink
    state: SessionState = "stopped"
    paired: bool = False
    own_jid: str | None = None
    push_name: str | None = None
    lid_map: dict[str, str] = field(default_factory=dict)  # lid jid -> phone jid
    banned_until: datetime | None = None
    qr_stop: threading.Event | None = None
    pairing_code: str | None = None
    pairing_phone: str | None = None
    last_qr: str | None = None
    offline_queue: list[TransportEvent] = field(default_factory=list)
    history: list[WireMessage] = field(default_factory=list)  # what the linked phone holds


def new_message_id() -> str:
    """An id shaped like the ones WhatsApp clients make (`3EB0` + 16 upper hex)."""
    return "3EB0" + secrets.token_hex(8).upper()


def lid_for_phone(phone: str) -> str:
    """The (stable, made-up) LID of a client phone in this simulated network."""
    e164 = to_e164_lenient(phone) or phone
    digest = hashlib.sha256(e164.encode()).hexdigest()
    return f"{int(digest[:12], 16) % 10**14 + 10**14}@lid"


def _random_b64(n: int) -> str:
    return base64.b64encode(os.urandom(n)).decode()


def _qr_payload() -> str:
    # Same shape as whatsmeow's: ref,noisePub,identityPub,advSecret
    return ",".join(("2@" + _random_b64(18), _random_b64(32), _random_b64(32), _random_b64(32)))


def _default_own_phone(account_id: str) -> str:
    digest = int(hashlib.sha256(account_id.encode()).hexdigest()[:8], 16)
    return f"+407{digest % 10**8:08d}"


def _require_phone(raw: str, what: str) -> str:
    e164 = to_e164_lenient(raw)
    if e164 is None:
        raise SimulatorError("invalid_argument", f"{what} is not a phone number: {raw!r}")
    return e164


def _to_datetime(value: datetime | int | float | str | None, default: datetime) -> datetime:
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


def _media_from(value: Media | Mapping[str, Any] | None) -> Media | None:
    if value is None or isinstance(value, Media):
        return value
    if not isinstance(value, Mapping):
        raise SimulatorError("invalid_argument", "media must be an object")
    mtype = value.get("type")
    if mtype not in _MEDIA_TYPES:
        raise SimulatorError(
            "invalid_argument", f"media.type must be one of {sorted(_MEDIA_TYPES)}"
        )
    fields = {}
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
    return Media(type=mtype, **fields)


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
    media = _media_from(spec.get("media"))
    mtype = cast(MessageType, spec.get("messageType") or (media.type if media else "text"))
    if mtype not in _MESSAGE_TYPES:
        raise SimulatorError(
            "invalid_argument", f"messageType must be one of {sorted(_MESSAGE_TYPES)}"
        )
    chat, pn = _chat_and_pn(who)
    alt = spec.get("phoneJid")
    if alt is not None:
        pn = normalize_jid(alt) if isinstance(alt, str) else None
        if pn is None or not pn.endswith("@s.whatsapp.net"):
            raise SimulatorError("invalid_argument", "phoneJid must be a phone JID")
    ts = _to_datetime(spec.get("timestamp"), default_time or utc_now())
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


def _chat_and_pn(who: str) -> tuple[str, str | None]:
    """(chat JID as addressed, its phone JID when it is one) for a phone number or any JID."""
    if "@" in who:
        jid = parse_jid(who)
        if jid is None:
            raise SimulatorError("invalid_argument", f"not a JID: {who!r}")
        chat = str(jid.to_non_device())
        return chat, chat if jid.is_phone else None
    chat = phone_jid(_require_phone(who, "from"))
    return chat, chat


class SimulatedTransport:
    """See the module docstring. One instance serves every account, like the real adapter."""

    def __init__(
        self,
        *,
        qr_interval: float = 20.0,
        qr_timeout: float = 160.0,
        receipt_delay: float = 0.02,
        auto_delivered: bool = True,
        history_limit: int = 5000,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.qr_interval = qr_interval
        self.qr_timeout = qr_timeout
        self.receipt_delay = receipt_delay
        self.auto_delivered = auto_delivered
        self.history_limit = history_limit
        self._clock = clock
        self._lock = threading.RLock()
        self._sessions: dict[str, _Session] = {}
        self._received: dict[str, list[ReceivedMessage]] = {}
        self._send_failure: SendFailure | None = None
        self._send_failures_left: int | None = None
        self._connect_failures: dict[str, int] = {}
        self._timers: set[threading.Timer] = set()
        self._closed = False
        self.sent_count = 0

    # ==== the port ===============================================================================

    async def start_session(self, account_id: str, session_db: Path, sink: EventSink) -> None:
        with self._lock:
            self._closed = False  # a start after close() reopens the network
            left = self._connect_failures.get(account_id, 0)
            if left:
                self._connect_failures[account_id] = left - 1
                raise TransportError("simulated connect failure", retryable=True)
            old = self._sessions.get(account_id)
            if old is not None:
                self._stop_qr(old)
            session = _Session(account_id, Path(session_db), sink)
            if old is not None:  # the server-side queue and phone memory survive a restart
                session.offline_queue = old.offline_queue
                session.history = old.history
            self._load(session)
            self._sessions[account_id] = session
        await asyncio.to_thread(self._connect, session)

    async def stop_session(self, account_id: str, *, logout: bool = False) -> None:
        with self._lock:
            session = self._sessions.get(account_id)
            if session is None:
                return
            self._stop_qr(session)
            if logout:
                self._unlink(session)
            elif session.state != "logged_out":
                session.state = "stopped"

    async def request_pairing_code(self, account_id: str, phone_e164: str) -> str:
        phone = to_e164_lenient(phone_e164)
        if phone is None:
            raise TransportError(f"not a phone number: {phone_e164!r}", retryable=False)
        with self._lock:
            session = self._sessions.get(account_id)
            if session is None or session.state != "pairing":
                raise TransportError("the session is not showing QR codes", retryable=False)
            code = "".join(secrets.choice(_PAIRING_ALPHABET) for _ in range(8))
            session.pairing_code, session.pairing_phone = code, phone
            sink = session.sink
        sink(PairingCode(account_id, code))
        return code

    async def send_text(self, account_id: str, to_jid: str, text: str) -> SendResult:
        return await asyncio.to_thread(self.send_text_sync, account_id, to_jid, text)

    async def send_presence(self, account_id: str, to_jid: str, composing: bool) -> None:
        with self._lock:
            self._connected_session(account_id)

    async def request_history(self, account_id: str, chat_jid: str, count: int) -> None:
        with self._lock:
            session = self._connected_session(account_id)
            chat = normalize_jid(chat_jid) or chat_jid
            older = [m for m in session.history if m.chat_jid == chat or m.chat_pn_jid == chat]
            picked = tuple(sorted(older, key=lambda m: m.timestamp)[-count:] if count > 0 else ())
        # The phone answers a moment later, on its own thread, like an on-demand history sync.
        self._later(0.0, lambda: self._emit_if_connected(
            account_id, HistorySyncChunk(account_id, picked, chunk_order=0)
        ))  # fmt: skip

    def is_connected(self, account_id: str) -> bool:
        with self._lock:
            session = self._sessions.get(account_id)
            return session is not None and session.state == "connected"

    def pn_for_lid(self, account_id: str, lid_jid: str) -> str | None:
        lid = normalize_jid(lid_jid)
        with self._lock:
            session = self._sessions.get(account_id)
            return session.lid_map.get(lid) if session is not None and lid else None

    async def close(self) -> None:
        with self._lock:
            self._closed = True
            for session in self._sessions.values():
                self._stop_qr(session)
                if session.state != "logged_out":
                    session.state = "stopped"
            timers = list(self._timers)
        for timer in timers:
            timer.cancel()

    async def import_session(
        self,
        account_id: str,
        session_db: Path,
        session: ImportedSession,
        *,
        force: bool = False,
        dry_run: bool = False,
    ) -> ImportAction:
        """The simulated import path: the device becomes this transport's session marker."""
        from session_daemon.session_import.simulated_marker import import_marker

        with self._lock:
            running = self._sessions.get(account_id)
            if running is not None and running.state not in ("stopped", "logged_out"):
                raise TransportError(f"{account_id} has a running session", retryable=False)
        return await asyncio.to_thread(
            import_marker, Path(session_db), session, SESSION_FORMAT, force=force, dry_run=dry_run
        )

    # ==== the linked phone: pairing ==============================================================

    def pair(
        self, account_id: str, phone_e164: str | None = None, push_name: str | None = None
    ) -> str:
        """The owner scans the QR with the phone `phone_e164`. Returns the linked JID."""
        phone = (
            _require_phone(phone_e164, "phone") if phone_e164 else _default_own_phone(account_id)
        )
        with self._lock:
            session = self._require(account_id)
            if session.state != "pairing":
                raise SimulatorError("not_pairing", f"{account_id} is not waiting for a QR scan")
            own, events = self._complete_pairing(session, phone, push_name)
        self._hand_over(session, events)
        return own

    def pair_with_code(self, account_id: str, code: str, push_name: str | None = None) -> str:
        """The owner types the phone pairing code on the phone."""
        with self._lock:
            session = self._require(account_id)
            if session.state != "pairing" or session.pairing_code is None:
                raise SimulatorError("not_pairing", f"{account_id} has no pending pairing code")
            if code.replace("-", "").upper() != session.pairing_code:
                raise SimulatorError("bad_pairing_code", "the pairing code does not match")
            assert session.pairing_phone is not None
            own, events = self._complete_pairing(session, session.pairing_phone, push_name)
        self._hand_over(session, events)
        return own

    def current_qr(self, account_id: str) -> str | None:
        with self._lock:
            session = self._sessions.get(account_id)
            return session.last_qr if session else None

    def session_state(self, account_id: str) -> str | None:
        """`pairing`, `connected`, `disconnected`, `logged_out`, `banned`, `stopped`, or None."""
        with self._lock:
            session = self._sessions.get(account_id)
            return session.state if session else None

    def own_jid(self, account_id: str) -> str | None:
        with self._lock:
            session = self._sessions.get(account_id)
            return session.own_jid if session else None

    # ==== client phones and the linked phone: messages ===========================================

    def deliver_message(
        self,
        account_id: str,
        sender: str,
        text: str = "",
        *,
        media: Media | Mapping[str, Any] | None = None,
        push_name: str | None = None,
        msg_id: str | None = None,
        timestamp: datetime | int | float | str | None = None,
        via_lid: bool = False,
        lid: str | None = None,
        message_type: MessageType | None = None,
    ) -> str:
        """A client writes to the account. `sender` is the client's phone (any format) or a LID
        JID. With `via_lid`, a phone sender's message arrives addressed by its LID (`lid`, or a
        stable made-up one) with the phone JID alongside (SenderAlt), and the session learns the
        mapping. A bare LID sender carries a phone JID only if the session already knows it.
        Returns the message id once the daemon acknowledged it (or at once when the session is
        offline: the message then waits on the server until it reconnects)."""
        with self._lock:
            session = self._require(account_id)
            chat, pn = self._address(session, sender, via_lid=via_lid, lid=lid)
        ts = _to_datetime(timestamp, self._now())
        media_obj = _media_from(media)
        mtype = message_type or (media_obj.type if media_obj else "text")
        message = WireMessage(
            id=msg_id or new_message_id(),
            chat_jid=chat,
            sender_jid=chat,
            from_me=False,
            timestamp=ts,
            text=text,
            message_type=mtype,
            chat_pn_jid=pn if pn != chat else None,
            sender_pn_jid=pn if pn != chat else None,
            is_group=chat.endswith("@g.us"),
            push_name=push_name,
            media=media_obj,
        )
        self._deliver(account_id, MessageReceived(account_id, message), [message])
        return message.id

    def type_on_phone(
        self,
        account_id: str,
        to_phone: str,
        text: str,
        *,
        msg_id: str | None = None,
        timestamp: datetime | int | float | str | None = None,
        via_lid: bool = False,
    ) -> str:
        """The owner types a message on the linked phone: the client receives it and the daemon
        sees a from-me message. Returns its id."""
        with self._lock:
            session = self._require(account_id)
            if session.own_jid is None:
                raise SimulatorError("not_connected", f"{account_id} is not paired")
            chat, pn = self._address(session, to_phone, via_lid=via_lid, lid=None)
            own, own_name = session.own_jid, session.push_name
        message = WireMessage(
            id=msg_id or new_message_id(),
            chat_jid=chat,
            sender_jid=own,
            from_me=True,
            timestamp=_to_datetime(timestamp, self._now()),
            text=text,
            chat_pn_jid=pn if pn != chat else None,
            push_name=own_name,
        )
        self._record_received(account_id, pn or chat, text, message.id)
        self._deliver(account_id, MessageReceived(account_id, message), [message])
        return message.id

    def history_sync(
        self,
        account_id: str,
        messages: Iterable[WireMessage | Mapping[str, Any]] = (),
        lid_mappings: Mapping[str, str] | None = None,
        push_names: Mapping[str, str] | None = None,
        *,
        chunk_order: int = 0,
        progress: int | None = None,
    ) -> int:
        """The linked phone sends a history-sync chunk. Messages may be `WireMessage`s or specs
        (see `wire_message_from_spec`); mappings are `lid → phone` (JIDs or phone numbers).
        Returns the number of messages sent once the daemon acknowledged the chunk."""
        with self._lock:
            session = self._require(account_id)
            own = session.own_jid or phone_jid(_default_own_phone(account_id))
        wires = tuple(
            m if isinstance(m, WireMessage) else wire_message_from_spec(m, own_jid=own)
            for m in messages
        )
        mapping: dict[str, str] = {}
        for raw_lid, raw_pn in (lid_mappings or {}).items():
            lid_jid = normalize_jid(raw_lid)
            if lid_jid is None or not lid_jid.endswith("@lid"):
                raise SimulatorError("invalid_argument", f"not a LID: {raw_lid!r}")
            mapping[lid_jid] = self._phone_jid_of(raw_pn)
        names: dict[str, str] = {}
        for raw_jid, name in (push_names or {}).items():
            if not isinstance(raw_jid, str):
                raise SimulatorError("invalid_argument", f"bad push name key {raw_jid!r}")
            jid = normalize_jid(raw_jid) if "@" in raw_jid else self._phone_jid_of(raw_jid)
            if jid is None or not isinstance(name, str):
                raise SimulatorError("invalid_argument", f"bad push name entry for {raw_jid!r}")
            names[jid] = name
        with self._lock:
            session.lid_map.update(mapping)
            self._save(session)
        chunk = HistorySyncChunk(
            account_id, wires, lid_to_pn=mapping, push_names=names,
            chunk_order=chunk_order, progress=progress,
        )  # fmt: skip
        self._deliver(account_id, chunk, list(wires))
        return len(wires)

    def learn_lid(self, account_id: str, lid: str, phone: str) -> None:
        """The session's LID store learns a mapping (no event, like whatsmeow's LID store)."""
        lid_jid = normalize_jid(lid)
        if lid_jid is None or not lid_jid.endswith("@lid"):
            raise SimulatorError("invalid_argument", f"not a LID: {lid!r}")
        pn = self._phone_jid_of(phone)
        with self._lock:
            session = self._require(account_id)
            session.lid_map[lid_jid] = pn
            self._save(session)

    # ==== receipts ===============================================================================

    def receipt(
        self,
        account_id: str,
        chat: str,
        message_ids: Sequence[str],
        status: ReceiptStatus = "delivered",
        *,
        timestamp: datetime | None = None,
    ) -> None:
        """Emit one receipt, as is: duplicates and any order are the caller's to choose."""
        if status not in ("delivered", "read", "played"):
            raise SimulatorError("invalid_argument", f"unknown receipt status {status!r}")
        if not message_ids or not all(isinstance(m, str) and m for m in message_ids):
            raise SimulatorError("invalid_argument", "message_ids must be non-empty strings")
        with self._lock:
            self._require(account_id)
        chat_jid, pn = _chat_and_pn(chat)
        event = ReceiptReceived(
            account_id, tuple(message_ids), chat_jid, status, timestamp or self._now(),
            chat_pn_jid=pn if pn != chat_jid else None,
        )  # fmt: skip
        self._deliver(account_id, event, [])

    def read(
        self, account_id: str, phone: str, message_ids: Sequence[str] | None = None
    ) -> list[str]:
        """The client opens the chat: a `read` receipt for `message_ids` (default: everything
        this account sent to that phone). Returns the ids acknowledged."""
        e164 = _require_phone(phone, "phone")
        ids = list(message_ids) if message_ids is not None else [
            r.message_id for r in self.received_by(e164) if r.account_id == account_id
        ]  # fmt: skip
        if ids:
            self.receipt(account_id, phone_jid(e164), ids, "read")
        return ids

    # ==== the network ============================================================================

    def disconnect(self, account_id: str, reason: str = "simulated network loss") -> None:
        with self._lock:
            session = self._require(account_id)
            if session.state != "connected":
                return
            session.state = "disconnected"
        session.sink(Disconnected(account_id, reason))

    def reconnect(self, account_id: str) -> None:
        """The network comes back: a disconnected session connects and gets what it missed."""
        with self._lock:
            session = self._require(account_id)
            if session.state != "disconnected":
                raise SimulatorError("not_connected", f"{account_id} is {session.state}")
        self._connect(session)

    def logout(self, account_id: str, reason: str = "device removed from the phone") -> None:
        """The owner unlinks the device on the phone: `LoggedOut`; the session db is useless."""
        with self._lock:
            session = self._require(account_id)
            self._stop_qr(session)
            was_running = session.state in ("connected", "pairing")
            self._unlink(session)
        if was_running:
            session.sink(LoggedOut(account_id, reason))

    def ban(self, account_id: str, seconds: float = 3600.0, code: int = 101) -> None:
        """A temporary ban: `TemporaryBan`, disconnected; connects are refused until it ends."""
        try:
            ban_until = self._now() + timedelta(seconds=seconds)
        except (OverflowError, ValueError):
            raise SimulatorError("invalid_argument", f"ban too long: {seconds!r}") from None
        with self._lock:
            session = self._require(account_id)
            session.banned_until = ban_until
            session.state = "banned"
            self._save(session)
            until = session.banned_until
        session.sink(TemporaryBan(account_id, code, until))

    def stream_replace(self, account_id: str) -> None:
        """Another client took over this session's stream: `StreamReplaced`, disconnected."""
        with self._lock:
            session = self._require(account_id)
            session.state = "disconnected"
        session.sink(StreamReplaced(account_id))

    def fail_sends(self, mode: SendFailure | None, *, count: int | None = None) -> None:
        """Make the next `count` sends (all, when None) fail; `mode=None` switches it off."""
        with self._lock:
            self._send_failure = mode
            self._send_failures_left = count

    def fail_connects(self, account_id: str, times: int) -> None:
        """The next `times` `start_session` calls for the account raise a retryable error."""
        with self._lock:
            self._connect_failures[account_id] = times

    def received_by(self, phone: str) -> list[ReceivedMessage]:
        """Everything the client phone received from any account, in order."""
        e164 = to_e164_lenient(phone)
        with self._lock:
            return list(self._received.get(e164 or phone, []))

    def accounts(self) -> dict[str, str]:
        """account id → session state, for the simulator's dashboard."""
        with self._lock:
            return {a: s.state for a, s in self._sessions.items()}

    # ---- async wrappers (never block the event loop) --------------------------------------------

    async def adeliver_message(
        self, account_id: str, sender: str, text: str = "", **kw: Any
    ) -> str:
        return await asyncio.to_thread(self.deliver_message, account_id, sender, text, **kw)

    async def atype_on_phone(self, account_id: str, to_phone: str, text: str, **kw: Any) -> str:
        return await asyncio.to_thread(self.type_on_phone, account_id, to_phone, text, **kw)

    async def ahistory_sync(self, account_id: str, *args: Any, **kw: Any) -> int:
        return await asyncio.to_thread(self.history_sync, account_id, *args, **kw)

    async def areceipt(self, account_id: str, *args: Any, **kw: Any) -> None:
        await asyncio.to_thread(self.receipt, account_id, *args, **kw)

    async def arun(self, fn: Callable[P, R], *args: P.args, **kw: P.kwargs) -> R:
        """Run any control method in a worker thread: `await sim.arun(sim.pair, "acc", phone)`."""
        return await asyncio.to_thread(fn, *args, **kw)

    # ==== sending (the daemon's side) ============================================================

    def send_text_sync(self, account_id: str, to_jid: str, text: str) -> SendResult:
        with self._lock:
            session = self._connected_session(account_id)
            chat = normalize_jid(to_jid)
            if chat is None:
                raise TransportError(f"not a JID: {to_jid!r}", retryable=False)
            if self._send_failure is not None:
                mode = self._send_failure
                if self._send_failures_left is not None:
                    self._send_failures_left -= 1
                    if self._send_failures_left <= 0:
                        self._send_failure, self._send_failures_left = None, None
                raise TransportError(
                    f"simulated {mode} send failure", retryable=mode == "retryable"
                )
            msg_id = new_message_id()
            now = self._now()
            target = session.lid_map.get(chat, chat)
            self._record_received_locked(account_id, target, text, msg_id)
            self.sent_count += 1
            assert session.own_jid is not None
            self._remember(session, [WireMessage(
                id=msg_id, chat_jid=chat, sender_jid=session.own_jid, from_me=True,
                timestamp=now, text=text, chat_pn_jid=target if target != chat else None,
                push_name=session.push_name,
            )])  # fmt: skip
        if self.auto_delivered:
            receipt = ReceiptReceived(account_id, (msg_id,), chat, "delivered", now)
            self._later(self.receipt_delay, lambda: self._emit_if_connected(account_id, receipt))
        return SendResult(msg_id, now)

    # ==== internals ==============================================================================

    def _now(self) -> datetime:
        now = ensure_utc(self._clock())
        return from_ms(to_ms(now))  # millisecond precision, like the stored *Ms fields

    def _require(self, account_id: str) -> _Session:
        session = self._sessions.get(account_id)
        if session is None:
            raise SimulatorError("unknown_account", f"no session for account {account_id!r}")
        return session

    def _connected_session(self, account_id: str) -> _Session:
        session = self._sessions.get(account_id)
        if session is None or session.state != "connected":
            raise NotConnected(f"{account_id} is not connected")
        return session

    def _phone_jid_of(self, raw: object) -> str:
        if not isinstance(raw, str):
            raise SimulatorError("invalid_argument", f"not a phone number or JID: {raw!r}")
        if "@" in raw:
            jid = parse_jid(raw)
            if jid is None or not jid.is_phone:
                raise SimulatorError("invalid_argument", f"not a phone JID: {raw!r}")
            return str(jid.to_non_device())
        return phone_jid(_require_phone(raw, "phone"))

    def _address(
        self, session: _Session, who: str, *, via_lid: bool, lid: str | None
    ) -> tuple[str, str | None]:
        chat, pn = _chat_and_pn(who)
        if chat.endswith("@lid"):
            return chat, session.lid_map.get(chat)
        if via_lid and pn is not None:
            lid_jid = normalize_jid(lid) if lid else lid_for_phone("+" + pn.split("@")[0])
            if lid_jid is None or not lid_jid.endswith("@lid"):
                raise SimulatorError("invalid_argument", f"not a LID: {lid!r}")
            session.lid_map[lid_jid] = pn
            self._save(session)
            return lid_jid, pn
        return chat, pn

    def _remember(self, session: _Session, messages: list[WireMessage]) -> None:
        """The linked phone keeps the latest `history_limit` messages (for `request_history`)."""
        session.history.extend(messages)
        overflow = len(session.history) - self.history_limit
        if overflow > 0:
            del session.history[:overflow]

    def _record_received(self, account_id: str, chat: str, text: str, msg_id: str) -> None:
        with self._lock:
            self._record_received_locked(account_id, chat, text, msg_id)

    def _record_received_locked(self, account_id: str, chat: str, text: str, msg_id: str) -> None:
        e164 = jid_to_e164(chat)
        if e164 is not None:
            self._received.setdefault(e164, []).append(ReceivedMessage(account_id, text, msg_id))

    def _deliver(self, account_id: str, event: TransportEvent, messages: list[WireMessage]) -> None:
        """Hand an event to the daemon now, or queue it on the server while offline."""
        with self._lock:
            session = self._require(account_id)
            if session.state == "logged_out":
                raise SimulatorError("logged_out", f"{account_id} is logged out")
            self._remember(session, messages)
            if session.state != "connected":
                session.offline_queue.append(event)
                return
        self._hand_over(session, [event])

    def _emit_if_connected(self, account_id: str, event: TransportEvent) -> None:
        with self._lock:
            session = self._sessions.get(account_id)
            if session is None or self._closed:
                return
            if session.state != "connected":
                session.offline_queue.append(event)
                return
        self._hand_over(session, [event])

    def _later(self, delay: float, fn: Callable[[], None]) -> None:
        def run() -> None:
            with self._lock:
                self._timers.discard(timer)
            with contextlib.suppress(Exception):
                fn()

        timer = threading.Timer(delay, run)
        timer.daemon = True
        with self._lock:
            if self._closed:
                return
            self._timers.add(timer)
        timer.start()

    def _connect(self, session: _Session) -> None:
        """Bring a started session up: resume, refuse (ban/logged out), or start showing QRs."""
        with self._lock:
            now = self._now()
            if session.banned_until is not None and session.banned_until > now:
                session.state = "banned"
                event: TransportEvent = TemporaryBan(session.account_id, 101, session.banned_until)
                pending: list[TransportEvent] = []
            elif session.paired:
                session.state = "connected"
                event = Connected(session.account_id)
                pending, session.offline_queue = session.offline_queue, []
            else:
                session.state = "pairing"
                stop = threading.Event()
                session.qr_stop = stop
                threading.Thread(
                    target=self._qr_loop, args=(session, stop), daemon=True,
                    name=f"sim-qr-{session.account_id}",
                ).start()  # fmt: skip
                return
        self._hand_over(session, [event, *pending])

    def _qr_loop(self, session: _Session, stop: threading.Event) -> None:
        deadline = self._clock() + timedelta(seconds=self.qr_timeout)
        while not stop.is_set():
            with self._lock:
                if stop.is_set() or session.state != "pairing":
                    return
                if self._clock() >= deadline:
                    session.state = "stopped"
                    session.qr_stop = None
                    timed_out = True
                else:
                    code = _qr_payload()
                    session.last_qr = code
                    timed_out = False
            if timed_out:
                session.sink(QrTimeout(session.account_id))
                return
            session.sink(QrCode(session.account_id, code))
            remaining = (deadline - self._clock()).total_seconds()
            stop.wait(max(0.0, min(self.qr_interval, remaining)))

    def _stop_qr(self, session: _Session) -> None:
        if session.qr_stop is not None:
            session.qr_stop.set()
            session.qr_stop = None

    def _complete_pairing(
        self, session: _Session, phone: str, push_name: str | None
    ) -> tuple[str, list[TransportEvent]]:
        """Called with the lock held; returns the events to emit once it is released."""
        self._stop_qr(session)
        session.paired = True
        session.own_jid = phone_jid(phone)
        session.push_name = push_name
        session.pairing_code = session.pairing_phone = None
        session.state = "connected"
        self._save(session)
        pending, session.offline_queue = session.offline_queue, []
        account = session.account_id
        events: list[TransportEvent] = [
            Paired(account, session.own_jid, push_name),
            Connected(account),
            *pending,
        ]
        return session.own_jid, events

    def _hand_over(self, session: _Session, events: list[TransportEvent]) -> None:
        """Give events to the daemon in order. If the sink refuses one (the daemon is stopping),
        that message and the ones after it stay on the server, to be delivered at the next
        connect, as WhatsApp redelivers what was never acknowledged."""
        for i, event in enumerate(events):
            try:
                session.sink(event)
            except Exception:
                held = [e for e in events[i:] if isinstance(e, _SERVER_HELD)]
                with self._lock:
                    session.offline_queue[:0] = held
                raise

    def _unlink(self, session: _Session) -> None:
        session.paired = False
        session.own_jid = None
        session.state = "logged_out"
        session.lid_map.clear()
        self._save(session, logged_out=True)

    # ---- the session db marker -----------------------------------------------------------------

    def _load(self, session: _Session) -> None:
        try:
            raw = json.loads(session.session_db.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return
        if not isinstance(raw, dict) or raw.get("format") != SESSION_FORMAT:
            return
        session.paired = bool(raw.get("paired"))
        session.own_jid = raw.get("ownJid") if session.paired else None
        session.push_name = raw.get("pushName")
        lid_map = raw.get("lidMap")
        session.lid_map = dict(lid_map) if isinstance(lid_map, dict) else {}
        until = raw.get("bannedUntilMs")
        session.banned_until = from_ms(until) if isinstance(until, int) else None

    def _save(self, session: _Session, *, logged_out: bool = False) -> None:
        data = {
            "format": SESSION_FORMAT,
            "paired": session.paired,
            "ownJid": session.own_jid,
            "pushName": session.push_name,
            "lidMap": session.lid_map,
            "loggedOut": logged_out,
            "bannedUntilMs": to_ms(session.banned_until) if session.banned_until else None,
        }
        path = session.session_db
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)


def with_timestamp(message: WireMessage, ts: datetime) -> WireMessage:
    """A copy of `message` at another time (handy for building history chunks in tests)."""
    return replace(message, timestamp=ensure_utc(ts))
