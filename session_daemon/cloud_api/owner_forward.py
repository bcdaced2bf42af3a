"""`POST /api/whatsapp/cloud-accounts` for a number another daemon runs: the request goes to
that daemon (the lease owner), which stops its linked session and starts the account on the
cloud transport. The route has no `{accountId}` in its path, so the leases' forwarding
middleware cannot see whose it is; the route finds the account first and asks this.

Same rules as the middleware: the caller was already checked here, the request goes as it came
(body, Authorization) with `X-Superparty-Forwarded`, never twice, and an owner that does not
answer is 503 `owner_unavailable` (the app retries; registration is idempotent).
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from aiohttp import web

from session_daemon.leases.coordinator import LeaseCoordinator
from session_daemon.leases.forward import (
    FORWARD_TIMEOUT_S,
    FORWARDED_HEADER,
    owner_address,
    owner_unavailable,
)

__all__ = ["OwnerForward"]

log = logging.getLogger(__name__)

_PASSED = ("Authorization", "Content-Type", "X-Request-Id")


class OwnerForward:
    def __init__(self, coordinator: LeaseCoordinator) -> None:
        self._coordinator = coordinator
        self._session: aiohttp.ClientSession | None = None

    async def __call__(self, request: web.Request, account_id: str) -> web.Response | None:
        """The owner's answer, or None when this daemon should handle it."""
        if request.headers.get(FORWARDED_HEADER) or self._coordinator.holds(account_id):
            return None
        address = await asyncio.to_thread(owner_address, self._coordinator, account_id)
        if address is None:
            return None  # no live owner: this daemon takes the free lease
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=FORWARD_TIMEOUT_S)
            )
        headers = {h: request.headers[h] for h in _PASSED if h in request.headers}
        headers[FORWARDED_HEADER] = self._coordinator.instance_id
        try:
            async with self._session.post(
                address + request.path_qs, data=await request.read(), headers=headers
            ) as resp:
                body = await resp.read()
                return web.Response(
                    status=resp.status,
                    body=body,
                    content_type="application/json",
                    headers={"X-Superparty-Owner": address},
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("forwarding a cloud registration to %s failed: %r", address, exc)
            return owner_unavailable()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
