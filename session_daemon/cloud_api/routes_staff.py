"""Staff routes that a Cloud API number needs beyond the linked-device ones:

- `GET /api/whatsapp/cloud-accounts/{accountId}/templates` (employee): the number's message
  templates from Meta (`{success, templates: [{name, language, status, category,
  components}]}`), what broadcasts and staff pick from outside the 24-hour window;
- `POST /api/whatsapp/threads/{threadId}/read` (employee): staff opened the thread. The unread
  count goes to 0 and, on a cloud account, Meta is told the newest inbound message was read
  (the client sees blue ticks; Meta marks every earlier one too). On a linked device only the
  count changes: the port has no read receipt.
- the send route's pre-check (`outside_window`): a free-form text to a cloud client who has not
  written for 24 hours is refused at once with 409 `outside_service_window`, in the contract's
  error shape, instead of being queued to fail.

Any daemon answers these from the store and the account's credentials: no session is needed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from session_daemon.cloud_api.accounts import CLOUD, account_kind
from session_daemon.cloud_api.errors import GraphFailure
from session_daemon.cloud_api.last_inbound import last_inbound_at
from session_daemon.cloud_api.transport import OUTSIDE_SERVICE_WINDOW, CloudTransport
from session_daemon.cloud_api.window import window_state
from session_daemon.http.errors import ApiError
from session_daemon.http.routes_accounts import account_id_param, require_account_access
from session_daemon.http.routing import RouteSpec
from session_daemon.sessions.accounts import is_valid_account_id
from shared import paths
from shared.paths import InvalidId, check_id
from shared.store.port import DocumentStore, query
from shared.timeutil import utc_now

__all__ = ["CloudStaffApi", "staff_route_specs"]

# Graph failures of a staff call: the caller's to fix (409) or Meta's (502)
_CALLER_FIXES = {"token_expired", "permission_denied", "not_found", "number_blocked"}


def _graph_error(exc: GraphFailure) -> ApiError:
    status = 409 if exc.code in _CALLER_FIXES else 502
    return ApiError(status, exc.code, f"Meta refused the call: {exc.message}")


@dataclass
class CloudStaffApi:
    store: DocumentStore
    cloud: CloudTransport
    clock: Callable[[], datetime] = utc_now

    async def _cloud_account(self, request: web.Request, account_id: str) -> dict[str, Any]:
        data = await require_account_access(request, account_id)
        if account_kind(data) != CLOUD:
            raise ApiError(409, "not_cloud_account", "This account is not a Cloud API number.")
        return data

    async def templates(self, request: web.Request) -> web.Response:
        account_id = account_id_param(request)
        await self._cloud_account(request, account_id)
        secrets = await self.cloud.secrets_of(account_id)
        if secrets is None:
            raise ApiError(409, "no_cloud_credentials", "No Cloud API credentials are saved.")
        try:
            found = await self.cloud.graph.list_templates(secrets.waba_id, secrets.access_token)
        except GraphFailure as exc:
            raise _graph_error(exc) from None
        return web.json_response(
            {
                "success": True,
                "accountId": account_id,
                "templates": [
                    {
                        "name": t.name,
                        "language": t.language,
                        "status": t.status,
                        "category": t.category,
                        "components": list(t.components),
                    }
                    for t in found
                ],
            }
        )

    def _thread(self, thread_id: str) -> dict[str, Any]:
        snap = self.store.get(paths.thread_path(thread_id))
        if snap is None:
            raise ApiError(404, "thread_not_found", "This conversation does not exist.")
        return snap.data

    def _thread_read(self, thread_id: str) -> str | None:
        """Reset the unread count; the newest inbound message id (for the read receipt)."""
        snap = self.store.get(paths.thread_path(thread_id))
        if snap is not None and snap.data.get("unreadCount"):
            self.store.update(paths.thread_path(thread_id), {"unreadCount": 0})
        recent = self.store.query(
            query(paths.messages_collection(thread_id), order_by=[("tsClient", "desc")], limit=20)
        )
        newest = next(
            (
                str(m.data.get("waMessageId") or m.id)
                for m in recent
                if m.data.get("direction") == "inbound"
            ),
            None,
        )
        return newest

    async def read_thread(self, request: web.Request) -> web.Response:
        thread_id = request.match_info["threadId"]
        try:
            check_id(thread_id, "threadId")
        except InvalidId as exc:
            raise ApiError(400, "invalid_request", f"Invalid request: {exc}") from None
        thread = await asyncio.to_thread(self._thread, thread_id)
        account_id = str(thread.get("accountId") or "")
        if not is_valid_account_id(account_id):
            raise ApiError(404, "account_not_found", "The thread names no known account.")
        account = await require_account_access(request, account_id)  # before any write
        newest = await asyncio.to_thread(self._thread_read, thread_id)
        receipt = "not_cloud"
        if account_kind(account) == CLOUD and newest is not None:
            secrets = await self.cloud.secrets_of(account_id)
            if secrets is None:
                raise ApiError(409, "no_cloud_credentials", "No Cloud API credentials are saved.")
            try:
                await self.cloud.graph.mark_read(
                    secrets.phone_number_id, secrets.access_token, newest
                )
            except GraphFailure as exc:
                raise _graph_error(exc) from None
            receipt = "sent"
        elif account_kind(account) == CLOUD:
            receipt = "nothing_to_read"
        return web.json_response(
            {"success": True, "threadId": thread_id, "unreadCount": 0, "readReceipt": receipt}
        )

    # ---- the send route's pre-check --------------------------------------------------------

    def outside_window(self, account_id: str, to_jid: str) -> ApiError | None:
        """Synchronous (the send route runs it in a worker thread)."""
        snap = self.store.get(paths.account_path(account_id))
        if snap is None or account_kind(snap.data) != CLOUD:
            return None
        last = last_inbound_at(self.store, account_id, to_jid)
        if window_state(last, self.clock()).allows("free_form"):
            return None
        return ApiError(
            409,
            OUTSIDE_SERVICE_WINDOW,
            "The client has not written in the last 24 hours: WhatsApp allows only an approved "
            "template now.",
        )


def staff_route_specs(api: CloudStaffApi) -> list[RouteSpec]:
    return [
        RouteSpec(
            "GET",
            "/api/whatsapp/cloud-accounts/{accountId}/templates",
            api.templates,
            "employee",
            "The message templates of a Cloud API number (from Meta)",
            responses={
                200: "The templates",
                404: "account_not_found",
                409: "not_cloud_account, no_cloud_credentials, token_expired, permission_denied",
                502: "graph_unavailable, graph_error (Meta did not answer)",
            },
        ),
        RouteSpec(
            "POST",
            "/api/whatsapp/threads/{threadId}/read",
            api.read_thread,
            "employee",
            "Staff read the thread: unread count to 0; on a Cloud API number the client gets "
            "the read receipt",
            responses={
                200: "Read (`readReceipt`: sent, nothing_to_read or not_cloud)",
                400: "invalid_request",
                404: "thread_not_found, account_not_found",
                409: "no_cloud_credentials, token_expired, permission_denied",
                502: "graph_unavailable, graph_error",
            },
        ),
    ]
