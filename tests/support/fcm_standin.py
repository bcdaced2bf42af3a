"""A local HTTP server standing in for the FCM v1 endpoint (FCM has no emulator): it records
every request exactly as received and answers from a script."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FcmStandIn:
    base_url: str = ""
    requests: list[Seen] = field(default_factory=list)
    # answers consumed in order; when empty, 200 with a message name
    script: list[tuple[int, Any, dict[str, str]]] = field(default_factory=list)
    # per device token: an error code to answer with (404 UNREGISTERED, ...)
    token_errors: dict[str, tuple[int, str]] = field(default_factory=dict)
    token_requests: list[str] = field(default_factory=list)  # form bodies sent to /token

    def bodies(self) -> list[Any]:
        return [r.body for r in self.requests]


def fcm_error(status: int, code: str, canonical: str = "NOT_FOUND") -> dict[str, Any]:
    return {
        "error": {
            "code": status,
            "message": "Requested entity was not found.",
            "status": canonical,
            "details": [
                {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}
            ],
        }
    }


@asynccontextmanager
async def fcm_standin() -> AsyncIterator[FcmStandIn]:
    state = FcmStandIn()

    async def handle(request: web.Request) -> web.Response:
        raw = await request.read()
        if request.path == "/token":  # Google's OAuth2 token endpoint, for service accounts
            state.token_requests.append(raw.decode())
            n = len(state.token_requests)
            return web.json_response(
                {"access_token": f"ya29.token-{n}", "expires_in": 3600, "token_type": "Bearer"}
            )
        body = json.loads(raw) if raw else None
        state.requests.append(Seen(request.method, request.path, dict(request.headers), body))
        token = (body or {}).get("message", {}).get("token")
        if token in state.token_errors:
            status, code = state.token_errors[token]
            return web.json_response(fcm_error(status, code), status=status)
        if state.script:
            status, answer, headers = state.script.pop(0)
            return web.json_response(answer, status=status, headers=headers)
        return web.json_response({"name": f"projects/p/messages/{len(state.requests)}"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    server = TestServer(app)
    await server.start_server()
    state.base_url = str(server.make_url("")).rstrip("/")
    try:
        yield state
    finally:
        await server.close()
