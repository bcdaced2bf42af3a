"""Account control: list, add, QR, regenerate QR, phone pairing code, delete, backfill."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, StringConstraints

from session_daemon.cloud_api.accounts import CLOUD, linked_device_answer
from session_daemon.http.context import CONTEXT, DaemonContext
from session_daemon.http.errors import ApiError
from session_daemon.http.qr_image import qr_data_url, qr_png
from session_daemon.http.routing import QueryParam, RouteSpec, principal, read_body
from session_daemon.sessions.accounts import account_view, is_valid_account_id
from session_daemon.sessions.errors import (
    AccountLimitReached,
    AccountNotFound,
    AlreadyConnected,
    BackfillUnsupported,
    NotConnectedError,
    PairingUnavailable,
)
from session_daemon.transport.port import NotPairing, TransportError
from shared import identity
from shared.paths import ACCOUNTS, InvalidId, check_id
from shared.phones import to_e164
from shared.schemas import AddAccountRequest
from shared.store.port import query

Phone = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=40)]


class PairingCodeRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")
    phone: Phone | None = None


# ---- helpers ---------------------------------------------------------------------------------


def account_id_param(request: web.Request) -> str:
    account_id = request.match_info["accountId"]
    try:  # ids are single path segments: control characters, '.', '..' are the caller's error
        check_id(account_id, "accountId")
    except InvalidId as exc:
        raise ApiError(400, "invalid_request", f"Invalid request: {exc}") from None
    if not is_valid_account_id(account_id):
        raise ApiError(404, "account_not_found", "No such account.")
    return account_id


async def load_account(ctx: DaemonContext, account_id: str) -> dict[str, Any]:
    try:
        return await ctx.manager.get_account(account_id)
    except AccountNotFound:
        raise ApiError(404, "account_not_found", "No such account.") from None


async def admin_only_account_ids(ctx: DaemonContext) -> frozenset[str]:
    return await asyncio.to_thread(identity.admin_only_account_ids, ctx.store)


async def require_account_access(request: web.Request, account_id: str) -> dict[str, Any]:
    """The account, or 404; staff get 403 on accounts marked admin-only."""
    ctx = request.app[CONTEXT]
    data = await load_account(ctx, account_id)
    who = principal(request)
    if (
        who is not None
        and not who.is_super_admin
        and account_id in await admin_only_account_ids(ctx)
    ):
        raise ApiError(403, "super_admin_only", "This account is visible to admins only.")
    return data


def _with_secrets(ctx: DaemonContext, account_id: str, data: dict[str, Any]) -> dict[str, Any]:
    secrets = ctx.manager.secrets.get(account_id)
    pairing = ctx.manager.is_pairing(account_id)
    return account_view(
        account_id,
        data,
        qr_code=qr_data_url(secrets.qr_code) if pairing and secrets.qr_code else None,
        pairing_code=secrets.pairing_code if pairing else None,
    )


async def cloud_answer(ctx: DaemonContext, account_id: str, operation: str) -> web.Response | None:
    """A Cloud API number has no QR, pairing code or phone history: the defined answers."""
    try:
        data = await ctx.manager.get_account(account_id)
    except AccountNotFound:
        return None  # the operation's own 404
    if data.get("kind") != CLOUD:
        return None
    status, body = linked_device_answer(operation)
    return web.json_response(body, status=status)


def _rate_limited(exc: PairingUnavailable) -> ApiError:
    return ApiError(
        429,
        "rate_limited",
        f"{exc}; try again in {exc.retry_after} s.",
        retryAfterSeconds=exc.retry_after,
    )


# ---- handlers --------------------------------------------------------------------------------


async def list_accounts(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    who = principal(request)
    is_admin = who is None or who.is_super_admin
    docs = await asyncio.to_thread(ctx.store.query, query(ACCOUNTS))
    hidden = frozenset() if is_admin else await admin_only_account_ids(ctx)
    accounts = []
    for snap in docs:
        if snap.data.get("status") == "deleted" or snap.id in hidden:
            continue
        view = (
            _with_secrets(ctx, snap.id, snap.data) if is_admin else account_view(snap.id, snap.data)
        )
        accounts.append(view)
    accounts.sort(key=lambda a: (a["name"] or "", a["id"] or ""))
    return web.json_response({"success": True, "accounts": accounts})


async def add_account(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    body = await read_body(request, AddAccountRequest)  # the proxy's rules: phone -> E.164
    try:
        result = await ctx.manager.add_account(body.name, body.phone, body.phone)
    except AccountLimitReached as exc:
        raise ApiError(
            409,
            "account_limit_reached",
            f"At most {exc.limit} WhatsApp accounts; delete one first.",
            limit=exc.limit,
        ) from None
    return web.json_response(
        {
            "success": True,
            "accountId": result.account_id,
            "created": result.created,
            "message": "Account added; scan the QR to pair."
            if result.created
            else "An account with this phone already exists.",
            "account": _with_secrets(ctx, result.account_id, result.data),
        }
    )


async def get_qr(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    account_id = account_id_param(request)
    data = await load_account(ctx, account_id)
    fmt = request.query.get("format", "json")
    if fmt not in ("json", "png"):
        raise ApiError(400, "invalid_request", "'format' must be 'json' or 'png'.")
    secrets = ctx.manager.secrets.get(account_id)
    pairing = ctx.manager.is_pairing(account_id)
    qr = secrets.qr_code if pairing else None
    if fmt == "png":
        if qr is None:
            raise ApiError(404, "qr_not_available", "No QR code right now; regenerate the QR.")
        png = await asyncio.to_thread(qr_png, qr)
        return web.Response(
            body=png, content_type="image/png", headers={"Cache-Control": "no-store"}
        )
    return web.json_response(
        {
            "success": True,
            "accountId": account_id,
            "status": ctx.manager.status_of(account_id) or data.get("status"),
            "qr": qr,
            "qrCode": qr_data_url(qr) if qr else None,
            "pairingCode": secrets.pairing_code if pairing else None,
            "qrUpdatedAt": secrets.qr_updated_at.isoformat()
            if qr and secrets.qr_updated_at
            else None,
        },
        headers={"Cache-Control": "no-store"},
    )


async def regenerate_qr(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    account_id = account_id_param(request)
    if (answer := await cloud_answer(ctx, account_id, "regenerate_qr")) is not None:
        return answer
    try:
        result = await ctx.manager.regenerate_qr(account_id)
    except AccountNotFound:
        raise ApiError(404, "account_not_found", "No such account.") from None
    except AlreadyConnected:
        # Not an error for the app (CONTRACT section 2): it shows the message; the number
        # stays linked (nothing is logged out).
        return web.json_response(
            {
                "success": True,
                "status": "already_connected",
                "message": "This account is already connected; no QR code is needed.",
            }
        )
    except PairingUnavailable as exc:
        raise _rate_limited(exc) from None
    if result.kind == "already_in_progress":
        return web.json_response(
            {
                "success": True,
                "status": "already_in_progress",
                "requestId": result.request_id,
                "message": "A QR pairing is already in progress.",
            },
            status=202,
        )
    message = (
        "Reconnecting the stored session."
        if result.kind == "reconnecting"
        else "A new QR code is being generated."
    )
    return web.json_response(
        {"success": True, "status": result.kind, "requestId": result.request_id, "message": message}
    )


async def pairing_code(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    account_id = account_id_param(request)
    body = await read_body(request, PairingCodeRequest)
    if (answer := await cloud_answer(ctx, account_id, "pairing_code")) is not None:
        return answer
    phone = None
    if body.phone is not None:
        phone = to_e164(body.phone)
        if phone is None:
            raise ApiError(400, "invalid_request", "Invalid request: phone is not a valid number.")
    try:
        code = await ctx.manager.request_pairing_code(account_id, phone)
    except AccountNotFound:
        raise ApiError(404, "account_not_found", "No such account.") from None
    except AlreadyConnected:
        raise ApiError(409, "already_connected", "This account is connected.") from None
    except PairingUnavailable as exc:
        raise _rate_limited(exc) from None
    except NotPairing:
        # banned, replaced or disconnected while pairing: the state moved on, not our fault
        raise ApiError(
            409, "not_pairing", "The session is not pairing right now; regenerate the QR first."
        ) from None
    except (NotConnectedError, TransportError):
        raise ApiError(
            503, "pairing_unavailable", "WhatsApp did not give a pairing code; try again."
        ) from None
    return web.json_response(
        {
            "success": True,
            "accountId": account_id,
            "pairingCode": code,
            "message": "Enter this code on the phone: Linked devices > Link with phone number.",
        },
        headers={"Cache-Control": "no-store"},
    )


async def delete_account(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    account_id = account_id_param(request)
    try:
        changed = await ctx.manager.delete_account(account_id)
    except AccountNotFound:
        raise ApiError(404, "account_not_found", "No such account.") from None
    message = (
        "Account deleted; its threads and messages are kept."
        if changed
        else ("Account was already deleted.")
    )
    return web.json_response({"success": True, "message": message})


async def backfill(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    account_id = account_id_param(request)
    await require_account_access(request, account_id)
    if (answer := await cloud_answer(ctx, account_id, "backfill")) is not None:
        return answer
    try:
        request_id, running = await ctx.manager.backfill(account_id)
    except AccountNotFound:
        raise ApiError(404, "account_not_found", "No such account.") from None
    except BackfillUnsupported as exc:
        raise ApiError(409, "backfill_unsupported", str(exc)) from None
    except NotConnectedError:
        raise ApiError(409, "not_connected", "The account is not connected.") from None
    message = "A backfill is already running." if running else "Backfill started."
    return web.json_response(
        {
            "success": True,
            "status": "already_in_progress" if running else "started",
            "message": message,
            "requestId": request_id,
        }
    )


ACCOUNT_ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec(
        "GET",
        "/api/whatsapp/accounts",
        list_accounts,
        "employee",
        "Accounts with status (QR/pairing codes for super-admins only)",
    ),
    RouteSpec(
        "POST",
        "/api/whatsapp/add-account",
        add_account,
        "super_admin",
        "Add an account (idempotent by phone) and start QR pairing",
        body=AddAccountRequest,
        responses={
            200: "Added, or the existing account of this phone",
            409: "account_limit_reached (WHATSAPP_MAX_ACCOUNTS live accounts)",
        },
    ),
    RouteSpec(
        "GET",
        "/api/whatsapp/qr/{accountId}",
        get_qr,
        "super_admin",
        "Current QR code as JSON, or as a PNG image with ?format=png",
        query=(QueryParam("format", {"type": "string", "enum": ["json", "png"]}),),
        responses={200: "QR data or image", 404: "No QR right now"},
        media={200: ("application/json", "image/png")},
    ),
    RouteSpec(
        "POST",
        "/api/whatsapp/regenerate-qr/{accountId}",
        regenerate_qr,
        "super_admin",
        "Start a new QR pairing (or reconnect a paired account)",
        responses={
            200: "Started, reconnecting, or already connected (status already_connected)",
            202: "Already in progress",
            429: "Too many pairings / too soon",
        },
    ),
    RouteSpec(
        "POST",
        "/api/whatsapp/pairing-code/{accountId}",
        pairing_code,
        "super_admin",
        "Phone-number pairing code (8 characters)",
        body=PairingCodeRequest,
        responses={
            200: "The code",
            409: "already_connected / not_pairing / not_linked_device (a Cloud API number)",
            429: "rate_limited: too many pairings / too soon",
            503: "pairing_unavailable / auth_unavailable",
        },
    ),
    RouteSpec(
        "DELETE",
        "/api/whatsapp/accounts/{accountId}",
        delete_account,
        "super_admin",
        "Stop and unlink the session, wipe its session db; threads and messages are kept",
    ),
    RouteSpec(
        "POST",
        "/api/whatsapp/backfill/{accountId}",
        backfill,
        "employee",
        "Ask the phone for older messages of recent threads (asynchronous). With the neonize "
        "transport this is always 409 `backfill_unsupported` (neonize 0.5.2 cannot request "
        "history); the answer is the same every time, so retrying does not help.",
        responses={
            200: "Started, or already_in_progress (a run within the cooldown: same requestId)",
            404: "No such account",
            409: "`backfill_unsupported` (the transport cannot request history), `not_connected`, "
            "`not_linked_device` (a Cloud API number)",
        },
    ),
)
