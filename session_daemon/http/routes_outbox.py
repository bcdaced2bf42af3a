"""HTTP routes of the outbox: `POST /api/whatsapp/send` and `POST /api/whatsapp/outbox/wake`
(`OUTBOX_ROUTES`, registered by `build_app` with the other tables of `routes`), and
`outbox_worker(ctx)`, which builds the running daemon's worker.

Both accept the daemon's service token or an employee's Firebase ID token (the shared auth of
`session_daemon.http`). Send applies the same idempotency and thread rules as
`whatsappProxySend` (`shared.outbox.enqueue_send`): with an ID token the caller's uid keys the
request and the owner policy applies; with the service token (operators, scripts) the uid is
`service:<uid field or "operator">` and the owner policy is skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp import web

from session_daemon.cloud_api.media_url import MediaUrlRules, classify_media_url
from session_daemon.http.context import CONTEXT, DaemonContext
from session_daemon.http.errors import ApiError
from session_daemon.http.jsonable import jsonable
from session_daemon.http.routes_accounts import admin_only_account_ids
from session_daemon.http.routing import RouteSpec, principal, read_json_object
from session_daemon.leases.record import Fence
from session_daemon.outbox.config import outbox_config_from_env
from session_daemon.outbox.worker import OutboxWorker
from shared import schemas
from shared.outbox import SendRejected, enqueue_send, validate_send_request
from shared.store.port import DocumentStore

OUTBOX_WORKER: web.AppKey[OutboxWorker] = web.AppKey("outbox_worker", OutboxWorker)
OUTBOX_STORE: web.AppKey[Any] = web.AppKey("outbox_store", object)
# which `media.url` a send may name (the daemon fetches it: cloud_api/media_url.py)
SEND_MEDIA_RULES: web.AppKey[MediaUrlRules] = web.AppKey("send_media_rules", MediaUrlRules)
# (accountId, toJid) -> an error to answer instead of queueing (the Cloud API's 24-hour window)
SEND_PRECHECK: web.AppKey[Any] = web.AppKey("send_precheck", object)


def _rejected(exc: SendRejected) -> ApiError:
    return ApiError(exc.http_status, exc.code, exc.message)


async def send(request: web.Request) -> web.Response:
    store: DocumentStore = request.app[OUTBOX_STORE]
    worker = request.app[OUTBOX_WORKER]
    body = await read_json_object(request)
    try:
        req = validate_send_request(body)
    except SendRejected as exc:
        raise _rejected(exc) from None
    if req.media is not None:
        rules = request.app.get(SEND_MEDIA_RULES) or MediaUrlRules()
        if classify_media_url(str(req.media.get("url") or ""), rules) is None:
            raise ApiError(
                400,
                "media_url_not_allowed",
                "media.url must be a link of our own media stores (the daemon's /media/ links, "
                "the configured Storage bucket) or of a host in WHATSAPP_SEND_MEDIA_HOSTS.",
                field="media.url",
            )
    who = principal(request)
    privileged = who is None or who.kind == "service"
    if privileged:
        operator = body.get("uid")
        name = operator.strip() if isinstance(operator, str) else ""
        uid = f"service:{name if 0 < len(name) <= 128 else 'operator'}"
    else:
        assert who is not None
        if not who.uid:
            raise ApiError(401, "unauthorized", "The token carries no user id.")
        uid = who.uid
        if not who.is_super_admin and req.account_id in await admin_only_account_ids(
            request.app[CONTEXT]
        ):
            raise ApiError(403, "super_admin_only", "This account is visible to admins only.")
    precheck = request.app.get(SEND_PRECHECK)
    if precheck is not None:
        refused = await asyncio.to_thread(precheck, req.account_id, req.to_jid)
        if refused is not None:
            raise refused
    try:
        result = await asyncio.to_thread(
            enqueue_send,
            store,
            thread_id=req.thread_id,
            account_id=req.account_id,
            to_jid=req.to_jid,
            text=req.text,
            uid=uid,
            client_message_id=req.client_message_id,
            privileged=privileged,
            reply_to_message_id=req.reply_to_message_id,
            media=req.media,
        )
    except SendRejected as exc:
        raise _rejected(exc) from None
    if not result.duplicate:
        worker.wake()
    return web.json_response(
        {
            "success": True,
            "requestId": result.request_id,
            "duplicate": result.duplicate,
            "message": "Already queued." if result.duplicate else "Queued for sending.",
            "messageDoc": {"id": result.request_id, **jsonable(result.message_doc)},
        }
    )


async def wake(request: web.Request) -> web.Response:
    request.app[OUTBOX_WORKER].wake()
    return web.json_response({"success": True, "message": "Outbox worker woken."})


OUTBOX_ROUTES = (
    RouteSpec(
        "POST",
        "/api/whatsapp/send",
        send,
        "employee",
        "Queue a message in a thread: text, or a file (`media`, Cloud API accounts), optionally "
        "quoting one (`replyToMessageId`); idempotent per threadId, uid, clientMessageId",
        body=schemas.SendRequest,
        responses={
            200: "Queued, or already queued (`duplicate: true`)",
            400: "invalid_request, media_url_not_allowed (`media.url` outside our media "
            "stores and WHATSAPP_SEND_MEDIA_HOSTS)",
            403: "account_mismatch, to_jid_mismatch, not_owner_or_cowriter, super_admin_only",
            404: "thread_not_found, reply_target_not_found",
            409: "outside_service_window (a Cloud API client silent for 24 h: send a template)",
        },
    ),
    RouteSpec(
        "POST",
        "/api/whatsapp/outbox/wake",
        wake,
        "employee",
        "Wake the outbox worker now (the proxy calls this after queueing)",
    ),
)


def bind_outbox(app: web.Application, worker: OutboxWorker, store: DocumentStore) -> None:
    """Give the routes their worker and store (`build_app` does, with `outbox=`)."""
    app[OUTBOX_WORKER] = worker
    app[OUTBOX_STORE] = store


def outbox_worker(
    ctx: DaemonContext, *, fences: Callable[[str], Fence | None] | None = None
) -> OutboxWorker:
    """The worker of a running daemon (not started). With `fences` (account leases) it sends
    only for the accounts this daemon owns, each claim fenced by the lease's epoch."""
    return OutboxWorker(
        ctx.store,
        ctx.transport,
        instance_id=ctx.settings.instance_id,
        config=outbox_config_from_env(),
        accounts=ctx.manager,
        fences=fences,
    )
