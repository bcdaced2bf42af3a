"""The Cloud API's daemon routes, as `RouteSpec`s (so `/openapi.json` describes them): not yet
registered by the daemon; its wiring adds them with `add_routes(app, cloud_route_specs(api))`.

- `POST /api/whatsapp/cloud-accounts` (super-admin): `{name, phone, phoneNumberId, wabaId,
  accessToken, appSecret, verifyToken}` → `{success, accountId, account}`; idempotent by
  `phoneNumberId`; a linked account of the same phone has its session stopped first, then is
  converted in place (same id, same threads).
- `GET|POST /webhooks/whatsapp-cloud/{accountId}` (public: the signature and the verify token are
  the credentials). The GET handshake answers plain text: the one exception to the JSON-only
  rule, declared in its spec's `content_type`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from session_daemon.cloud_api import secrets_store
from session_daemon.cloud_api.accounts import (
    CloudAccountRequest,
    Registration,
    account_kind,
    register_cloud_account,
)
from session_daemon.cloud_api.webhook import PATH, CloudWebhook
from session_daemon.http.routing import QueryParam, RouteSpec, read_body
from session_daemon.sessions.accounts import account_id_for_phone, account_view
from shared import paths
from shared.store.port import DocumentStore

__all__ = ["CloudApi", "cloud_route_specs"]


@dataclass
class CloudApi:
    store: DocumentStore
    webhook: CloudWebhook
    # stop (and unlink) a linked-device session before its number becomes a cloud account
    stop_linked_session: Callable[[str], Awaitable[None]]
    # after a registration: remember the account's kind, (re)start it on the cloud transport
    on_registered: Callable[[Registration], Awaitable[None]]
    # an existing account that another daemon runs: its answer (None: handle it here)
    forward: Callable[[web.Request, str], Awaitable[web.Response | None]] | None = None

    def _existing_kind(self, req: CloudAccountRequest) -> tuple[str, str | None]:
        owner = secrets_store.find_by_phone_number_id(self.store, req.phone_number_id)
        account_id = owner.account_id if owner else account_id_for_phone(req.phone)
        snap = self.store.get(paths.account_path(account_id))
        if snap is None or snap.data.get("status") == "deleted":
            return account_id, None
        return account_id, account_kind(snap.data)

    async def add_cloud_account(self, request: web.Request) -> web.Response:
        req = await read_body(request, CloudAccountRequest)
        account_id, kind = await asyncio.to_thread(self._existing_kind, req)
        if kind is not None and self.forward is not None:
            answer = await self.forward(request, account_id)
            if answer is not None:  # the lease owner stopped its session and registered it
                return answer
        if kind == "linked":
            await self.stop_linked_session(account_id)  # never both kinds at once
        reg = await asyncio.to_thread(register_cloud_account, self.store, req)
        await self.on_registered(reg)
        return web.json_response(
            {
                "success": True,
                "accountId": reg.account_id,
                "account": account_view(reg.account_id, reg.data),
                "created": reg.created,
                "converted": reg.converted,
            }
        )


_HUB = (
    QueryParam("hub.mode", {"type": "string", "enum": ["subscribe"]}, required=True),
    QueryParam("hub.verify_token", {"type": "string"}, required=True),
    QueryParam("hub.challenge", {"type": "string", "maxLength": 256}, required=True),
)


def cloud_route_specs(api: CloudApi) -> list[RouteSpec]:
    return [
        RouteSpec(
            "POST",
            "/api/whatsapp/cloud-accounts",
            api.add_cloud_account,
            "super_admin",
            "Add a WhatsApp Cloud API account, or convert the linked account of this phone "
            "(idempotent by phoneNumberId; credentials kept server-only)",
            body=CloudAccountRequest,
            responses={
                200: "Added, converted, or the existing account of this phoneNumberId",
                503: "owner_unavailable (the daemon that runs this number did not answer)",
            },
        ),
        RouteSpec(
            "GET",
            PATH,
            api.webhook.handle_get,
            "public",
            "Meta's webhook verification: answers hub.challenge as text/plain (the one "
            "non-JSON answer) when hub.verify_token is the account's",
            tag="webhooks",
            query=_HUB,
            responses={
                200: "The challenge, as text/plain",
                400: "invalid_request",
                403: "verify_token_mismatch",
                404: "account_not_found",
            },
            content_type="text/plain",
        ),
        RouteSpec(
            "POST",
            PATH,
            api.webhook.handle_post,
            "public",
            "Meta's event delivery, signed with X-Hub-Signature-256; journalled before the 200",
            tag="webhooks",
            responses={
                200: "Journalled (a repeat is journalled once)",
                400: "invalid_payload",
                401: "invalid_signature (nothing stored)",
                404: "account_not_found",
                413: "payload_too_large",
                503: "journal_unavailable (Meta retries)",
            },
        ),
    ]
