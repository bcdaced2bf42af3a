"""The HTTP server around the app: connection timeouts aiohttp lacks, and logging that never
quotes what a client sent.

- Header read timeout (`WHATSAPP_HTTP_HEADER_TIMEOUT_SECONDS`): aiohttp has no setting for it, so
  `HardenedRequestHandler` arms a timer when a connection opens (and when a new request head
  starts on a kept-alive connection) and closes the connection if the head is not complete in
  time: a slowloris client sending half a header is cut off.
- Keep-alive idle timeout (`WHATSAPP_HTTP_KEEPALIVE_SECONDS`): aiohttp's own `keepalive_timeout`.
- Body read deadline (`WHATSAPP_HTTP_BODY_TIMEOUT_SECONDS`): enforced where handlers read a body
  (`routing.read_json_object`, the login form), answering 408 `body_timeout`.
- A request the parser rejects (a control character in a header, an over-long line) is answered
  400 `bad_request` and logged at INFO with the exception's class only: aiohttp's own handler logs
  a traceback whose message quotes the raw header line, Bearer token included.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from session_daemon.http.errors import error_response

log = logging.getLogger(__name__)


class HardenedRequestHandler(RequestHandler):
    """aiohttp's protocol with a header read deadline and quiet parse-error logging."""

    def __init__(self, manager: Any, *, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._header_timeout = header_timeout
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        heads = self._request_count
        super().data_received(data)
        if self._request_count > heads:  # a whole request head arrived
            self._cancel_header_timer()
        elif self._header_timer is None and not self._request_in_progress and not self._messages:
            self._arm_header_timer()  # the next head starts on a kept-alive connection

    def connection_lost(self, exc: BaseException | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        if self._header_timeout > 0:
            self._header_timer = self._loop.call_later(self._header_timeout, self._header_late)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_late(self) -> None:
        self._header_timer = None
        if self._request_in_progress or self._messages:
            return
        peer = self.transport.get_extra_info("peername") if self.transport else None
        log.info("closing a connection from %s: no complete request head in time", peer)
        self.force_close()
        if self.transport is not None:
            self.transport.close()

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """A JSON error; the log line names the exception's class, never its text (a parser
        error's text quotes the raw header line)."""
        kind = type(exc).__name__ if exc is not None else "-"
        if isinstance(exc, ConnectionError):
            log.debug("client went away during a request (%s)", kind)
        elif status < 500:
            log.info("refused an unreadable request from %s: %d (%s)", request.remote, status, kind)
        else:
            log.error("error handling a request from %s: %s", request.remote, kind)
        if request.writer.output_size > 0:
            raise ConnectionError("response already started; cannot send an error")
        if status < 500:
            resp = error_response(status, "bad_request", "The request could not be parsed.")
        else:
            resp = error_response(500, "internal_error", "Internal error; see the daemon log.")
        resp.force_close()
        return resp


class HardenedServer(web.Server):
    def __init__(self, handler: Any, *, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.header_timeout = header_timeout

    def __call__(self) -> RequestHandler:
        return HardenedRequestHandler(
            self, loop=self._loop, header_timeout=self.header_timeout, **self._kwargs
        )


class HardenedRunner(web.AppRunner):
    """`web.AppRunner` serving with `HardenedRequestHandler`."""

    def __init__(self, app: web.Application, *, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._header_timeout = header_timeout

    async def _make_server(self) -> web.Server:
        plain = await super()._make_server()  # runs the app's startup, freezes it
        return HardenedServer(
            plain.request_handler,
            request_factory=plain.request_factory,
            handler_cancellation=plain.handler_cancellation,
            loop=asyncio.get_running_loop(),
            header_timeout=self._header_timeout,
            **plain._kwargs,  # debug, access_log_class and this runner's keyword arguments
        )


class NoRawValues(logging.Filter):
    """Belt and braces for aiohttp's own loggers: keep the line, drop the traceback and the
    exception text (which can quote a raw header), keep the exception's class."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            record.msg = f"{record.getMessage()} ({type(record.exc_info[1]).__name__})"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


def install_log_filter() -> None:
    for name in ("aiohttp.server", "aiohttp.access", "aiohttp.web"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, NoRawValues) for f in logger.filters):
            logger.addFilter(NoRawValues())
