"""`GET /api/fleet`: the fleet dashboard's data (bearer, super-admins: it names every number and
its owner daemon). One row per number: status and the human reason, owner daemon, queue depth,
and, for the numbers this daemon runs, its own counters (last inbound/outbound, today's
messages and failures, reconnects). QR codes are not here: the page asks
`GET /api/whatsapp/qr/{accountId}` for the rows that are pairing."""

from __future__ import annotations

import asyncio

from aiohttp import web

from session_daemon.fleet.stats import COMPANY_TZ
from session_daemon.fleet.view import fleet_snapshot
from session_daemon.http.context import CONTEXT
from session_daemon.http.metrics import local_view
from session_daemon.http.routing import RouteSpec
from shared.timeutil import utc_now


async def fleet(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    now = utc_now()
    rows = await asyncio.to_thread(fleet_snapshot, ctx.store, local_view(ctx), now)
    summary = ctx.manager.summary()
    return web.json_response(
        {
            "success": True,
            "instanceId": ctx.settings.instance_id,
            "generatedAt": now.isoformat(),
            "timeZone": str(COMPANY_TZ),  # what "today" means in the counters
            "pairingsInProgress": summary["pairingsInProgress"],
            "maxConcurrentPairings": summary["maxConcurrentPairings"],
            "accounts": rows,
        },
        headers={"Cache-Control": "no-store"},
    )


FLEET_ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec(
        "GET",
        "/api/fleet",
        fleet,
        "super_admin",
        "Fleet dashboard data: one row per number (status, reason, owner, queue, activity)",
        tag="ops",
    ),
)
