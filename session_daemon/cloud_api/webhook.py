"""`GET|POST /webhooks/whatsapp-cloud/{accountId}`: the thin aiohttp layer over the pure parts.

GET is Meta's verification handshake (plain text on success: the one non-JSON answer). POST:

1. the account must exist and be a Cloud API account (404 otherwise);
2. the body is read raw, and `X-Hub-Signature-256` checked over those bytes with the account's
   app secret: a missing or bad signature is 401 and nothing is stored. Not throttled per
   address: every delivery may come through one proxy, and a lockout would drop Meta's retries;
3. the body is parsed (400 for something that is not a Cloud API envelope) and each change
   routed by `metadata.phone_number_id`;
4. the `sink` journals the delivery and returns only when it is durable; then 200. If the sink
   fails the answer is 503, so Meta retries the same bytes later. Repeats are harmless: the
   journal's consumers deduplicate by `wamid` and by status id + status.

The handlers hold no state besides counters; who the accounts are comes from `keys_for_account`
and `keys_for_phone_number_id` (server-only secrets), so a rotated secret applies at once.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web

from session_daemon.cloud_api.handshake import check_subscription
from session_daemon.cloud_api.model import WebhookBatch
from session_daemon.cloud_api.payloads import MalformedPayload, parse_webhook
from session_daemon.cloud_api.routing import CloudAccountKeys, Routed, route_batch
from session_daemon.cloud_api.signature import HEADER, verify_signature
from session_daemon.http.errors import read_in_time

__all__ = ["PATH", "CloudWebhook", "Delivery"]

log = logging.getLogger(__name__)

PATH: Final = "/webhooks/whatsapp-cloud/{accountId}"
DEFAULT_MAX_BODY: Final = 4 * 1024 * 1024  # history chunks are large; Meta's bodies stay below
_ACCOUNT_ID: Final = re.compile(r"^[A-Za-z0-9_-]{1,128}$")

KeysLookup = Callable[[str], Awaitable[CloudAccountKeys | None]]


@dataclass(frozen=True)
class Delivery:
    """One authenticated POST, parsed and routed: what the sink journals."""

    account: CloudAccountKeys
    body: bytes
    batch: WebhookBatch
    routed: Routed


Sink = Callable[[Delivery], Awaitable[None]]


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"success": False, "error": code, "message": message}, status=status)


async def _read_all(request: web.Request, limit: int) -> bytes | None:
    """The raw body, every chunk of it (the signature covers all the bytes); None past
    `limit`. Read from the stream, so the app's JSON body limit does not apply here."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(64 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


class CloudWebhook:
    def __init__(
        self,
        keys_for_account: KeysLookup,
        keys_for_phone_number_id: KeysLookup,
        sink: Sink,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY,
    ) -> None:
        self._by_account = keys_for_account
        self._by_pnid = keys_for_phone_number_id
        self._sink = sink
        self._max_body = max_body_bytes
        self.counters: Counter[str] = Counter()

    def routes(self) -> list[web.RouteDef]:
        return [web.get(PATH, self.handle_get, allow_head=False), web.post(PATH, self.handle_post)]

    async def _account(self, request: web.Request) -> CloudAccountKeys | web.Response:
        account_id = request.match_info.get("accountId", "")
        if not _ACCOUNT_ID.match(account_id):
            return _error(400, "invalid_request", "accountId is not a valid id.")
        keys = await self._by_account(account_id)
        if keys is None:
            return _error(404, "account_not_found", "No Cloud API account with this id.")
        return keys

    async def handle_get(self, request: web.Request) -> web.StreamResponse:
        found = await self._account(request)
        if isinstance(found, web.Response):
            return found
        result = check_subscription(request.query, found.verify_token)
        self.counters[f"handshake_{result.status}"] += 1
        if result.status != 200 or result.challenge is None:
            return _error(result.status, result.code or "invalid_request", result.message)
        return web.Response(text=result.challenge, content_type="text/plain")

    async def handle_post(self, request: web.Request) -> web.StreamResponse:
        found = await self._account(request)
        if isinstance(found, web.Response):
            return found
        if request.content_length is not None and request.content_length > self._max_body:
            return _error(413, "payload_too_large", "The webhook body is too large.")
        body = await read_in_time(request, _read_all(request, self._max_body))
        if body is None:
            return _error(413, "payload_too_large", "The webhook body is too large.")
        if not verify_signature(body, request.headers.get(HEADER), found.app_secret):
            self.counters["bad_signature"] += 1
            return _error(401, "invalid_signature", "The X-Hub-Signature-256 does not match.")
        try:
            batch = parse_webhook(body)
        except MalformedPayload as exc:
            self.counters["malformed"] += 1
            return _error(400, "invalid_payload", str(exc))
        others: dict[str, CloudAccountKeys] = {}
        for pnid in batch.phone_number_ids - {found.phone_number_id}:
            other = await self._by_pnid(pnid)
            if other is not None:
                others[pnid] = other
        routed = route_batch(batch, found, others)
        self.counters.update(batch.skipped)
        self.counters.update(routed.unrouted)
        try:
            await self._sink(Delivery(found, body, batch, routed))
        except Exception:
            log.exception("cloud webhook for %s not journalled", found.account_id)
            self.counters["sink_failed"] += 1
            return _error(503, "journal_unavailable", "Not stored; deliver again later.")
        self.counters["delivered"] += 1
        received: dict[str, Any] = {"success": True, "events": len(batch.events)}
        return web.json_response(received)
