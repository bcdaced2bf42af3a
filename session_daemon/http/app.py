"""Build the aiohttp application from a `DaemonContext`."""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from session_daemon.http.context import CONTEXT, DaemonContext
from session_daemon.http.errors import (
    BODY_TIMEOUT,
    MAX_BODY,
    error_middleware,
    request_id_middleware,
)
from session_daemon.http.metrics import HttpMetrics
from session_daemon.http.routes import route_tables
from session_daemon.http.routes_ops import METRICS
from session_daemon.http.routes_outbox import bind_outbox
from session_daemon.http.routing import RouteSpec, add_routes
from session_daemon.outbox.worker import OutboxWorker


def build_app(
    ctx: DaemonContext,
    *,
    outbox: OutboxWorker | None = None,
    simulator: bool = False,
    media: Sequence[RouteSpec] = (),
    cloud: Sequence[RouteSpec] = (),
) -> web.Application:
    """The daemon's API: the route tables of `routes.route_tables`; the outbox's send and wake
    routes when given its worker, the simulator's when `simulator`, the local media store's
    signed file route when given it (`MediaService.routes`)."""
    metrics = HttpMetrics(ctx)
    app = web.Application(
        client_max_size=ctx.settings.max_body_bytes,
        middlewares=[request_id_middleware, metrics.middleware(), error_middleware],
    )
    app[CONTEXT] = ctx
    app[MAX_BODY] = ctx.settings.max_body_bytes
    app[BODY_TIMEOUT] = ctx.settings.http_body_timeout
    app[METRICS] = metrics
    tables = route_tables(outbox=outbox is not None, simulator=simulator, media=media, cloud=cloud)
    for table in tables:
        add_routes(app, table)
    if outbox is not None:
        bind_outbox(app, outbox, ctx.store)
    return app
