"""`HostedNeonize`: the neonize transport as a session host runs it (one account per process).

Two differences from the in-process `NeonizeTransport`:
- an ended session loop ends the host (the supervisor restarts it with backoff) instead of
  leaving a "disconnected" session that nothing retries;
- the connection goes through the account's proxy (`http://` or `socks5://`), when it has one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from neonize._binder import ProxySettings

from session_daemon.transport.neonize_transport import (
    NeonizeTransport,
    _Session,
    _SessionClient,
)

log = logging.getLogger(__name__)


class _ProxiedClient(_SessionClient):
    proxy: str | None = None

    async def connect(self, proxy_settings: ProxySettings | None = None) -> Any:
        if proxy_settings is None and self.proxy:
            proxy_settings = ProxySettings(proxy_address=self.proxy)
        return await super().connect(proxy_settings)


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
        super().__init__(**kwargs)
        self._on_host_loop_ended = on_loop_ended
        self._proxy = proxy

    def _new_client(self, session: _Session, session_db: Path) -> _SessionClient:
        client = _ProxiedClient(
            str(session_db),
            uuid=session.account_id,
            props=self._props,
            on_event=lambda code, raw: self._handle_event(session, code, raw),
            on_qr=lambda data: self._handle_qr(session, data),
            on_login_status=lambda status: self._handle_login_status(session, status),
        )
        client.proxy = self._proxy
        return client

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
