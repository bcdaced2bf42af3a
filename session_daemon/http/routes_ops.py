"""Operations routes: /health, /ready, /diag, /api/status/dashboard, /metrics, /openapi.json."""

from __future__ import annotations

import asyncio
import os
import platform
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from session_daemon.config import sessions_dir_writable
from session_daemon.http.context import CONTEXT, DaemonContext
from session_daemon.http.jsonable import jsonable
from session_daemon.http.metrics import inbound_stats
from session_daemon.http.openapi import openapi_document
from session_daemon.http.routes_accounts import admin_only_account_ids
from session_daemon.http.routing import RouteSpec, principal
from session_daemon.leases.engine import owners
from session_daemon.sessions.accounts import account_view
from shared.paths import ACCOUNTS
from shared.store.port import query

METRICS: web.AppKey[Any] = web.AppKey("metrics", object)
STORE_PING_TIMEOUT = 3.0


def _now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


async def _store_reachable(ctx: DaemonContext) -> bool:
    try:
        return bool(await asyncio.wait_for(asyncio.to_thread(ctx.store.ping), STORE_PING_TIMEOUT))
    except Exception:
        return False


async def health(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    writable, reachable = await asyncio.gather(
        asyncio.to_thread(sessions_dir_writable, ctx.settings.sessions_path),
        _store_reachable(ctx),
    )
    ok = writable and reachable
    summary = ctx.manager.summary()
    body = {
        "success": ok,
        "status": "ok" if ok else "unhealthy",
        "sessions_dir_writable": writable,
        "store_reachable": reachable,
        "instanceId": ctx.settings.instance_id,
        "uptimeSeconds": round(ctx.uptime_seconds, 1),
        "sessions": {
            "total": summary["sessions"],
            "connected": summary["byStatus"].get("connected", 0),
        },
        "timestamp": _now_iso(),
    }
    if not ok:
        body["error"] = "unhealthy"
        body["message"] = "sessions folder not writable" if not writable else "store unreachable"
    return web.json_response(body, status=200 if ok else 503)


async def ready(request: web.Request) -> web.Response:
    """CONTRACT.md section 5. With account leases, `lockStatus` is `held` while this instance
    owns at least one account's lease and `standby` while it owns none (it takes accounts over
    when another daemon dies or hands them over); ready either way once its sessions run."""
    ctx = request.app[CONTEXT]
    is_ready = ctx.manager.started
    body: dict[str, Any] = {
        "ready": is_ready,
        "mode": "active",
        "reason": "single instance; sessions restored" if is_ready else "starting",
        "instanceId": ctx.settings.instance_id,
        "lockStatus": "not_required",
        "heldBy": ctx.settings.instance_id,
        "lockExpiresInSeconds": None,
        "timestamp": _now_iso(),
    }
    if ctx.leases is not None:
        body.update(ctx.leases.ready_fields())
        if is_ready:
            body["reason"] = (
                "owns account leases; sessions running"
                if body["lockStatus"] == "held"
                else "standby: owns no account lease, takes over when another daemon stops"
            )
    return web.json_response(body, status=200 if is_ready else 503)


async def diag(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    extra: dict[str, Any] = {}
    for name, source in ctx.diag_sources.items():
        try:
            extra[name] = jsonable(source())
        except Exception as exc:
            extra[name] = {"error": type(exc).__name__}
    body = {
        "success": True,
        "instanceId": ctx.settings.instance_id,
        "version": ctx.version,
        "pid": os.getpid(),
        "python": platform.python_version(),
        "uptimeSeconds": round(ctx.uptime_seconds, 1),
        "transport": ctx.settings.transport,
        "storeUrlScheme": ctx.settings.store_url.split(":", 1)[0],
        "sessionsPath": str(ctx.settings.sessions_path),
        **(
            {"sessionsDatabase": _redacted(ctx.settings.sessions_url)}
            if ctx.settings.sessions_url
            else {}
        ),
        "sessions": ctx.manager.summary(),
        "inbound": jsonable(inbound_stats(ctx)),
        **({"leases": jsonable(ctx.leases.diag())} if ctx.leases is not None else {}),
        **extra,
        "timestamp": _now_iso(),
    }
    return web.json_response(body)


async def dashboard_json(request: web.Request) -> web.Response:
    """Accounts with status and totals. Staff do not see the accounts marked admin-only
    (`config/whatsapp_inbox.adminOnlyAccountIds`), not even in the counts; nobody sees QR codes
    here (`pairing` only says one is being shown)."""
    ctx = request.app[CONTEXT]
    who = principal(request)
    is_admin = who is None or who.is_super_admin
    docs = await asyncio.to_thread(ctx.store.query, query(ACCOUNTS))
    hidden = set() if is_admin else await admin_only_account_ids(ctx)
    owned = await asyncio.to_thread(owners, ctx.store, datetime.now(UTC))
    accounts = []
    for snap in docs:
        if snap.data.get("status") == "deleted" or snap.id in hidden:
            continue
        view = account_view(snap.id, snap.data)
        view["pairing"] = "true" if ctx.manager.is_pairing(snap.id) else "false"
        # which daemon runs it, since when (its account lease)
        owner, since = owned.get(snap.id, (None, None))
        view["owner"] = owner
        view["ownerSince"] = since.isoformat() if since is not None else None
        accounts.append(view)
    accounts.sort(key=lambda a: (a["name"] or "", a["id"] or ""))
    summary = ctx.manager.summary()
    by_status: dict[str, int] = summary["byStatus"]
    pairings: int = summary["pairingsInProgress"]
    if not is_admin:
        by_status = {}
        for view in accounts:
            status = ctx.manager.status_of(str(view["id"])) or view["status"] or "unknown"
            by_status[status] = by_status.get(status, 0) + 1
        pairings = sum(1 for view in accounts if view["pairing"] == "true")
    return web.json_response(
        {
            "success": True,
            "instanceId": ctx.settings.instance_id,
            "uptimeSeconds": round(ctx.uptime_seconds, 1),
            "accounts": accounts,
            "totals": {"accounts": len(accounts), **by_status},
            "pairingsInProgress": pairings,
            "inbound": jsonable(inbound_stats(ctx)),
            "timestamp": _now_iso(),
        }
    )


async def metrics(request: web.Request) -> web.Response:
    registry = request.app[METRICS].registry
    payload = await asyncio.to_thread(generate_latest, registry)
    return web.Response(body=payload, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def openapi(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    return web.json_response(openapi_document(request.app, ctx.version))


OPS_ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec(
        "GET",
        "/health",
        health,
        "public",
        "Liveness: 503 when the sessions folder is not writable or the store unreachable",
        tag="ops",
        responses={200: "Healthy", 503: "Unhealthy"},
    ),
    RouteSpec(
        "GET",
        "/ready",
        ready,
        "public",
        "Readiness and instance mode",
        tag="ops",
        responses={200: "Ready", 503: "Starting"},
    ),
    RouteSpec("GET", "/diag", diag, "super_admin", "Diagnostics", tag="ops"),
    RouteSpec(
        "GET",
        "/api/status/dashboard",
        dashboard_json,
        "employee",
        "Dashboard data: accounts with status and totals (staff: without admin-only accounts)",
        tag="ops",
    ),
    RouteSpec(
        "GET",
        "/metrics",
        metrics,
        "super_admin",
        "Prometheus metrics",
        tag="ops",
        content_type="text/plain",
    ),
    RouteSpec("GET", "/openapi.json", openapi, "employee", "This document", tag="ops"),
)


def _redacted(url: str) -> str:
    """A postgres:// sessions location without its password (issue 14)."""
    from session_daemon.sessions.pg_sessions import parse_sessions_url

    return parse_sessions_url(url).redacted()
