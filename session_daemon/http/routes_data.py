"""Read routes the app calls directly: threads, inbox, auto-reply settings."""

from __future__ import annotations

import asyncio
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, StringConstraints, model_validator

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
    model_config = ConfigDict(strict=True, extra="ignore")
    enabled: bool | None = None
    prompt: Annotated[str, StringConstraints(max_length=MAX_PROMPT)] | None = None

    @model_validator(mode="after")
    def _something(self) -> AutoReplySettingsRequest:
        if self.enabled is None and self.prompt is None:
            raise ValueError("send 'enabled' and/or 'prompt'")
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


async def get_auto_reply(request: web.Request) -> web.Response:
    account_id = account_id_param(request)
    data = await require_account_access(request, account_id)
    return web.json_response(
        {
            "success": True,
            "accountId": account_id,
            "enabled": bool(data.get("autoReplyEnabled", False)),
            "prompt": str(data.get("autoReplyPrompt") or ""),
        }
    )


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
    await asyncio.to_thread(ctx.store.update, account_path(account_id), update)
    enabled = body.enabled if body.enabled is not None else bool(data.get("autoReplyEnabled"))
    prompt = body.prompt if body.prompt is not None else str(data.get("autoReplyPrompt") or "")
    return web.json_response(
        {"success": True, "accountId": account_id, "enabled": enabled, "prompt": prompt}
    )


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
        "Change auto-reply settings",
        body=AutoReplySettingsRequest,
    ),
)
