"""The Graph API stand-in (`graph_standin.GraphStandIn`) served from a background thread, for
synchronous tests that drive a daemon process: `standin = running.standin`, and
`running.call(standin.deliver(body))` runs a coroutine (a webhook delivery) on its loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from aiohttp import web

from tests.support.graph_standin import GraphStandIn

T = TypeVar("T")


@dataclass
class RunningStandIn:
    standin: GraphStandIn = field(default_factory=GraphStandIn)
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    _thread: threading.Thread | None = None
    _runner: web.AppRunner | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.call(self._serve())

    async def _serve(self) -> None:
        self._runner = web.AppRunner(self.standin.app())
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server  # the port the OS picked
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.standin.base = f"http://127.0.0.1:{port}"

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        if self._runner is not None:
            self.call(self._runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        if self._thread is not None:
            self._thread.join(5)
        self.loop.close()


@pytest.fixture
def graph_thread() -> Iterator[RunningStandIn]:
    running = RunningStandIn()
    running.start()
    yield running
    running.stop()
