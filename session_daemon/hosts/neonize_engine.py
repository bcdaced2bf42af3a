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
from collections.abc import Callable
from typing import Any

from session_daemon.transport.neonize_transport import NeonizeTransport, _Session

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
