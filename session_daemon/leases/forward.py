"""One door for the app: routes that act on one account reach the daemon that owns it.

The app and the proxy know one daemon address (a reverse proxy or a floating address in front
of several daemons). Read routes answer from the store anywhere; the routes below need the
account's live session (its QR, its pairing, its history request, stopping it), so a daemon that
does not hold the account's lease forwards the request, as it came (method, path, query, body,
Authorization), to the owner's address recorded with the lease, and returns the owner's answer.
The owner checks the caller again. A forwarded request carries `X-Superparty-Forwarded` and is
never forwarded a second time (an ownership change in between is answered where it lands).
An account without a live owner is handled here: taking its free lease is part of starting it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

import aiohttp
from aiohttp import web

from session_daemon.http.auth import Access
from session_daemon.http.context import CONTEXT
from session_daemon.http.errors import Handler, error_response
from session_daemon.leases.coordinator import LeaseCoordinator
from session_daemon.leases.record import parse_lease
from shared.paths import account_lease_path, is_id
from shared.timeutil import utc_now

log = logging.getLogger(__name__)

FORWARDED_HEADER: Final = "X-Superparty-Forwarded"
FORWARD_TIMEOUT_S: Final = 30.0
# (method, route template) of the routes that act on one account's session -> who may call
OWNER_ACTIONS: Final[dict[tuple[str, str], Access]] = {
    ("GET", "/api/whatsapp/qr/{accountId}"): "super_admin",
    ("POST", "/api/whatsapp/regenerate-qr/{accountId}"): "super_admin",
    ("POST", "/api/whatsapp/pairing-code/{accountId}"): "super_admin",
    ("POST", "/api/whatsapp/backfill/{accountId}"): "employee",
    ("DELETE", "/api/whatsapp/accounts/{accountId}"): "super_admin",
    # a new proxy applies when the owner restarts the account's session
    ("PUT", "/api/whatsapp/accounts/{accountId}/proxy"): "super_admin",
    # the owner's broadcast runner starts it at once (elsewhere it waits for the owner's scan)
    ("POST", "/api/whatsapp/broadcasts/{accountId}"): "super_admin",
}
_PASSED_HEADERS: Final = ("Authorization", "Content-Type", "Accept", "X-Request-Id")
_RETURNED_HEADERS: Final = ("Content-Type", "Cache-Control", "Retry-After")


def owner_unavailable() -> web.Response:
    """The answer when the account's owner did not answer a forwarded request: retry soon."""
    return error_response(
        503,
        "owner_unavailable",
        "The daemon that runs this account did not answer; retry.",
        headers={"Retry-After": "2"},
    )


def owner_address(coordinator: LeaseCoordinator, account_id: str) -> str | None:
    """The address of the live daemon that holds the account's lease, if it is not us."""
    snap = coordinator.engine.store.get(account_lease_path(account_id))
    now = utc_now()
    lease = parse_lease(account_id, snap.data if snap else None, now=now)
    if lease is None or not lease.live(now) or lease.holder == coordinator.instance_id:
        return None
    return lease.holder_address or coordinator.instance_address(lease.holder)


def forwarding_middleware(
    coordinator: LeaseCoordinator,
) -> tuple[Any, Callable[[web.Application], Awaitable[None]]]:
    """The middleware, and the cleanup hook that closes its HTTP client."""
    session: dict[str, aiohttp.ClientSession] = {}

    @web.middleware
    async def forward_to_owner(request: web.Request, handler: Handler) -> web.StreamResponse:
        resource = request.match_info.route.resource
        template = resource.canonical if resource is not None else ""
        account_id = request.match_info.get("accountId", "")
        if (
            (request.method, template) not in OWNER_ACTIONS
            or request.headers.get(FORWARDED_HEADER)
            or not is_id(account_id)
            or coordinator.holds(account_id)
        ):
            return await handler(request)
        address = await asyncio.to_thread(owner_address, coordinator, account_id)
        if address is None:
            return await handler(request)
        # the caller is checked here first, so only authorised requests reach the owner (which
        # checks again): nobody can make the owner throttle this daemon's address
        await request.app[CONTEXT].authenticator.authorize(
            request, OWNER_ACTIONS[(request.method, template)]
        )
        if "client" not in session:
            session["client"] = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=FORWARD_TIMEOUT_S)
            )
        headers = {h: request.headers[h] for h in _PASSED_HEADERS if h in request.headers}
        headers[FORWARDED_HEADER] = coordinator.instance_id
        body = await request.read()
        try:
            async with session["client"].request(
                request.method, address + request.path_qs, data=body or None, headers=headers
            ) as resp:
                payload = await resp.read()
                back = {h: resp.headers[h] for h in _RETURNED_HEADERS if h in resp.headers}
                back["X-Superparty-Owner"] = address
                return web.Response(status=resp.status, body=payload, headers=back)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("forwarding %s to the owner at %s failed: %r", template, address, exc)
            return owner_unavailable()

    async def close(app: web.Application) -> None:
        if "client" in session:
            await session.pop("client").close()

    return forward_to_owner, close
