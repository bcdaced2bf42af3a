"""Routes of issue 16 (`AUTO_REPLY_ROUTES`): a thread's auto-reply opt-out, and broadcasts.

- `POST /api/whatsapp/threads/{threadId}/auto-reply` `{enabled}` (employees): sets the thread's
  `aiEnabled` (false: no automatic reply in this conversation).
- `POST /api/whatsapp/broadcasts/{accountId}` `{text, recipients, clientBroadcastId?}`
  (super-admins): one text to <= 256 recipients (E.164 phones or thread ids of the account);
  on a Cloud API account an approved `template` instead (issue 18's seam).
- `GET /api/whatsapp/broadcasts/{accountId}` `?limit=` (super-admins): the account's broadcasts,
  newest first, each with its per-status counts (no recipient lists).
- `GET /api/whatsapp/broadcasts/{accountId}/{broadcastId}` (super-admins): per-recipient results.

The broadcast runner (`BROADCAST_RUNNER`, set by the daemon's wiring) sends them; without one the
broadcast is stored and sent by the daemon that holds the account.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, Final

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from session_daemon.autoreply.broadcast import (
    BadRecipient,
    BroadcastRequest,
    broadcast_id_for,
    counts,
    create_broadcast,
    resolve_recipients,
    valid_broadcast_id,
)
from session_daemon.autoreply.broadcast_runner import BroadcastRunner
from session_daemon.cloud_api.accounts import CLOUD, account_kind
from session_daemon.http.context import CONTEXT
from session_daemon.http.errors import ApiError
from session_daemon.http.jsonable import jsonable
from session_daemon.http.routes_accounts import (
    account_id_param,
    admin_only_account_ids,
    require_account_access,
)
from session_daemon.http.routing import QueryParam, RouteSpec, int_query, principal, read_body
from shared.outbox import SendRejected, check_template
from shared.paths import (
    BROADCASTS,
    InvalidId,
    broadcast_path,
    check_id,
    outbox_path,
    thread_path,
)
from shared.store.port import query
from shared.store.sentinels import SERVER_TIMESTAMP

BROADCAST_RUNNER: web.AppKey[BroadcastRunner] = web.AppKey("broadcast_runner", BroadcastRunner)
DEFAULT_GAP_S: Final = 5.0
LIST_DEFAULT: Final = 20
LIST_MAX: Final = 100


def broadcast_gap_from_env() -> float:
    """`WHATSAPP_BROADCAST_GAP_SECONDS` (default 5): the wait between two recipients, on top
    of the account's pacing (bulk sending gets numbers banned)."""
    raw = (os.environ.get("WHATSAPP_BROADCAST_GAP_SECONDS") or "").strip()
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_GAP_S
    except ValueError:
        return DEFAULT_GAP_S


class ThreadAutoReplyRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")
    enabled: bool


def _thread_id_param(request: web.Request) -> str:
    try:
        return check_id(request.match_info["threadId"], "threadId")
    except InvalidId as exc:
        raise ApiError(400, "invalid_request", f"Invalid request: {exc}") from None


async def thread_auto_reply(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    tid = _thread_id_param(request)
    body = await read_body(request, ThreadAutoReplyRequest)
    snap = await asyncio.to_thread(ctx.store.get, thread_path(tid))
    if snap is None:
        raise ApiError(404, "thread_not_found", "This conversation does not exist.")
    who = principal(request)
    account = str(snap.data.get("accountId") or "")
    if who is not None and not who.is_super_admin and account in await admin_only_account_ids(ctx):
        raise ApiError(403, "super_admin_only", "This account is visible to admins only.")
    patch: dict[str, Any] = {"aiEnabled": body.enabled, "updatedAt": SERVER_TIMESTAMP}
    await asyncio.to_thread(ctx.store.update, thread_path(tid), patch)
    return web.json_response({"success": True, "threadId": tid, "aiEnabled": body.enabled})


def _template(body: BroadcastRequest, *, cloud: bool) -> dict[str, Any] | None:
    """The message kind: a template on a Cloud API account (free text outside a client's
    24-hour window is refused there, and a broadcast mostly reaches silent clients), text on a
    linked device (which cannot send templates)."""
    if not cloud:
        if body.template is not None:
            raise ApiError(
                400,
                "invalid_request",
                "Invalid request: template: only Cloud API accounts send templates.",
                fields=["template"],
            )
        return None
    if body.template is None:
        raise ApiError(
            400,
            "template_required",
            "Broadcasts on a Cloud API account go out as approved templates: send 'template'.",
            fields=["template"],
        )
    try:
        return check_template(body.template)
    except SendRejected as exc:
        raise ApiError(400, exc.code, exc.message, fields=["template"]) from None


def _uid(request: web.Request) -> str:
    who = principal(request)
    if who is None or who.kind == "service" or not who.uid:
        return "service:operator"
    return who.uid


async def create(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    account_id = account_id_param(request)
    body = await read_body(request, BroadcastRequest)
    data = await require_account_access(request, account_id)
    template = _template(body, cloud=account_kind(data) == CLOUD)
    try:
        targets = await asyncio.to_thread(
            resolve_recipients, ctx.store, account_id, body.recipients
        )
    except BadRecipient as exc:
        raise ApiError(
            400, "invalid_recipient", f"Invalid request: {exc}", fields=[exc.field]
        ) from None
    uid = _uid(request)
    runner = request.app.get(BROADCAST_RUNNER)
    bid = broadcast_id_for(account_id, uid, body.client_broadcast_id)
    doc, duplicate = await asyncio.to_thread(
        create_broadcast,
        ctx.store,
        broadcast_id=bid,
        account_id=account_id,
        text=body.shown_text(),
        template=template,
        targets=targets,
        uid=uid,
        gap_s=broadcast_gap_from_env(),
    )
    if runner is not None and not duplicate:
        runner.kick()
    return web.json_response(
        {
            "success": True,
            "broadcastId": bid,
            "duplicate": duplicate,
            "status": doc.get("status"),
            "total": len(doc.get("recipients") or []),
        }
    )


async def results(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    account_id = account_id_param(request)
    bid = request.match_info["broadcastId"]
    if not valid_broadcast_id(bid):
        raise ApiError(404, "broadcast_not_found", "No such broadcast.")
    await require_account_access(request, account_id)
    snap = await asyncio.to_thread(ctx.store.get, broadcast_path(bid))
    if snap is None or snap.data.get("accountId") != account_id:
        raise ApiError(404, "broadcast_not_found", "No such broadcast.")
    doc = snap.data
    recipients = [dict(r) for r in doc.get("recipients") or []]
    rids = [r.get("requestId") for r in recipients]
    items = await asyncio.to_thread(
        ctx.store.get_many, [outbox_path(str(rid)) for rid in rids if rid]
    )
    by_id = {s.id: s.data for s in items if s is not None}
    for r in recipients:  # the outbox item's own status, live (sent, then delivered by receipts)
        item = by_id.get(str(r.get("requestId")))
        r["outboxStatus"] = item.get("status") if item else None
    body = {
        "id": bid,
        "accountId": account_id,
        "text": doc.get("text"),
        "status": doc.get("status"),
        "stopReason": doc.get("stopReason"),
        "createdAt": doc.get("createdAt"),
        "createdByUid": doc.get("createdByUid"),
        "gapSeconds": doc.get("gapSeconds"),
        "counts": counts(doc),
        "recipients": recipients,
    }
    return web.json_response({"success": True, "broadcast": jsonable(body)})


def _summary(bid: str, doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": bid,
        "text": doc.get("text"),
        "status": doc.get("status"),
        "stopReason": doc.get("stopReason"),
        "createdAt": doc.get("createdAt"),
        "createdByUid": doc.get("createdByUid"),
        "total": len(doc.get("recipients") or []),
        "counts": counts(doc),
    }


async def list_broadcasts(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    account_id = account_id_param(request)
    limit = int_query(request, "limit", LIST_DEFAULT, 1, LIST_MAX)
    await require_account_access(request, account_id)
    snaps = await asyncio.to_thread(
        ctx.store.query,
        query(
            BROADCASTS,
            where=[("accountId", "==", account_id)],
            order_by=[("createdAtMs", "desc")],
            limit=limit,
        ),
    )
    rows = [_summary(snap.id, snap.data) for snap in snaps]
    return web.json_response({"success": True, "broadcasts": jsonable(rows)})


AUTO_REPLY_ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec(
        "POST",
        "/api/whatsapp/threads/{threadId}/auto-reply",
        thread_auto_reply,
        "employee",
        "Turn automatic replies off (or back on) in one conversation (threads.aiEnabled)",
        body=ThreadAutoReplyRequest,
        responses={
            200: "Saved",
            400: "invalid_request",
            403: "super_admin_only",
            404: "thread_not_found",
        },
    ),
    RouteSpec(
        "POST",
        "/api/whatsapp/broadcasts/{accountId}",
        create,
        "super_admin",
        "Send one text (a template on a Cloud API account) to up to 256 recipients, one by one",
        body=BroadcastRequest,
        responses={
            200: "Stored; sent in the background (or already stored: `duplicate: true`)",
            400: "invalid_request, invalid_recipient, template_required, invalid_template "
            "(names the field)",
            404: "account_not_found",
        },
    ),
    RouteSpec(
        "GET",
        "/api/whatsapp/broadcasts/{accountId}",
        list_broadcasts,
        "super_admin",
        "The account's broadcasts, newest first, with per-status counts",
        query=(
            QueryParam(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": LIST_MAX},
                f"default {LIST_DEFAULT}",
            ),
        ),
        responses={200: "The broadcasts", 400: "invalid_request", 404: "account_not_found"},
    ),
    RouteSpec(
        "GET",
        "/api/whatsapp/broadcasts/{accountId}/{broadcastId}",
        results,
        "super_admin",
        "A broadcast's status and per-recipient results",
        responses={200: "The broadcast", 404: "account_not_found, broadcast_not_found"},
    ),
)
