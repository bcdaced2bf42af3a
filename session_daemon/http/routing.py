"""Declarative routes: one `RouteSpec` both registers an aiohttp route (with its access check)
and describes it in `/openapi.json`, so the two cannot drift apart.

Other modules (the outbox worker's send/wake routes) add theirs with `add_routes(app, [...])`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel

from session_daemon.http.auth import Access, Principal
from session_daemon.http.context import CONTEXT
from session_daemon.http.errors import ApiError, read_in_time
from shared.schemas import InvalidPayload, validate_payload

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class QueryParam:
    name: str
    schema: dict[str, Any]
    description: str = ""
    required: bool = False


@dataclass(frozen=True)
class RouteSpec:
    method: str
    path: str
    handler: Handler
    access: Access
    summary: str
    tag: str = "whatsapp"
    query: tuple[QueryParam, ...] = ()
    body: type[BaseModel] | None = None
    # statuses this route answers beyond the standard ones of openapi.py (409, 429, ...)
    responses: dict[int, str] = field(default_factory=lambda: {200: "Success"})
    content_type: str = "application/json"  # of its success responses
    # media types per status where they differ: {200: ("application/json", "image/png")};
    # an empty tuple declares a response without a body (a redirect)
    media: dict[int, tuple[str, ...]] = field(default_factory=dict)


ROUTE_SPECS: web.AppKey[list[RouteSpec]] = web.AppKey("route_specs", list)
PRINCIPAL: web.RequestKey[Principal | None] = web.RequestKey("principal", Principal)


def _guarded(spec: RouteSpec) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        who = await request.app[CONTEXT].authenticator.authorize(request, spec.access)
        request[PRINCIPAL] = who
        return await spec.handler(request)

    handler.__name__ = spec.handler.__name__
    return handler


def add_routes(app: web.Application, specs: Iterable[RouteSpec]) -> None:
    if ROUTE_SPECS not in app:
        app[ROUTE_SPECS] = []
    for spec in specs:
        app.router.add_route(spec.method, spec.path, _guarded(spec))
        app[ROUTE_SPECS].append(spec)


def principal(request: web.Request) -> Principal | None:
    return request.get(PRINCIPAL)


# ---- input helpers ---------------------------------------------------------------------------


async def read_json_object(request: web.Request, max_bytes: int | None = None) -> dict[str, Any]:
    """The body as a JSON object ({} when empty). 400 for anything else, 413 when larger than
    `max_bytes` (default: the app's limit)."""
    if max_bytes is not None:
        request = request.clone(client_max_size=max_bytes)
    raw = await read_in_time(request, request.read())  # aiohttp raises 413 beyond the limit
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: hostile nesting
        raise ApiError(400, "invalid_request", "The body is not valid JSON.") from None
    if not isinstance(value, dict):
        raise ApiError(400, "invalid_request", "The body must be a JSON object.")
    return value


def validate(model: type[M], data: dict[str, Any]) -> M:
    """Validate a body; 400 `invalid_request` naming the bad fields (never echoing values)."""
    try:
        return validate_payload(model, data)
    except InvalidPayload as exc:
        raise ApiError(
            400, "invalid_request", f"Invalid request: {exc.message}", fields=exc.fields
        ) from None


async def read_body(request: web.Request, model: type[M], max_bytes: int | None = None) -> M:
    return validate(model, await read_json_object(request, max_bytes))


def int_query(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter, clamped to [low, high]; 400 when it is not an integer."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "invalid_request", f"'{name}' must be an integer.") from None
    return max(low, min(high, value))
