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

Modules: this one holds the two faces (port and phone controls); `simulated_faults` what the
network and WhatsApp do to a session (disconnect, logout, ban, failures); `simulated_media` the
media server, group subjects and profile pictures (issue 12) with their port calls;
`simulated_network` the shared state and mechanics under the lock; `simulated_session` a
session record and its db marker; `simulated_wire` the pure wire-message specs,
`SimulatorError` and `lid_for_phone`.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from session_daemon.session_import.model import ImportAction, ImportedSession
from session_daemon.session_import.simulated_marker import import_marker
from session_daemon.transport.port import (
    SIMULATOR_NEEDS_FOLDER,
    CallContent,
    Content,
    EditContent,
    EventSink,
    HistorySyncChunk,
    Media,
    MessageReceived,
    MessageType,
    NotPairing,
    PairingCode,
    PollContent,
    ReactionContent,
    ReceiptReceived,
    ReceiptStatus,
    RevokeContent,
    SendResult,
    SessionLocation,
    TransportError,
    UndecryptableContent,
    WireMessage,
    is_database_url,
)
from session_daemon.transport.simulated_faults import SimulatedFaults
from session_daemon.transport.simulated_media import SimulatedMediaServer, group_of
from session_daemon.transport.simulated_session import (
    SimSession,
    default_own_phone,
    load_session,
    save_session,
)
from session_daemon.transport.simulated_wire import (
    ReceivedMessage,
    SimulatorError,
    chat_and_pn,
    new_message_id,
    require_phone,
    to_datetime,
    wire_message_from_spec,
)
from shared.jids import normalize_jid, phone_jid
from shared.phones import to_e164_lenient

__all__ = ["SimulatedTransport"]

P = ParamSpec("P")
R = TypeVar("R")

_PAIRING_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTVWXYZ"  # whatsmeow's pairing-code alphabet
_CONTENT_TYPES: dict[type[Any], MessageType] = {
    PollContent: "poll",
    CallContent: "call",
    UndecryptableContent: "undecryptable",
    EditContent: "edit",
    RevokeContent: "revoke",
    ReactionContent: "reaction",
}


class SimulatedTransport(SimulatedFaults, SimulatedMediaServer):
    """See the module docstring. One instance serves every account, like the real adapter."""

    # ==== the port ===============================================================================

    async def start_session(
        self, account_id: str, session_db: SessionLocation, sink: EventSink
    ) -> None:
        with self._lock:
            self._closed = False  # a start after close() reopens the network
            left = self._connect_failures.get(account_id, 0)
            if left:
                self._connect_failures[account_id] = left - 1
                raise TransportError("simulated connect failure", retryable=True)
            stall = self._connect_stalls.pop(account_id, 0.0)
            old = self._sessions.get(account_id)
            if old is not None:
                self._stop_qr(old)
            if is_database_url(session_db):
                raise TransportError(SIMULATOR_NEEDS_FOLDER, retryable=False)
            session = SimSession(account_id, Path(session_db), sink)
            if old is not None:  # the server-side queue and phone memory survive a restart
                session.offline_queue = old.offline_queue
                session.history = old.history
            load_session(session)
            self._sessions[account_id] = session
        if stall:  # a connect hanging on a dead network (cancellable, like the real one)
            await asyncio.sleep(stall)
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
                raise NotPairing("the session is not showing QR codes", retryable=False)
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
        with self._lock:
            running = self._sessions.get(account_id)
            if running is not None and running.state not in ("stopped", "logged_out"):
                raise TransportError(f"{account_id} has a running session", retryable=False)
        return await asyncio.to_thread(
            import_marker, Path(session_db), session, force=force, dry_run=dry_run
        )

    # ==== the linked phone: pairing ==============================================================

    def pair(
        self, account_id: str, phone_e164: str | None = None, push_name: str | None = None
    ) -> str:
        """The owner scans the QR with the phone `phone_e164`. Returns the linked JID."""
        phone = require_phone(phone_e164, "phone") if phone_e164 else default_own_phone(account_id)
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
        content: Content | None = None,
        group: Mapping[str, Any] | None = None,
    ) -> str:
        """A client writes to the account (issue 12: `content` is a kind's typed content, an
        edit, a deletion, a reaction, a poll, a missed call or an undecryptable placeholder;
        `group` `{jid, subject}` makes `sender` a participant of that group chat; a media's
        `dataBase64` is the file, served by `download_media`). `sender` is the client's phone
        (any format) or a LID JID. With `via_lid`, a phone sender's message arrives addressed by
        its LID (`lid`, or a stable made-up one) with the phone JID alongside (SenderAlt), and the
        session learns the mapping. A bare LID sender carries a phone JID only if the session
        already knows it. Returns the message id once the daemon acknowledged it (or at once
        when the session is offline: the message then waits on the server until it reconnects).
        """
        with self._lock:
            session = self._require(account_id)
            chat, pn = self._address(session, sender, via_lid=via_lid, lid=lid)
        ts = to_datetime(timestamp, self._now())
        media_obj = self._media_with_file(media)
        mtype = message_type or (media_obj.type if media_obj else "text")
        if content is not None and message_type is None:
            mtype = _CONTENT_TYPES.get(type(content), "other")
        sender_jid = chat
        group_jid, subject = group_of(group)
        if group_jid is not None:
            sender_jid, chat = chat, group_jid
            if subject:
                with self._lock:
                    self._group_subjects[group_jid] = subject
        message = WireMessage(
            id=msg_id or new_message_id(),
            chat_jid=chat,
            sender_jid=sender_jid,
            from_me=False,
            timestamp=ts,
            text=text,
            message_type=mtype,
            chat_pn_jid=pn if pn != chat and group_jid is None else None,
            sender_pn_jid=pn if pn != sender_jid else None,
            is_group=chat.endswith("@g.us"),
            push_name=push_name,
            media=media_obj,
            content=content,
            group_subject=subject,
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
            timestamp=to_datetime(timestamp, self._now()),
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
            own = session.own_jid or phone_jid(default_own_phone(account_id))
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
            save_session(session)
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
            save_session(session)

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
        chat_jid, pn = chat_and_pn(chat)
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
        e164 = require_phone(phone, "phone")
        ids = list(message_ids) if message_ids is not None else [
            r.message_id for r in self.received_by(e164) if r.account_id == account_id
        ]  # fmt: skip
        if ids:
            self.receipt(account_id, phone_jid(e164), ids, "read")
        return ids

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
