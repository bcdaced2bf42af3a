"""What the simulated network and WhatsApp do to a session, as test controls: network loss and
return, logout from the phone, temporary ban, stream replaced, failing sends and connects, and
the failure states of the real library (keep-alive timeouts, an ended event loop, a refused
connect). `SimulatedTransport` (`simulated.py`) builds on this class; the state lives in
`SimulatedNetwork`, under its lock.
"""

from __future__ import annotations

from datetime import timedelta

from session_daemon.transport.port import (
    ClientOutdated,
    ConnectFailure,
    Disconnected,
    KeepAliveRestored,
    KeepAliveTimeout,
    LoggedOut,
    SessionEnded,
    StreamReplaced,
    TemporaryBan,
    TransportEvent,
)
from session_daemon.transport.simulated_network import SendFailure, SimulatedNetwork
from session_daemon.transport.simulated_session import save_session
from session_daemon.transport.simulated_wire import SimulatorError


class SimulatedFaults(SimulatedNetwork):
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
