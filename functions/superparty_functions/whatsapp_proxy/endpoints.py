"""The `whatsappProxy*` handlers, free of Flask: `handle(name, request, deps)`.

Order of checks, the same for every endpoint: method (405) → token (401) → role (403) → input
(400) → configuration (500 configuration_missing) → backend (502). Nothing reaches the daemon
before the caller and the input are known good.

Reads (inbox, threads) are forwarded to the daemon's own routes rather than read here: one
implementation of those queries and of their JSON (the app's release builds call the same
routes directly), and the inbox is a collection-group query the npm Firestore emulator lacks.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from shared.identity import (
    Caller,
    InvalidToken,
    admin_only_account_ids,
    bearer_token,
    caller_from_claims,
    may_see_account,
)
from shared.outbox import SendRejected, enqueue_send, validate_send_request
from shared.paths import SUPER_ADMINS_CONFIG, InvalidId, is_id
from shared.schemas import AddAccountRequest, InvalidPayload, validate_payload
from shared.store.port import DocumentStore

from .backend import CONFIGURATION_MISSING, Backend, BackendConfig
from .core import INTERNAL_ERROR, ProxyError, ProxyRequest, ProxyResponse, invalid

log = logging.getLogger(__name__)

Access = Literal["signed_in", "employee", "super_admin"]

# fullmatch, never `$`: `$` also matches before a final newline (`wa_1\n` passed)
ACCOUNT_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")
MAX_BODY_BYTES = 256 * 1024
# Keys that carry pairing data; compared without case or separators ("QR_code", "pairing-url").
PAIRING_KEYS = frozenset({"qr", "qrcode", "pairingcode", "pairingurl"})
ALREADY_CONNECTED = {
    "success": True,
    "status": "already_connected",
    "message": "This account is already connected; no QR code is needed.",
}


@dataclass(frozen=True)
class Deps:
    store: Callable[[], DocumentStore]
    verify_token: Callable[[str], Mapping[str, Any]]  # decoded claims; raises InvalidToken
    backend_config: Callable[[], BackendConfig | None]


@dataclass(frozen=True)
class Context:
    request: ProxyRequest
    caller: Caller
    deps: Deps

    def backend(self) -> Backend:
        config = self.deps.backend_config()
        if config is None:
            raise CONFIGURATION_MISSING
        return Backend(config)

    @property
    def request_id(self) -> str | None:
        return self.request.header("X-Request-ID")


Handler = Callable[[Context], ProxyResponse]


@dataclass(frozen=True)
class Endpoint:
    methods: tuple[str, ...]
    access: Access
    handler: Handler


# ---- input helpers ---------------------------------------------------------------------------


def json_body(request: ProxyRequest, *, required: bool) -> dict[str, Any]:
    if len(request.body) > MAX_BODY_BYTES:
        raise invalid("The request body is too large.")
    if not request.body.strip():
        if required:
            raise invalid("Invalid request: body: must be a JSON object.")
        return {}
    try:
        parsed = json.loads(request.body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # nesting deeper than Python's stack
        raise invalid("Invalid request: body is not valid JSON.") from None
    if not isinstance(parsed, dict):
        raise invalid("Invalid request: body: must be a JSON object.")
    return parsed


def account_id_of(ctx: Context) -> str:
    """`accountId` from the query string, else from the JSON body."""
    value: object = ctx.request.query.get("accountId")
    if value in (None, ""):
        value = json_body(ctx.request, required=False).get("accountId")
    if value is None or value == "":
        raise invalid("Invalid request: accountId: required.")
    if not isinstance(value, str) or not ACCOUNT_ID.fullmatch(value) or not is_id(value):
        raise invalid("Invalid request: accountId: letters, digits, '_' or '-' (1-100).")
    return value


def limit_of(ctx: Context, default: int, maximum: int) -> int:
    raw = ctx.request.query.get("limit")
    if raw in (None, ""):
        return default
    try:
        value = int(str(raw))
    except ValueError:
        raise invalid("Invalid request: limit: must be an integer.") from None
    if value < 1:
        raise invalid("Invalid request: limit: must be at least 1.")
    return min(value, maximum)


def require_account_visible(ctx: Context, account_id: str) -> None:
    """Staff never touch accounts marked admin-only (the daemon sees our service token as a
    super-admin, so this check is ours)."""
    if not may_see_account(ctx.deps.store(), account_id, is_super_admin=ctx.caller.is_super_admin):
        raise ProxyError(403, "super_admin_only", "This account is visible to admins only.")


def strip_pairing_data(value: Any) -> Any:
    """A copy without any QR / pairing key, at any depth and in any casing."""
    if isinstance(value, dict):
        return {
            k: strip_pairing_data(v)
            for k, v in value.items()
            if re.sub(r"[^a-z]", "", str(k).lower()) not in PAIRING_KEYS
        }
    if isinstance(value, list):
        return [strip_pairing_data(v) for v in value]
    return value


def forwarded(resp: ProxyResponse) -> ProxyResponse:
    """The daemon's answer as ours. Its credentials problems are our configuration, never the
    app user's (a 401 would tell the app to sign in again)."""
    if resp.status in (401, 403):
        log.error("the daemon refused the proxy's service token (%s)", resp.status)
        raise ProxyError(
            500, "configuration_missing", "The WhatsApp backend rejected the server's credentials."
        )
    body = dict(resp.body)
    if resp.status >= 400:
        code = body.get("error") if isinstance(body.get("error"), str) else "backend_error"
        message = body.get("message") if isinstance(body.get("message"), str) else "Failed."
        extra = {k: v for k, v in body.items() if k not in ("success", "error", "message")}
        return ProxyResponse(
            resp.status, {"success": False, "error": code, "message": message, **extra}
        )
    body.setdefault("success", True)
    return ProxyResponse(resp.status, body)


# ---- handlers --------------------------------------------------------------------------------


def _accounts(ctx: Context) -> ProxyResponse:
    resp = ctx.backend().call(
        "GET", "/api/whatsapp/accounts", caller_uid=ctx.caller.uid, request_id=ctx.request_id
    )
    return forwarded(resp)


def get_accounts(ctx: Context) -> ProxyResponse:
    return _accounts(ctx)


def get_accounts_staff(ctx: Context) -> ProxyResponse:
    resp = _accounts(ctx)
    if resp.status != 200:
        return resp
    hidden = admin_only_account_ids(ctx.deps.store())
    accounts = resp.body.get("accounts")
    visible = [
        strip_pairing_data(a)
        for a in (accounts if isinstance(accounts, list) else [])
        if isinstance(a, dict) and a.get("id") not in hidden
    ]
    body = strip_pairing_data({**resp.body, "accounts": visible})
    return ProxyResponse(200, body)


def add_account(ctx: Context) -> ProxyResponse:
    body = json_body(ctx.request, required=True)
    try:
        validate_payload(AddAccountRequest, body)
    except InvalidPayload as exc:
        raise invalid(f"Invalid request: {exc.message}") from None
    resp = ctx.backend().call(
        "POST",
        "/api/whatsapp/add-account",
        caller_uid=ctx.caller.uid,
        body={"name": body["name"], "phone": body["phone"]},
        request_id=ctx.request_id,
    )
    return forwarded(resp)


def regenerate_qr(ctx: Context) -> ProxyResponse:
    account_id = account_id_of(ctx)
    resp = ctx.backend().call(
        "POST",
        f"/api/whatsapp/regenerate-qr/{account_id}",
        caller_uid=ctx.caller.uid,
        body={},
        request_id=ctx.request_id,
    )
    if resp.status == 409 and resp.body.get("error") == "already_connected":
        # A daemon older than the contract's answer: a connected account is not an error for
        # the app (CONTRACT section 2), it shows the message.
        return ProxyResponse(200, ALREADY_CONNECTED)
    return forwarded(resp)


def delete_account(ctx: Context) -> ProxyResponse:
    account_id = account_id_of(ctx)
    resp = ctx.backend().call(
        "DELETE",
        f"/api/whatsapp/accounts/{account_id}",
        caller_uid=ctx.caller.uid,
        request_id=ctx.request_id,
    )
    return forwarded(resp)


def backfill_account(ctx: Context) -> ProxyResponse:
    account_id = account_id_of(ctx)
    require_account_visible(ctx, account_id)
    resp = ctx.backend().call(
        "POST",
        f"/api/whatsapp/backfill/{account_id}",
        caller_uid=ctx.caller.uid,
        body={},
        request_id=ctx.request_id,
    )
    return forwarded(resp)


def get_inbox(ctx: Context) -> ProxyResponse:
    account_id = account_id_of(ctx)
    limit = limit_of(ctx, 100, 500)
    require_account_visible(ctx, account_id)
    resp = ctx.backend().call(
        "GET",
        f"/api/whatsapp/inbox/{account_id}",
        caller_uid=ctx.caller.uid,
        query={"limit": str(limit)},
        request_id=ctx.request_id,
    )
    return forwarded(resp)


def get_threads(ctx: Context) -> ProxyResponse:
    account_id = account_id_of(ctx)
    limit = limit_of(ctx, 500, 500)
    require_account_visible(ctx, account_id)
    resp = ctx.backend().call(
        "GET",
        f"/api/whatsapp/threads/{account_id}",
        caller_uid=ctx.caller.uid,
        query={"limit": str(limit), "orderBy": "lastMessageAt"},
        request_id=ctx.request_id,
    )
    result = forwarded(resp)
    threads = result.body.get("threads")
    if result.status == 200 and isinstance(threads, list):
        result.body.setdefault("count", len(threads))
    return result


def send(ctx: Context) -> ProxyResponse:
    body = json_body(ctx.request, required=True)
    try:
        send_request = validate_send_request(body)
    except SendRejected as exc:
        raise ProxyError(exc.http_status, exc.code, exc.message) from None
    require_account_visible(ctx, send_request.account_id)
    try:
        result = enqueue_send(
            ctx.deps.store(),
            thread_id=send_request.thread_id,
            account_id=send_request.account_id,
            to_jid=send_request.to_jid,
            text=send_request.text,
            uid=ctx.caller.uid,
            client_message_id=send_request.client_message_id,
            reply_to_message_id=send_request.reply_to_message_id,
            media=send_request.media,
        )
    except SendRejected as exc:
        raise ProxyError(exc.http_status, exc.code, exc.message) from None
    config = ctx.deps.backend_config()
    if config is None:
        log.warning("send %s queued; no backend configured to wake", result.request_id)
    elif not result.duplicate:
        Backend(config).wake_outbox(ctx.caller.uid)
    return ProxyResponse(
        200,
        {
            "success": True,
            "requestId": result.request_id,
            "duplicate": result.duplicate,
            "message": "Already queued." if result.duplicate else "Message queued.",
        },
    )


def who_am_i(ctx: Context) -> ProxyResponse:
    body = {"success": True, **ctx.caller.who_am_i()}
    caller = ctx.caller
    if caller.is_super_admin and not caller.admin_by_claim and caller.email:
        # Admin here by SUPER_ADMIN_EMAILS; the Firestore rules see an admin only through the
        # claim or config/super_admins, so say whether the app's direct reads will agree.
        snap = ctx.deps.store().get(SUPER_ADMINS_CONFIG)
        listed = snap.data.get("emails") if snap is not None else None
        if isinstance(listed, list) and caller.email.strip().lower() in listed:
            body["reasons"].append(f"rules: {SUPER_ADMINS_CONFIG} lists {caller.email}")
        else:
            body["reasons"].append(
                f"rules: {SUPER_ADMINS_CONFIG} does not list {caller.email}: the app's Firestore "
                "reads will not see an admin (run `superparty-daemon set-admin`)"
            )
    return ProxyResponse(200, body)


ENDPOINTS: dict[str, Endpoint] = {
    "whatsappProxyGetAccounts": Endpoint(("GET",), "super_admin", get_accounts),
    "whatsappProxyGetAccountsStaff": Endpoint(("GET",), "employee", get_accounts_staff),
    "whatsappProxyAddAccount": Endpoint(("POST",), "super_admin", add_account),
    "whatsappProxyRegenerateQr": Endpoint(("POST",), "super_admin", regenerate_qr),
    "whatsappProxyDeleteAccount": Endpoint(("POST", "DELETE"), "super_admin", delete_account),
    "whatsappProxyBackfillAccount": Endpoint(("POST",), "employee", backfill_account),
    "whatsappProxyGetInbox": Endpoint(("GET",), "employee", get_inbox),
    "whatsappProxyGetThreads": Endpoint(("GET",), "employee", get_threads),
    "whatsappProxySend": Endpoint(("POST",), "employee", send),
    "whatsappWhoAmI": Endpoint(("GET",), "signed_in", who_am_i),
}


# ---- the door --------------------------------------------------------------------------------


def authenticate(request: ProxyRequest, deps: Deps, access: Access) -> Caller:
    token = bearer_token(request.header("Authorization"))
    if token is None:
        raise ProxyError(401, "missing_auth_token", "Sign in first (no Bearer token sent).")
    try:
        claims = deps.verify_token(token)  # checks revocation: disabled/signed-out users are 401
        caller = caller_from_claims(claims, deps.store())
    except InvalidToken:
        raise ProxyError(401, "unauthorized", "Your session is not valid; sign in again.") from None
    except Exception as exc:  # keys, user lookup or store unreachable: never a 401 (signs out)
        log.warning("ID token could not be checked: %s", type(exc).__name__)
        raise ProxyError(
            503, "auth_unavailable", "Sign-in cannot be checked right now; try again."
        ) from None
    if access == "signed_in":
        return caller
    if not caller.is_employee:
        raise ProxyError(403, "employee_only", "Only employees may use WhatsApp.")
    if access == "super_admin" and not caller.is_super_admin:
        raise ProxyError(403, "super_admin_only", "Only super-admins may do this.")
    return caller


def handle(name: str, request: ProxyRequest, deps: Deps) -> ProxyResponse:
    """Every outcome is a JSON object with the contract's status; nothing raises."""
    endpoint = ENDPOINTS[name]
    try:
        method = request.method.upper()
        if method not in endpoint.methods:
            raise ProxyError(
                405, "method_not_allowed", f"Use {' or '.join(endpoint.methods)} for {name}."
            )
        caller = authenticate(request, deps, endpoint.access)
        return endpoint.handler(Context(request, caller, deps))
    except ProxyError as exc:
        return exc.response()
    except InvalidId as exc:  # an id that is not one path segment, caught by a path builder
        return invalid(f"Invalid request: {exc}").response()
    except Exception:
        log.exception("%s failed", name)
        return INTERNAL_ERROR.response()
