"""Read routes the app calls directly: threads, inbox, auto-reply settings."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from aiohttp import web
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from session_daemon.autoreply.settings import MAX_FLOWS, AccountSettings, Flow, parse_hours
from session_daemon.http.context import CONTEXT
from session_daemon.http.errors import ApiError
from session_daemon.http.jsonable import jsonable
from session_daemon.http.routes_accounts import account_id_param, require_account_access
from session_daemon.http.routing import QueryParam, RouteSpec, int_query, read_body
from session_daemon.sessions.accounts import account_path
from shared.paths import MESSAGES, THREADS, thread_id_of
from shared.store.port import query
from shared.store.sentinels import SERVER_TIMESTAMP

MAX_PROMPT = 4000


class AutoReplySettingsRequest(BaseModel):
    """The app sends `enabled` and `prompt`; `flows`, `askName` and `businessHours` are the
    daemon's additions (issue 16), each optional and kept when absent."""

    model_config = ConfigDict(strict=True, extra="ignore")
    enabled: bool | None = None
    prompt: Annotated[str, StringConstraints(max_length=MAX_PROMPT)] | None = None
    flows: Annotated[list[Flow], Field(max_length=MAX_FLOWS)] | None = None
    ask_name: bool | None = Field(None, alias="askName")
    business_hours: str | None = Field(None, alias="businessHours", max_length=11)

    @field_validator("business_hours")
    @classmethod
    def _hours(cls, value: str | None) -> str | None:
        parse_hours(value)  # ValueError names the field
        return value or None

    @model_validator(mode="after")
    def _something(self) -> AutoReplySettingsRequest:
        if (
            all(
                v is None
                for v in (self.enabled, self.prompt, self.flows, self.ask_name, self.business_hours)
            )
            and "business_hours" not in self.model_fields_set
        ):
            raise ValueError("send 'enabled', 'prompt', 'flows', 'askName' or 'businessHours'")
        return self


async def threads(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    account_id = account_id_param(request)
    limit = int_query(request, "limit", 500, 1, 500)
    order_by = request.query.get("orderBy", "lastMessageAt")
    if order_by != "lastMessageAt":
        raise ApiError(400, "invalid_request", "'orderBy' supports only 'lastMessageAt'.")
    await require_account_access(request, account_id)
    docs = await asyncio.to_thread(
        ctx.store.query,
        query(
            THREADS,
            where=[("accountId", "==", account_id)],
            order_by=[("lastMessageAt", "desc")],
            limit=limit,
        ),
    )
    items = [{"id": snap.id, **jsonable(snap.data)} for snap in docs]
    return web.json_response({"success": True, "threads": items, "count": len(items)})


async def inbox(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    account_id = account_id_param(request)
    limit = int_query(request, "limit", 100, 1, 500)
    await require_account_access(request, account_id)
    docs = await asyncio.to_thread(
        ctx.store.query,
        query(
            MESSAGES,
            where=[("accountId", "==", account_id)],
            order_by=[("tsClient", "desc")],
            limit=limit,
            group=True,
        ),
    )
    messages = [
        {"id": snap.id, "threadId": thread_id_of(snap.path), **jsonable(snap.data)} for snap in docs
    ]
    return web.json_response({"success": True, "messages": messages})


def _settings_body(account_id: str, data: dict[str, Any]) -> dict[str, Any]:
    settings = AccountSettings.of(data)
    return {
        "success": True,
        "accountId": account_id,
        "enabled": bool(data.get("autoReplyEnabled", False)),
        "prompt": str(data.get("autoReplyPrompt") or ""),
        "flows": [flow.model_dump() for flow in settings.flows],
        "askName": settings.ask_name,
        "businessHours": data.get("autoReplyHours") if settings.hours else None,
    }


async def get_auto_reply(request: web.Request) -> web.Response:
    account_id = account_id_param(request)
    data = await require_account_access(request, account_id)
    return web.json_response(_settings_body(account_id, data))


async def set_auto_reply(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    account_id = account_id_param(request)
    body = await read_body(request, AutoReplySettingsRequest)
    data = await require_account_access(request, account_id)
    update: dict[str, object] = {"updatedAt": SERVER_TIMESTAMP}
    if body.enabled is not None:
        update["autoReplyEnabled"] = body.enabled
    if body.prompt is not None:
        update["autoReplyPrompt"] = body.prompt
    if body.flows is not None:
        update["autoReplyFlows"] = [flow.model_dump() for flow in body.flows]
    if body.ask_name is not None:
        update["autoReplyAskName"] = body.ask_name
    if "business_hours" in body.model_fields_set:  # null or "" turns the hours off
        update["autoReplyHours"] = body.business_hours
    await asyncio.to_thread(ctx.store.update, account_path(account_id), update)
    merged = {**data, **{k: v for k, v in update.items() if k != "updatedAt"}}
    return web.json_response(_settings_body(account_id, merged))


_LIMIT_500 = QueryParam("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "default 500")

DATA_ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec(
        "GET",
        "/api/whatsapp/threads/{accountId}",
        threads,
        "employee",
        "Threads of an account, newest first",
        query=(_LIMIT_500, QueryParam("orderBy", {"type": "string", "enum": ["lastMessageAt"]})),
    ),
    RouteSpec(
        "GET",
        "/api/whatsapp/inbox/{accountId}",
        inbox,
        "employee",
        "Latest messages of an account across threads",
        query=(
            QueryParam("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "default 100"),
        ),
    ),
    RouteSpec(
        "GET",
        "/api/whatsapp/auto-reply-settings/{accountId}",
        get_auto_reply,
        "employee",
        "Auto-reply settings of an account",
    ),
    RouteSpec(
        "POST",
        "/api/whatsapp/auto-reply-settings/{accountId}",
        set_auto_reply,
        "super_admin",
        "Change auto-reply settings (the app's enabled/prompt; flows, askName, businessHours)",
        body=AutoReplySettingsRequest,
        responses={200: "Saved", 400: "invalid_request (names the field)"},
    ),
)
