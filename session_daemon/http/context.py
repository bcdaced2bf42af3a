"""What the route handlers reach through `request.app[CONTEXT]`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web

from session_daemon.config import Settings
from session_daemon.fleet.stats import FleetStats
from session_daemon.http.auth import Authenticator
from session_daemon.sessions.manager import SessionManager
from session_daemon.transport.port import WhatsAppTransport
from shared.store.port import DocumentStore


class StatsSource(Protocol):
    def stats(self) -> Any: ...


class LeaseView(Protocol):
    """What the routes read of the account leases (`session_daemon.leases.runtime`)."""

    def ready_fields(self) -> dict[str, Any]: ...
    def diag(self) -> dict[str, Any]: ...
    def metric_values(self) -> dict[str, int]: ...


@dataclass
class DaemonContext:
    settings: Settings
    store: DocumentStore
    transport: WhatsAppTransport
    manager: SessionManager
    authenticator: Authenticator
    inbound: StatsSource | None = None
    leases: LeaseView | None = None  # None: leases not running (a test app without them)
    # name -> callable returning a JSON-able dict, shown in /diag (e.g. the outbox worker)
    diag_sources: dict[str, Callable[[], Any]] = field(default_factory=dict)
    # what this daemon saw of each number it runs (per-number metrics, the fleet dashboard)
    fleet: FleetStats = field(default_factory=FleetStats)
    started_monotonic: float = field(default_factory=time.monotonic)
    version: str = "0.1.0"

    @property
    def uptime_seconds(self) -> float:
        return time.monotonic() - self.started_monotonic


CONTEXT: web.AppKey[DaemonContext] = web.AppKey("daemon_context", DaemonContext)
