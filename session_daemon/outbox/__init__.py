"""Outbound messages: the outbox worker (lease, pacing, retries, no double sends), receipts,
and the send/wake HTTP routes. `attach(app, ctx)` wires them into the daemon (`session_daemon.app`).

Interfaces for other parts of the daemon:
- `OutboxWorker(store, transport, instance_id=..., config=..., accounts=manager)`:
  `await start()`, `await stop()`, `wake()` (thread-safe), `stats()`.
- `apply_receipts(store, event: ReceiptReceived)` (in `receipts`): the inbound pipeline calls it.
- `register_outbox_routes(app, worker, store)` (in `routes`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from session_daemon.outbox.config import OutboxConfig, outbox_config_from_env
from session_daemon.outbox.receipts import apply_receipts
from session_daemon.outbox.worker import OutboxWorker

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiohttp import web

    from session_daemon.http.context import DaemonContext
    from session_daemon.leases.record import Fence

__all__ = ["OutboxConfig", "OutboxWorker", "apply_receipts", "attach", "outbox_config_from_env"]


def attach(
    app: web.Application,
    ctx: DaemonContext,
    *,
    fences: Callable[[str], Fence | None] | None = None,
) -> OutboxWorker:
    """Build the worker for a running daemon and register its routes on `app`. With `fences`
    (account leases) it sends only for the accounts this daemon owns, fenced by epoch."""
    from session_daemon.outbox.routes import register_outbox_routes

    worker = OutboxWorker(
        ctx.store,
        ctx.transport,
        instance_id=ctx.settings.instance_id,
        config=outbox_config_from_env(),
        accounts=ctx.manager,
        fences=fences,
    )
    register_outbox_routes(app, worker, ctx.store)
    return worker
