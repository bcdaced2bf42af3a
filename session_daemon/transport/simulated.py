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

Modules: this one holds the two faces (port and phone controls); `simulated_network` the shared
state and mechanics under the lock; `simulated_session` a session record and its db marker;
`simulated_wire` the pure wire-message specs, `SimulatorError` and `lid_for_phone`.

Size (over 600 lines, on purpose): the port face and the phone controls share one session table
and lock; issue 12 added the phones' media files, group subjects and profile pictures (and their
port calls). Moving those into their own module is a follow-up.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import hashlib
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from session_daemon.session_import.model import ImportAction, ImportedSession
from session_daemon.session_import.simulated_marker import import_marker
from session_daemon.transport.port import (
    SIMULATOR_NEEDS_FOLDER,
    CallContent,
    ClientOutdated,
    ConnectFailure,
    Content,
    Disconnected,
    EditContent,
    EventSink,
    HistorySyncChunk,
    KeepAliveRestored,
    KeepAliveTimeout,
    LoggedOut,
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
    SessionEnded,
    SessionLocation,
    StreamReplaced,
    TemporaryBan,
    TransportError,
    TransportEvent,
    UndecryptableContent,
    WireMessage,
    is_database_url,
)
from session_daemon.transport.simulated_network import SendFailure, SimulatedNetwork
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
    media_from,
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
_MAX_MEDIA_BYTES = 64 * 1024 * 1024


def _group_of(group: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    """`{jid, subject}` of a group chat (None: a one-to-one chat)."""
    if group is None:
        return None, None
    jid = normalize_jid(str(group.get("jid") or ""))
    if jid is None or not jid.endswith("@g.us"):
        raise SimulatorError("invalid_argument", "group.jid must be a group JID (…@g.us)")
    subject = group.get("subject")
    if subject is not None and not isinstance(subject, str):
        raise SimulatorError("invalid_argument", "group.subject must be a string")
    return jid, subject


class SimulatedTransport(SimulatedNetwork):
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
        group_jid, subject = _group_of(group)
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
            save_session(session)
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

    # ---- the failure states of the real library (neonize/whatsmeow) ---------------------------

    def keepalive_timeout(self, account_id: str, missed: int = 3) -> None:
        """WhatsApp stops answering keep-alives: the socket looks connected but may be dead."""
        with self._lock:
            session = self._require(account_id)
            if session.state != "connected":
                return
        session.sink(KeepAliveTimeout(account_id, error_count=missed))

    def keepalive_restored(self, account_id: str) -> None:
        with self._lock:
            session = self._require(account_id)
            if session.state != "connected":
                return
        session.sink(KeepAliveRestored(account_id))

    def end_loop(self, account_id: str, reason: str = "an event Go cannot encode") -> None:
        """The session's event loop ends (neonize: `proto.Marshal` failed): nothing is received
        any more until the session is started again."""
        with self._lock:
            session = self._require(account_id)
            if session.state != "connected":
                return
            session.state = "disconnected"
        session.sink(SessionEnded(account_id, reason=f"the session's event loop ended ({reason})"))

    def connect_failure(self, account_id: str, reason: str = "bad_user_agent") -> None:
        """WhatsApp refuses the connection (`ConnectFailure`); `client_outdated` as the reason
        plays `ClientOutdated`."""
        with self._lock:
            session = self._require(account_id)
            session.state = "disconnected"
        event: TransportEvent = (
            ClientOutdated(account_id)
            if reason == "client_outdated"
            else ConnectFailure(account_id, reason=reason)
        )
        session.sink(event)

    def stall_connects(self, account_id: str, seconds: float) -> None:
        """The next `start_session` for the account hangs `seconds` before connecting."""
        with self._lock:
            self._connect_stalls[account_id] = seconds

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

    def _media_with_file(self, media: Media | Mapping[str, Any] | None) -> Media | None:
        """`media` with its file kept on the simulated media server when `dataBase64` is
        given (a handle in `download`, its size and SHA-256); without it, nothing to fetch."""
        if media is None or isinstance(media, Media):
            return media
        data_b64 = media.get("dataBase64")
        plain = {k: v for k, v in media.items() if k != "dataBase64"}
        base = media_from(plain)
        if base is None or data_b64 is None:
            return base
        if not isinstance(data_b64, str):
            raise SimulatorError("invalid_argument", "media.dataBase64 must be a string")
        try:
            data = base64.b64decode(data_b64, validate=True)
        except (ValueError, binascii.Error):
            raise SimulatorError("invalid_argument", "media.dataBase64 is not base64") from None
        if len(data) > _MAX_MEDIA_BYTES:
            raise SimulatorError("invalid_argument", "media.dataBase64 is too large")
        handle = "sim-" + secrets.token_hex(12)
        with self._lock:
            self._media_files[handle] = data
        return dataclasses.replace(
            base,
            size_bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            download=handle,
        )

    def set_group_subject(self, group_jid: str, subject: str | None) -> None:
        """A group is created or renamed (what `group_subject` answers from now on)."""
        jid, _ = _group_of({"jid": group_jid})
        assert jid is not None
        with self._lock:
            if subject:
                self._group_subjects[jid] = subject
            else:
                self._group_subjects.pop(jid, None)

    async def group_subject(self, account_id: str, group_jid: str) -> str | None:
        """The group's subject from its group info (like neonize's `get_group_info`)."""
        with self._lock:
            self._connected_session(account_id)
            return self._group_subjects.get(normalize_jid(group_jid) or group_jid)

    def set_profile_picture(self, who: str, picture_base64: str | None) -> None:
        """A client (phone) or group (JID) sets or removes (None) its profile picture; base64,
        so the call crosses the shared simulator's wire."""
        try:
            picture = base64.b64decode(picture_base64, validate=True) if picture_base64 else None
        except (ValueError, binascii.Error):
            raise SimulatorError("invalid_argument", "the picture is not base64") from None
        chat = normalize_jid(who) if "@" in who else phone_jid(require_phone(who, "phone"))
        if chat is None:
            raise SimulatorError("invalid_argument", f"not a JID or phone: {who!r}")
        with self._lock:
            if picture is None:
                self._pictures.pop(chat, None)
            else:
                self._pictures[chat] = picture

    async def profile_picture(self, account_id: str, jid: str) -> bytes | None:
        """The picture of a chat as the account sees it (None: none, or hidden)."""
        with self._lock:
            self._connected_session(account_id)
            return self._pictures.get(normalize_jid(jid) or jid)

    def expire_media(self, handle: str) -> None:
        """WhatsApp's servers drop a file (as they do after some weeks)."""
        with self._lock:
            self._media_files.pop(handle, None)

    async def download_media(self, account_id: str, handle: str) -> bytes:
        """The file of a delivered media message, like neonize's `download_any`: a dropped file
        fails as whatsmeow does (status code 410)."""
        with self._lock:
            self._connected_session(account_id)
            data = self._media_files.get(handle)
        if data is None:
            raise TransportError("download failed with status code 410", retryable=False)
        return data

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
