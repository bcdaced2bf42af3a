"""The simulated network's state and mechanics: sessions, the server-side offline queue,
timers, QR loops, and handing events to a session's sink in order.

`SimulatedTransport` (simulated.py) adds its two faces on top: the `WhatsAppTransport` port the
daemon calls, and the control methods that play the phones. Everything here runs under the one
network lock (`_lock`); events reach a sink only after it is released.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal

from session_daemon.transport.port import (
    Connected,
    HistorySyncChunk,
    MessageReceived,
    NotConnected,
    Paired,
    QrCode,
    QrTimeout,
    ReceiptReceived,
    TemporaryBan,
    TransportEvent,
    WireMessage,
)
from session_daemon.transport.simulated_session import SimSession, qr_payload, save_session
from session_daemon.transport.simulated_wire import (
    ReceivedMessage,
    SimulatorError,
    chat_and_pn,
    lid_for_phone,
    require_phone,
)
from shared.jids import jid_to_e164, normalize_jid, parse_jid, phone_jid
from shared.timeutil import ensure_utc, from_ms, to_ms, utc_now

SendFailure = Literal["retryable", "permanent"]
_SERVER_HELD = (MessageReceived, HistorySyncChunk, ReceiptReceived)


class SimulatedNetwork:
    """The shared state of every simulated session, and the mechanics the faces use."""

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
        self._sessions: dict[str, SimSession] = {}
        self._received: dict[str, list[ReceivedMessage]] = {}
        self._send_failure: SendFailure | None = None
        self._send_failures_left: int | None = None
        self._connect_failures: dict[str, int] = {}
        self._connect_stalls: dict[str, float] = {}  # start_session hangs this long, once
        self._timers: set[threading.Timer] = set()
        self._closed = False
        self.sent_count = 0
        self._media_files: dict[str, bytes] = {}  # the simulated media server (handle -> file)
        self._pictures: dict[str, bytes] = {}  # profile pictures by chat JID
        self._group_subjects: dict[str, str] = {}  # group JID -> subject (its group info)

    # ==== internals ==============================================================================

    def _now(self) -> datetime:
        now = ensure_utc(self._clock())
        return from_ms(to_ms(now))  # millisecond precision, like the stored *Ms fields

    def _require(self, account_id: str) -> SimSession:
        session = self._sessions.get(account_id)
        if session is None:
            raise SimulatorError("unknown_account", f"no session for account {account_id!r}")
        return session

    def _connected_session(self, account_id: str) -> SimSession:
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
        return phone_jid(require_phone(raw, "phone"))

    def _address(
        self, session: SimSession, who: str, *, via_lid: bool, lid: str | None
    ) -> tuple[str, str | None]:
        chat, pn = chat_and_pn(who)
        if chat.endswith("@lid"):
            return chat, session.lid_map.get(chat)
        if via_lid and pn is not None:
            lid_jid = normalize_jid(lid) if lid else lid_for_phone("+" + pn.split("@")[0])
            if lid_jid is None or not lid_jid.endswith("@lid"):
                raise SimulatorError("invalid_argument", f"not a LID: {lid!r}")
            session.lid_map[lid_jid] = pn
            save_session(session)
            return lid_jid, pn
        return chat, pn

    def _remember(self, session: SimSession, messages: list[WireMessage]) -> None:
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
        # the daemon went away before acknowledging: the message waits on the server
        with contextlib.suppress(ConnectionError):
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

    def _connect(self, session: SimSession) -> None:
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

    def _qr_loop(self, session: SimSession, stop: threading.Event) -> None:
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
                    code = qr_payload()
                    session.last_qr = code
                    timed_out = False
            if timed_out:
                session.sink(QrTimeout(session.account_id))
                return
            session.sink(QrCode(session.account_id, code))
            remaining = (deadline - self._clock()).total_seconds()
            stop.wait(max(0.0, min(self.qr_interval, remaining)))

    def _stop_qr(self, session: SimSession) -> None:
        if session.qr_stop is not None:
            session.qr_stop.set()
            session.qr_stop = None

    def _complete_pairing(
        self, session: SimSession, phone: str, push_name: str | None
    ) -> tuple[str, list[TransportEvent]]:
        """Called with the lock held; returns the events to emit once it is released."""
        self._stop_qr(session)
        session.paired = True
        session.own_jid = phone_jid(phone)
        session.push_name = push_name
        session.pairing_code = session.pairing_phone = None
        session.state = "connected"
        save_session(session)
        pending, session.offline_queue = session.offline_queue, []
        account = session.account_id
        events: list[TransportEvent] = [
            Paired(account, session.own_jid, push_name),
            Connected(account),
            *pending,
        ]
        return session.own_jid, events

    def _hand_over(self, session: SimSession, events: list[TransportEvent]) -> None:
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

    def _unlink(self, session: SimSession) -> None:
        session.paired = False
        session.own_jid = None
        session.state = "logged_out"
        session.lid_map.clear()
        save_session(session, logged_out=True)
