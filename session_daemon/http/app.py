"""Build the aiohttp application from a `DaemonContext`."""

from __future__ import annotations

from aiohttp import web

from session_daemon.http.context import CONTEXT, DaemonContext
from session_daemon.http.errors import (
    BODY_TIMEOUT,
    MAX_BODY,
    error_middleware,
    request_id_middleware,
)
from session_daemon.http.metrics import HttpMetrics
from session_daemon.http.page import PAGE_ROUTES
from session_daemon.http.routes_accounts import ACCOUNT_ROUTES
from session_daemon.http.routes_data import DATA_ROUTES
from session_daemon.http.routes_ops import METRICS, OPS_ROUTES
from session_daemon.http.routes_proxy import PROXY_ROUTES
from session_daemon.http.routing import add_routes


def build_app(ctx: DaemonContext) -> web.Application:
    """The API without simulator or outbox routes (the daemon wiring adds those)."""
    metrics = HttpMetrics(ctx)
    app = web.Application(
        client_max_size=ctx.settings.max_body_bytes,
        middlewares=[request_id_middleware, metrics.middleware(), error_middleware],
    )
    app[CONTEXT] = ctx
    app[MAX_BODY] = ctx.settings.max_body_bytes
    app[BODY_TIMEOUT] = ctx.settings.http_body_timeout
    app[METRICS] = metrics
    add_routes(app, OPS_ROUTES)
    add_routes(app, PAGE_ROUTES)
    add_routes(app, ACCOUNT_ROUTES)
    add_routes(app, PROXY_ROUTES)
    add_routes(app, DATA_ROUTES)
    return app
