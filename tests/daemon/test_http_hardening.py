"""Issue 9 (second half) against the real daemon process: the former 500s are stable 4xx, and
a client's mistakes (bad forms, hanging up) are never logged at ERROR."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from tests.daemon.conftest import DaemonProcess


def test_pairing_code_when_the_session_is_not_pairing_is_409(daemon: DaemonProcess) -> None:
    """Banned or replaced while showing QR codes: the session stopped pairing (was a 500)."""
    d = daemon
    for n, action in enumerate(("ban", "stream-replace")):
        account = d.post("/api/whatsapp/add-account", {"name": "A", "phone": f"07220001{n}0"})
        account_id = account.json()["accountId"]
        d.wait_for(lambda: d.account_status(account_id) == "qr_ready", what="QR")  # noqa: B023
        assert d.post(f"/api/simulator/{action}/{account_id}", {}).status == 200
        reply = d.post(f"/api/whatsapp/pairing-code/{account_id}", {"phone": "+40722000999"})
        assert (reply.status, reply.json()["error"]) == (409, "not_pairing"), (action, reply.body)
    assert "ERROR" not in d.log() and "Traceback" not in d.log(), d.log()


def test_multipart_login_without_a_boundary_is_400(daemon: DaemonProcess) -> None:
    for content_type in ("multipart/form-data", "multipart/form-data; boundary=", "text/plain"):
        reply = daemon.post(
            "/login", raw=b"token=x", token=None, headers={"Content-Type": content_type}
        )
        if content_type == "text/plain":  # not a form: no token in it, the form again
            assert reply.status == 401, reply.body
            continue
        assert reply.status == 400, (content_type, reply.status, reply.body)
        assert reply.json()["error"] == "invalid_form", reply.body
    assert "ERROR" not in daemon.log() and "Traceback" not in daemon.log(), daemon.log()


def test_a_client_hanging_up_mid_request_is_not_an_error(daemon: DaemonProcess) -> None:
    head = (
        "POST /api/whatsapp/add-account HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {daemon.token}\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", daemon.port)) as sock:
        sock.sendall(head.encode() + b'{"name": "A", ')
        time.sleep(0.3)
    time.sleep(0.5)
    assert daemon.get("/health", token=None).status == 200
    assert "ERROR" not in daemon.log() and "Traceback" not in daemon.log(), daemon.log()


def _raw(port: int, data: bytes, wait: float = 5.0, first: bool = False) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(data)
        if first:
            return sock.recv(65536)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def test_a_control_character_in_a_header_is_400_and_never_logged(daemon: DaemonProcess) -> None:
    secret = "Bearer sk-" + "z" * 40
    request = (
        f"GET /api/whatsapp/accounts HTTP/1.1\r\nHost: x\r\nAuthorization: {secret}\r\n"
        "X-Evil: a\x01b\r\n\r\n"
    ).encode()
    reply = _raw(daemon.port, request)
    assert reply.split(b"\r\n", 1)[0].endswith(b" 400 Bad Request"), reply[:200]
    assert b'"error": "bad_request"' in reply and b"application/json" in reply
    time.sleep(0.2)
    log = daemon.log()
    assert "refused an unreadable request" in log, log
    assert "sk-zzzz" not in log and "X-Evil" not in log and "Traceback" not in log, log


def test_slow_and_idle_connections_are_closed(daemon_factory: Any) -> None:
    d = daemon_factory(
        env={"WHATSAPP_HTTP_HEADER_TIMEOUT_SECONDS": "1", "WHATSAPP_HTTP_KEEPALIVE_SECONDS": "2"}
    )
    with socket.create_connection(("127.0.0.1", d.port), timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # half a header, then silence
        assert sock.recv(1024) == b""  # closed by the daemon
        assert time.monotonic() - started < 3
    with socket.create_connection(("127.0.0.1", d.port), timeout=10) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        assert sock.recv(1024) == b""  # idle keep-alive connection closed
        assert 1.5 < time.monotonic() - started < 4.5
    assert "Traceback" not in d.log()


def test_a_stalled_body_is_408(daemon_factory: Any) -> None:
    d = daemon_factory(env={"WHATSAPP_HTTP_BODY_TIMEOUT_SECONDS": "1"})
    head = (
        "POST /api/whatsapp/add-account HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {d.token}\r\nContent-Type: application/json\r\n"
        "Content-Length: 100\r\n\r\n{"
    )
    started = time.monotonic()
    reply = _raw(d.port, head.encode(), first=True)
    assert reply.startswith(b"HTTP/1.1 408") and b"body_timeout" in reply, reply[:300]
    assert time.monotonic() - started < 3


def test_a_short_service_token_stops_the_daemon(daemon_factory: Any) -> None:
    d = daemon_factory(start=False)
    d.token = "x" * 31
    with pytest.raises(RuntimeError, match="at least 32"):
        d.start(timeout=20)
    assert d.proc is not None and d.proc.returncode == 2


def test_failed_service_tokens_are_throttled_per_address(daemon_factory: Any) -> None:
    d = daemon_factory(
        env={"WHATSAPP_AUTH_FAILURES_ALLOWED": "3", "WHATSAPP_TRUSTED_PROXIES": "127.0.0.1"}
    )
    office = {"X-Forwarded-For": "198.51.100.7"}
    for _ in range(3):
        assert d.get("/api/whatsapp/accounts", token="guess" * 8, headers=office).status == 401
    reply = d.get("/api/whatsapp/accounts", headers=office)  # even the right token, for now
    assert reply.status == 429, reply.body
    body = reply.json()
    assert body["error"] == "too_many_auth_failures" and body["retryAfterSeconds"] >= 1
    assert reply.headers["retry-after"] == str(body["retryAfterSeconds"])
    # another address behind the same trusted proxy is not affected
    other = {"X-Forwarded-For": "198.51.100.8"}
    assert d.get("/api/whatsapp/accounts", headers=other).status == 200
    # the login form counts too
    form = {"Content-Type": "application/x-www-form-urlencoded", **office}
    assert d.post("/login", raw=b"token=nope", token=None, headers=form).status == 429


def test_x_forwarded_for_is_ignored_from_untrusted_peers(daemon_factory: Any) -> None:
    d = daemon_factory(env={"WHATSAPP_AUTH_FAILURES_ALLOWED": "2"})
    for n in range(2):  # a different claimed address each time: still one peer, 127.0.0.1
        fake = {"X-Forwarded-For": f"203.0.113.{n}"}
        assert d.get("/api/whatsapp/accounts", token="guess" * 8, headers=fake).status == 401
    assert d.get("/api/whatsapp/accounts").status == 429


def test_aiohttp_log_records_lose_their_exception_text() -> None:
    """The filter on aiohttp's loggers: a traceback whose text quotes a raw header keeps only the
    exception's class (belt and braces behind HardenedRequestHandler.handle_error)."""
    import logging

    from session_daemon.http.server import NoRawValues

    try:
        raise ValueError("Invalid header value: b'Authorization: Bearer sk-secret'")
    except ValueError:
        import sys

        record = logging.LogRecord(
            "aiohttp.server", logging.ERROR, __file__, 1, "Error handling request from %s",
            ("127.0.0.1",), sys.exc_info(),
        )  # fmt: skip
    assert NoRawValues().filter(record)
    text = logging.Formatter().format(record)
    assert text == "Error handling request from 127.0.0.1 (ValueError)", text
