"""`HostedNeonize`: the neonize transport as a session host runs it (one account per process).

Two differences from the in-process `NeonizeTransport`:
- an ended session loop ends the host (the supervisor restarts it with backoff) instead of
  leaving a "disconnected" session that nothing retries;
- a failed start does not ask Go to stop (that can block a minute on a stalled network): the
  host process ends, and with it everything Go held.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

from neonize.exc import NeonizeError

from session_daemon.transport.neonize_transport import NeonizeTransport, _Session
from session_daemon.transport.port import EventSink, SessionLocation

log = logging.getLogger(__name__)


class HostedNeonize(NeonizeTransport):
    def __init__(
        self,
        *,
        on_loop_ended: Callable[[str], None],
        proxy: str | None = None,
        **kwargs: Any,
    ) -> None:
        # One session per process: a few FFI workers are plenty.
        kwargs.setdefault("executor_workers", 8)
        super().__init__(proxy=proxy, **kwargs)
        self._on_host_loop_ended = on_loop_ended

    async def _abandon_start(self, session: _Session) -> None:
        # A failed start ends the host process, which frees everything Go holds; asking Go to
        # stop first could block a minute on a stalled network (its Stop waits for the dial).
        session.stopping = True
        if self._sessions.get(session.account_id) is session:
            del self._sessions[session.account_id]

    def _on_loop_ended(self, session: _Session, task: asyncio.Future[Any]) -> None:
        session.connected = False
        if session.stopping or self._sessions.get(session.account_id) is not session:
            return
        if session.registered is None or not session.registered.done():
            return  # start_session reports it as a failed start
        exc = None if task.cancelled() else task.exception()
        self._on_host_loop_ended(str(exc) if exc else "the Go loop returned")

    # ---- test hooks (enabled in a host only with SESSION_HOST_TEST_HOOKS=1) -------------------
    # WhatsApp is unreachable from test machines, so a test cannot get a session registered in
    # Go. These put a real neonize client in place without connecting and hand it bytes the way
    # Go's delivery thread does, so the path host -> daemon -> journal is tested with real
    # protobuf bytes and the real conversion.

    def attach_offline(self, account_id: str, session_db: SessionLocation, sink: EventSink) -> None:
        loop = asyncio.get_running_loop()
        session = _Session(account_id=account_id, sink=sink, loop=loop)
        session.registered = loop.create_future()
        session.registered.set_result(None)
        session.client = self._new_client(session, session_db)
        self._sessions[account_id] = session

    def deliver_raw(self, account_id: str, code: int, raw: bytes) -> None:
        session = self._sessions[account_id]
        thread = threading.Thread(
            target=self._handle_event, args=(session, code, raw), name="go-delivery"
        )
        thread.start()
        thread.join()

    def loop_returns(self, account_id: str, error: str) -> None:
        """What Go does after `proto.Marshal` failed: `Neonize()` returns the error."""
        session = self._sessions[account_id]
        future: asyncio.Future[Any] = session.loop.create_future()
        future.set_exception(NeonizeError(error))
        future.exception()
        self._on_loop_ended(session, future)
