"""An account's own proxy (super-admins only): `GET|PUT /api/whatsapp/accounts/{accountId}/proxy`.

The URL lives in the server-only `accountSecrets/{accountId}` (it can hold a password) and is
never echoed back: answers show `scheme://host:port` only. It applies from the account's next
session start; a running session is restarted so that it applies now.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from session_daemon.http.context import CONTEXT
from session_daemon.http.errors import ApiError
from session_daemon.http.routes_accounts import account_id_param, load_account
from session_daemon.http.routing import RouteSpec, read_body
from session_daemon.proxy_url import BadProxy, parse_proxy_url, redact_proxy
from session_daemon.sessions.proxy import account_proxy, set_account_proxy


class ProxyRequest(BaseModel):
    """`proxy`: `http://[user:pass@]host:port` or `socks5://…`; null removes the override (the
    account then uses `WHATSAPP_PROXY`, or no proxy)."""

    model_config = ConfigDict(strict=True, extra="forbid")
    proxy: str | None = Field(default=None, max_length=2048)


def _view(account_id: str, own: str | None, default: str | None) -> dict[str, object]:
    return {
        "success": True,
        "accountId": account_id,
        "proxy": redact_proxy(own),
        "effectiveProxy": redact_proxy(own or default),
        "source": "account" if own else ("WHATSAPP_PROXY" if default else "none"),
    }


async def get_proxy(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    account_id = account_id_param(request)
    await load_account(ctx, account_id)
    own = await asyncio.to_thread(account_proxy, ctx.store, account_id)
    return web.json_response(_view(account_id, own, ctx.settings.proxy))


async def put_proxy(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    account_id = account_id_param(request)
    body = await read_body(request, ProxyRequest)
    await load_account(ctx, account_id)
    url = None
    if body.proxy is not None:
        try:
            url = parse_proxy_url(body.proxy)
        except BadProxy as exc:
            raise ApiError(400, "invalid_proxy", f"Invalid proxy: {exc}.") from None
    await asyncio.to_thread(set_account_proxy, ctx.store, account_id, url)
    restarted = await ctx.manager.restart_if_running(account_id)
    view = _view(account_id, url, ctx.settings.proxy)
    view["restarted"] = restarted
    return web.json_response(view)


PROXY_ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec(
        "GET",
        "/api/whatsapp/accounts/{accountId}/proxy",
        get_proxy,
        "super_admin",
        "The account's proxy override (host and port only; credentials never leave the server)",
        responses={200: "The override and the effective proxy", 404: "No such account"},
    ),
    RouteSpec(
        "PUT",
        "/api/whatsapp/accounts/{accountId}/proxy",
        put_proxy,
        "super_admin",
        "Set or clear (`null`) the account's proxy: http:// or socks5:// with host and port. "
        "Kept in the server-only accountSecrets; a running session restarts to use it.",
        body=ProxyRequest,
        responses={
            200: "Saved",
            400: "`invalid_proxy`: not an http:// or socks5:// URL with host and port",
            404: "No such account",
        },
    ),
)
