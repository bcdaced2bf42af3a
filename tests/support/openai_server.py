"""A local OpenAI-compatible HTTP server for tests: POST /v1/chat/completions answers with the
replies queued by the test (real HTTP, real `openai` SDK on the other side; nothing mocked).

Each queued reply is a `Reply`: the assistant content (any string, valid JSON or not), or an
HTTP error status with an OpenAI-style error body, or a delay before answering. Requests are
recorded so tests can check what the client sent (response_format, messages)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web


@dataclass
class Reply:
    content: str | None = None
    status: int = 200
    delay_s: float = 0.0
    error_message: str = "bad request"
    only_if_format: str | None = None  # answer only requests with this response_format type


class OpenAIServer:
    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.default: Reply | None = None
        self.requests: list[dict[str, Any]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def queue(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def queue_json(self, payload: Any) -> None:
        self.queue(Reply(json.dumps(payload, ensure_ascii=False)))

    async def _completions(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        reply = self.replies.popleft() if self.replies else self.default
        if reply is None:
            return web.json_response(
                {"error": {"message": "no reply queued", "type": "server_error"}}, status=500
            )
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        if reply.status != 200:
            return web.json_response(
                {
                    "error": {
                        "message": reply.error_message,
                        "type": "invalid_request_error",
                        "param": "response_format",
                        "code": None,
                    }
                },
                status=reply.status,
            )
        return web.json_response(
            {
                "id": f"chatcmpl-test-{len(self.requests)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "test-model"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": reply.content},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150},
            }
        )

    def start(self) -> OpenAIServer:
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            app = web.Application()
            app.router.add_post("/v1/chat/completions", self._completions)
            runner = web.AppRunner(app)
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            server: Any = site._server
            self.port = server.sockets[0].getsockname()[1]
            self._runner = runner
            ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, name="openai-test-server", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the OpenAI test server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(5)
