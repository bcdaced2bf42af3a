"""JSON error bodies with stable codes, and the middleware that guarantees them.

Every response of the API is a JSON object; errors are `{success: false, error, message}`.
Unexpected exceptions become 500 `internal_error` without their text (it is logged instead).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from session_daemon.logs import bind
from shared.paths import InvalidId, is_id

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
T = TypeVar("T")
DEFAULT_BODY_TIMEOUT = 30.0

MAX_BODY: web.AppKey[int] = web.AppKey("max_body_bytes", int)
BODY_TIMEOUT: web.AppKey[float] = web.AppKey("body_timeout_seconds", float)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> web.Response:
    body: dict[str, Any] = {"success": False, "error": code, "message": message, **extra}
    return web.json_response(body, status=status, headers=headers)


_HTTP_CODES: dict[int, tuple[str, str]] = {
    400: ("invalid_request", "The request is not valid."),
    401: ("unauthorized", "Authentication failed."),
    403: ("forbidden", "Not allowed."),
    404: ("not_found", "No such route."),
    405: ("method_not_allowed", "This method is not allowed on this route."),
    413: ("payload_too_large", "The request body is too large."),
    415: ("invalid_request", "Send the body as application/json."),
    408: ("body_timeout", "The request body did not arrive in time."),
}


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


async def read_in_time(request: web.Request, read: Awaitable[T]) -> T:
    """Await a body read within the body deadline (`WHATSAPP_HTTP_BODY_TIMEOUT_SECONDS`): 408
    `body_timeout` for a client that stalls, 400 for a body the parser cannot take."""
    try:
        return await asyncio.wait_for(read, request.app.get(BODY_TIMEOUT, DEFAULT_BODY_TIMEOUT))
    except TimeoutError:
        raise ApiError(408, "body_timeout", "The request body did not arrive in time.") from None
    except (RequestPayloadError, HttpProcessingError):
        raise ApiError(400, "invalid_request", "The request body could not be read.") from None


_QUIET_PATHS = frozenset({"/health", "/ready", "/metrics"})  # probes: every few seconds
access_log = logging.getLogger("session_daemon.http.access")


def _log_access(request: web.Request, status: int, seconds: float) -> None:
    """One line per request: the method and the route *pattern* (never the path itself, whose
    query may hold a link signature, nor a header); the ids are the line's fields."""
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "(no route)"
    level = logging.DEBUG if route in _QUIET_PATHS else logging.INFO
    if access_log.isEnabledFor(level):
        access_log.log(level, f"{request.method} {route} %d in %.1f ms", status, seconds * 1e3)


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Echo the caller's `X-Request-ID` (or a new one) on every response, errors included."""
    given = request.headers.get("X-Request-ID", "")
    request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    # Every log line of this request carries its id, and the path's account when it names one.
    started = time.monotonic()
    account = request.match_info.get("accountId")
    with bind(requestId=request_id, account=account if is_id(account) else None):
        response = await handler(request)
        _log_access(request, response.status, time.monotonic() - started)
    response.headers["X-Request-ID"] = request_id
    return response


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        headers = {}
        if "retryAfterSeconds" in exc.extra:
            headers["Retry-After"] = str(exc.extra["retryAfterSeconds"])
        return error_response(exc.status, exc.code, exc.message, headers=headers, **exc.extra)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # redirects
        code, message = _HTTP_CODES.get(exc.status, ("http_error", exc.reason))
        if exc.status == 413:
            message = f"The request body is larger than {request.app[MAX_BODY]} bytes."
        allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return error_response(exc.status, code, message, headers=allow)
    except ConnectionResetError:  # the client hung up mid-request: its choice, not our error
        log.debug("client went away during %s %s", request.method, request.path)
        return error_response(400, "client_disconnected", "The connection was closed.")
    except InvalidId as exc:  # an id that is not one path segment reached a path builder
        return error_response(400, "invalid_request", f"Invalid request: {exc}")
    except Exception:
        log.exception(
            "unhandled error on %s %s (X-Request-ID %s)",
            request.method,
            request.path,
            request.headers.get("X-Request-ID", "-"),
        )
        return error_response(500, "internal_error", "Internal error; see the daemon log.")
