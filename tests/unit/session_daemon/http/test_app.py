"""The HTTP API in-process (real aiohttp server and client, real SqliteStore, scripted
transport): auth, errors, every account/data/ops route, OpenAPI = router, the page."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from session_daemon.config import Settings
from session_daemon.http.app import build_app
from session_daemon.http.auth import Authenticator, InvalidCredentials, Principal
from session_daemon.http.context import DaemonContext
from session_daemon.http.openapi import router_routes
from session_daemon.sessions.manager import SessionManager
from shared.identity import bearer_token
from shared.store.sqlite import SqliteStore
from tests.support.daemon import CollectingInbound, ScriptedTransport

TOKEN = "service-token-for-tests-0123456789"
ADMIN = Principal("firebase", "u-admin", "boss@example.com", True, True)
STAFF = Principal("firebase", "u-staff", "staff@example.com", True, False)
STRANGER = Principal("firebase", "u-x", "x@example.com", False, False)


def resolve(token: str) -> Principal:
    table = {"admin-id-token": ADMIN, "staff-id-token": STAFF, "stranger-id-token": STRANGER}
    if token not in table:
        raise InvalidCredentials("bad token")
    return table[token]


class Api:
    def __init__(self, client: TestClient, ctx: DaemonContext, transport: ScriptedTransport):
        self.client = client
        self.ctx = ctx
        self.transport = transport
        self.store: SqliteStore = ctx.store  # type: ignore[assignment]

    async def call(
        self, method: str, path: str, body: Any = None, token: str | None = TOKEN, **kw: Any
    ) -> tuple[int, Any, Any]:
        headers = dict(kw.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        resp = await self.client.request(method, path, json=body, headers=headers, **kw)
        raw = await resp.read()
        parsed: Any = raw
        if resp.content_type == "application/json":
            parsed = await resp.json()
        return resp.status, parsed, resp

    async def add(self, name: str = "Main", phone: str = "0722123456") -> str:
        status, body, _ = await self.call(
            "POST", "/api/whatsapp/add-account", {"name": name, "phone": phone}
        )
        assert status == 200, body
        await self.settle()
        account_id: str = body["accountId"]
        return account_id

    async def settle(self) -> None:
        await asyncio.sleep(0.05)
        await self.ctx.manager._events.join()

    def dump(self) -> list[tuple[str, str]]:
        conn = self.store._conn()
        return list(conn.execute("SELECT path, data FROM docs ORDER BY path"))


@contextlib.asynccontextmanager
async def running_api(tmp_path: Path, **overrides: Any) -> AsyncIterator[Api]:
    """The daemon's app in-process (real aiohttp server, real SqliteStore, scripted transport)
    with these test settings, `overrides` replacing any of them."""
    settings = Settings(
        **{
            "sessions_path": tmp_path / "sessions",
            "service_token": TOKEN,
            "max_concurrent_pairings": 2,
            "regenerate_cooldown_seconds": 0,
            "connect_backoff_initial": 0.01,
            "connect_backoff_max": 0.02,
            "max_body_bytes": 4096,
            "instance_id": "test",
            **overrides,
        }
    )
    settings.sessions_path.mkdir()
    store = SqliteStore(tmp_path / "store.db")
    transport = ScriptedTransport()
    inbound = CollectingInbound()
    manager = SessionManager(store, transport, settings, inbound)
    ctx = DaemonContext(
        settings=settings,
        store=store,
        transport=transport,
        manager=manager,
        authenticator=Authenticator(TOKEN, resolve),
        inbound=inbound,
    )
    await manager.start()
    client = TestClient(TestServer(build_app(ctx)))
    await client.start_server()
    try:
        yield Api(client, ctx, transport)
    finally:
        await client.close()
        await manager.stop()
        store.close()


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with running_api(tmp_path) as running:
        yield running


# ---- auth ------------------------------------------------------------------------------------


def test_bearer_token_parsing() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer  abc ") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer") is None
    assert bearer_token("Bearer a b") is None
    assert bearer_token(None) is None


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "missing_auth_token"),
        ({"Authorization": "Basic Zm9vOmJhcg=="}, 401, "missing_auth_token"),
        ({"Authorization": "Bearer wrong"}, 401, "unauthorized"),
        ({"Authorization": f"Bearer {TOKEN}x"}, 401, "unauthorized"),
        ({"Authorization": "Bearer stranger-id-token"}, 403, "employee_only"),
    ],
)
async def test_auth_errors(api: Api, headers: dict[str, str], status: int, code: str) -> None:
    resp = await api.client.get("/api/whatsapp/accounts", headers=headers)
    body = await resp.json()
    assert resp.status == status and resp.content_type == "application/json"
    assert body == {"success": False, "error": code, "message": body["message"]}


async def test_staff_cannot_control_accounts(api: Api) -> None:
    for method, path in [
        ("POST", "/api/whatsapp/add-account"),
        ("GET", "/api/whatsapp/qr/wa_1"),
        ("POST", "/api/whatsapp/regenerate-qr/wa_1"),
        ("DELETE", "/api/whatsapp/accounts/wa_1"),
        ("POST", "/api/whatsapp/pairing-code/wa_1"),
        ("GET", "/metrics"),
    ]:
        status, body, _ = await api.call(method, path, {}, token="staff-id-token")
        assert (status, body["error"]) == (403, "super_admin_only"), path


async def test_staff_sees_accounts_without_qr_and_without_admin_only(api: Api) -> None:
    a = await api.add("A", "0722123456")
    b = await api.add("B", "0722123457")
    api.store.set("config/whatsapp_inbox", {"adminOnlyAccountIds": [b]})
    _, admin_view, _ = await api.call("GET", "/api/whatsapp/accounts", token="admin-id-token")
    assert {x["id"] for x in admin_view["accounts"]} == {a, b}
    qr = next(x for x in admin_view["accounts"] if x["id"] == a)["qrCode"]
    assert qr.startswith("data:image/png;base64,")
    _, staff_view, _ = await api.call("GET", "/api/whatsapp/accounts", token="staff-id-token")
    assert [x["id"] for x in staff_view["accounts"]] == [a]
    # the dashboard data too: no admin-only account, not even in the counts
    _, dash, _ = await api.call("GET", "/api/status/dashboard", token="staff-id-token")
    assert [x["id"] for x in dash["accounts"]] == [a]
    assert dash["totals"]["accounts"] == 1 and sum(dash["totals"].values()) == 2
    assert dash["pairingsInProgress"] == 1
    assert all(x["qrCode"] is None and x["pairingCode"] is None for x in dash["accounts"])
    _, dash, _ = await api.call("GET", "/api/status/dashboard", token="admin-id-token")
    assert {x["id"] for x in dash["accounts"]} == {a, b} and dash["totals"]["accounts"] == 2
    assert staff_view["accounts"][0]["qrCode"] is None
    for account in staff_view["accounts"] + admin_view["accounts"]:
        assert all(v is None or isinstance(v, str) for v in account.values())
    status, body, _ = await api.call("GET", f"/api/whatsapp/threads/{b}", token="staff-id-token")
    assert (status, body["error"]) == (403, "super_admin_only")


# ---- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b"[1,2]",
        b'"text"',
        b'{"name": "A"}',
        b'{"name": "", "phone": "0722123456"}',
        b'{"name": 5, "phone": "0722123456"}',
        b'{"name": "A", "phone": [722123456]}',
        b'{"name": "A", "phone": "not a phone"}',
        b'{"name": "' + b"x" * 101 + b'", "phone": "0722123456"}',
        b"\xff\xfe",
    ],
)
async def test_add_account_rejects_bad_bodies(api: Api, raw: bytes) -> None:
    before = api.dump()
    resp = await api.client.post(
        "/api/whatsapp/add-account",
        data=raw,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    body = await resp.json()
    assert resp.status == 400 and body["error"] == "invalid_request" and body["message"]
    assert api.dump() == before


async def test_oversized_body_is_413(api: Api) -> None:
    before = api.dump()
    resp = await api.client.post(
        "/api/whatsapp/add-account",
        data=b'{"name": "' + b"x" * 10000 + b'"}',
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    body = await resp.json()
    assert (resp.status, body["error"]) == (413, "payload_too_large")
    assert api.dump() == before


async def test_unknown_routes_methods_and_accounts(api: Api) -> None:
    status, body, resp = await api.call("GET", "/nope", headers={"X-Request-ID": "abc-1"})
    assert (status, body["error"]) == (404, "not_found")
    assert resp.headers["X-Request-ID"] == "abc-1"
    status, body, _ = await api.call("PUT", "/api/whatsapp/add-account")
    assert (status, body["error"]) == (405, "method_not_allowed")
    for method, path in [
        ("GET", "/api/whatsapp/qr/wa_missing"),
        ("POST", "/api/whatsapp/regenerate-qr/wa_missing"),
        ("DELETE", "/api/whatsapp/accounts/wa_missing"),
        ("POST", "/api/whatsapp/backfill/wa_missing"),
        ("GET", "/api/whatsapp/threads/wa_missing"),
        ("GET", "/api/whatsapp/inbox/wa_missing"),
    ]:
        status, body, _ = await api.call(method, path)
        assert (status, body["error"]) == (404, "account_not_found"), path
    # not one path segment: the caller's error (CONTRACT section 2), not a missing account
    status, body, _ = await api.call("GET", "/api/whatsapp/auto-reply-settings/..%2F..%2Fetc")
    assert (status, body["error"]) == (400, "invalid_request")


async def test_internal_errors_do_not_leak(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_: Any, **__: Any) -> Any:
        raise RuntimeError("secret detail /var/lib/x")

    monkeypatch.setattr(api.store, "query", boom)
    status, body, _ = await api.call("GET", "/api/whatsapp/accounts")
    assert status == 500 and body["error"] == "internal_error"
    assert "secret" not in body["message"]


# ---- accounts, QR, pairing ------------------------------------------------------------------


async def test_add_account_qr_json_and_png(api: Api) -> None:
    aid = await api.add()
    status, again, _ = await api.call(
        "POST", "/api/whatsapp/add-account", {"name": "Main", "phone": "+40 722 123 456"}
    )
    assert status == 200 and again["accountId"] == aid and again["created"] is False
    status, qr, resp = await api.call("GET", f"/api/whatsapp/qr/{aid}")
    assert status == 200 and qr["qr"] == f"qr-{aid}-1" and qr["status"] == "qr_ready"
    assert resp.headers["Cache-Control"] == "no-store"
    status, png, resp = await api.call("GET", f"/api/whatsapp/qr/{aid}?format=png")
    assert status == 200 and resp.content_type == "image/png" and png[:8] == b"\x89PNG\r\n\x1a\n"
    status, body, _ = await api.call("GET", f"/api/whatsapp/qr/{aid}?format=gif")
    assert status == 400
    status, body, _ = await api.call("POST", f"/api/whatsapp/pairing-code/{aid}", {})
    assert status == 200 and body["pairingCode"] == "ABCD1234"
    api.transport.pair(aid)
    await api.settle()
    status, body, _ = await api.call("GET", f"/api/whatsapp/qr/{aid}?format=png")
    assert (status, body["error"]) == (404, "qr_not_available")


async def test_regenerate_qr_semantics(api: Api) -> None:
    a = await api.add("A", "0722123456")
    status, body, _ = await api.call("POST", f"/api/whatsapp/regenerate-qr/{a}")
    assert status == 202 and body["status"] == "already_in_progress" and body["requestId"]
    await api.add("B", "0722123457")
    c = await api.add("C", "0722123458")  # over the limit of 2: needs_qr
    status, body, resp = await api.call("POST", f"/api/whatsapp/regenerate-qr/{c}")
    assert status == 429 and body["error"] == "rate_limited"
    assert body["retryAfterSeconds"] >= 1 and resp.headers["Retry-After"]
    api.transport.pair(a)
    await api.settle()
    status, body, _ = await api.call("POST", f"/api/whatsapp/regenerate-qr/{a}")
    assert (status, body["success"], body["status"]) == (200, True, "already_connected")
    assert body["message"] and api.ctx.manager.status_of(a) == "connected"  # still linked
    status, body, _ = await api.call("POST", f"/api/whatsapp/regenerate-qr/{c}")
    assert status == 200 and body["success"] and body["requestId"]


async def test_delete_account_keeps_data(api: Api) -> None:
    aid = await api.add()
    thread = f"threads/{aid}__40711111111@s.whatsapp.net"
    api.store.set(thread, {"accountId": aid})
    status, body, _ = await api.call("DELETE", f"/api/whatsapp/accounts/{aid}")
    assert status == 200 and body["success"]
    status, body, _ = await api.call("DELETE", f"/api/whatsapp/accounts/{aid}")
    assert status == 200  # idempotent for the app's retries
    assert api.store.get(thread) is not None
    assert api.store.get(f"accounts/{aid}").data["status"] == "deleted"  # type: ignore[union-attr]
    _, body, _ = await api.call("GET", "/api/whatsapp/accounts")
    assert body["accounts"] == []


async def test_backfill_threads_inbox_and_auto_reply(api: Api) -> None:
    aid = await api.add()
    status, body, _ = await api.call("POST", f"/api/whatsapp/backfill/{aid}")
    assert (status, body["error"]) == (409, "not_connected")
    api.transport.pair(aid)
    await api.settle()
    base = datetime(2026, 5, 1, tzinfo=UTC)
    for i in range(3):
        jid = f"4071111111{i}@s.whatsapp.net"
        tid = f"{aid}__{jid}"
        api.store.set(
            f"threads/{tid}",
            {"accountId": aid, "clientJid": jid, "lastMessageAt": base + timedelta(minutes=i)},
        )
        api.store.set(
            f"threads/{tid}/messages/m{i}",
            {
                "accountId": aid,
                "clientJid": jid,
                "body": f"hi {i}",
                "direction": "inbound",
                "tsClient": base + timedelta(minutes=i),
            },
        )
    status, body, _ = await api.call("GET", f"/api/whatsapp/threads/{aid}?limit=2")
    assert status == 200 and body["count"] == 2
    assert body["threads"][0]["clientJid"] == "40711111112@s.whatsapp.net"
    assert body["threads"][0]["lastMessageAt"] == "2026-05-01T00:02:00Z"
    status, body, _ = await api.call("GET", f"/api/whatsapp/threads/{aid}?limit=x")
    assert (status, body["error"]) == (400, "invalid_request")
    status, body, _ = await api.call("GET", f"/api/whatsapp/threads/{aid}?orderBy=name")
    assert status == 400
    status, body, _ = await api.call("GET", f"/api/whatsapp/inbox/{aid}", token="staff-id-token")
    assert status == 200 and [m["body"] for m in body["messages"]] == ["hi 2", "hi 1", "hi 0"]
    assert body["messages"][0]["threadId"] == f"{aid}__40711111112@s.whatsapp.net"

    status, body, _ = await api.call(
        "POST", f"/api/whatsapp/backfill/{aid}", token="staff-id-token"
    )
    assert status == 200 and body["requestId"]
    await asyncio.sleep(0.1)
    assert len(api.transport.history_requests) == 3

    status, body, _ = await api.call("GET", f"/api/whatsapp/auto-reply-settings/{aid}")
    assert (status, body["enabled"], body["prompt"]) == (200, False, "")
    status, body, _ = await api.call(
        "POST", f"/api/whatsapp/auto-reply-settings/{aid}", {"enabled": True, "prompt": "Be nice"}
    )
    assert (status, body["enabled"], body["prompt"]) == (200, True, "Be nice")
    status, body, _ = await api.call(
        "POST", f"/api/whatsapp/auto-reply-settings/{aid}", {"enabled": "yes"}
    )
    assert status == 400
    status, body, _ = await api.call("POST", f"/api/whatsapp/auto-reply-settings/{aid}", {})
    assert status == 400
    _, body, _ = await api.call("GET", f"/api/whatsapp/auto-reply-settings/{aid}")
    assert body["enabled"] is True


# ---- ops ---------------------------------------------------------------------------------------


async def test_health_ready_diag_dashboard_metrics(api: Api) -> None:
    status, body, _ = await api.call("GET", "/health", token=None)
    assert status == 200 and body["sessions_dir_writable"] is True and body["store_reachable"]
    status, body, _ = await api.call("GET", "/ready", token=None)
    assert status == 200 and body["ready"] is True and body["mode"] == "active"
    assert set(body) >= {
        "reason",
        "instanceId",
        "lockStatus",
        "heldBy",
        "lockExpiresInSeconds",
        "timestamp",
    }
    await api.add()
    status, body, _ = await api.call("GET", "/diag")
    assert status == 200 and body["sessions"]["pairingsInProgress"] == 1
    status, body, _ = await api.call("GET", "/api/status/dashboard", token="staff-id-token")
    assert status == 200 and body["accounts"][0]["status"] == "qr_ready"
    assert "qrCode" not in body or body["accounts"][0]["qrCode"] is None
    status, text, _ = await api.call("GET", "/metrics")
    assert status == 200 and b'superparty_sessions{status="qr_ready"} 1.0' in text
    status, body, _ = await api.call("GET", "/metrics", token=None)
    assert status == 401


async def test_diag_names_a_postgres_sessions_location_without_its_password(
    tmp_path: Path,
) -> None:
    url = "postgres://crm:s3cret@db.internal:5432/wa?sslmode=require"
    async with running_api(tmp_path, sessions_url=url) as api:
        status, body, _ = await api.call("GET", "/diag")
    assert status == 200
    assert body["sessionsDatabase"] == "postgres://crm:***@db.internal:5432/wa?sslmode=require"
    assert "s3cret" not in json.dumps(body)


async def test_health_503_when_sessions_dir_not_writable(api: Api, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    api.ctx.settings = api.ctx.settings.__class__(
        **{**api.ctx.settings.__dict__, "sessions_path": blocker / "sessions"}
    )
    status, body, _ = await api.call("GET", "/health", token=None)
    assert status == 503 and body["sessions_dir_writable"] is False and body["success"] is False


async def test_health_503_when_store_unreachable(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api.store, "ping", lambda: False)
    status, body, _ = await api.call("GET", "/health", token=None)
    assert status == 503 and body["store_reachable"] is False


async def test_openapi_matches_router_exactly(api: Api) -> None:
    status, doc, _ = await api.call("GET", "/openapi.json")
    assert status == 200
    documented = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}
    app = api.client.app
    assert app is not None
    served = set(router_routes(app))
    assert documented == served
    assert ("POST", "/api/whatsapp/add-account") in served
    add = doc["paths"]["/api/whatsapp/add-account"]["post"]
    assert add["requestBody"]["content"]["application/json"]["schema"]["required"] == [
        "name",
        "phone",
    ]
    assert doc["paths"]["/health"]["get"]["security"] == []


# ---- page --------------------------------------------------------------------------------------


async def test_page_needs_the_token_and_escapes(api: Api) -> None:
    await api.add("<script>alert(1)</script>", "0722123456")
    resp = await api.client.get("/")
    assert resp.status == 401 and "Service token" in await resp.text()
    # never in the URL (browser history, proxy logs): even the right token is refused there
    for token in ("wrong", TOKEN):
        resp = await api.client.get(f"/?token={token}", allow_redirects=False)
        assert resp.status == 401 and "sp_dashboard" not in resp.cookies
        assert "not accepted in the address" in await resp.text()
    # only the service token: not even a super-admin's ID token opens the operator page
    for token in ("wrong", "staff-id-token", "admin-id-token"):
        resp = await api.client.post("/login", data={"token": token}, allow_redirects=False)
        assert resp.status == 401 and "sp_dashboard" not in resp.cookies
    resp = await api.client.post("/login", data={"token": TOKEN}, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/"
    cookie = resp.cookies["sp_dashboard"]
    assert cookie.value != TOKEN and cookie["httponly"]
    resp = await api.client.get("/", cookies={"sp_dashboard": cookie.value})
    html = await resp.text()
    assert resp.status == 200 and "data-view='fleet'" in html
    # the shell holds no store data (the script fills it as text) and no token
    assert "alert(1)" not in html and TOKEN not in html
    assert "<script src='/dashboard.js' defer></script>" in html
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("style-src")[0]
    resp = await api.client.get("/dashboard.js")
    assert resp.status == 200 and "textContent" in await resp.text()
    # the data comes from a bearer route; the cookie opens neither it nor the API
    for path in ("/api/whatsapp/accounts", "/api/fleet"):
        resp = await api.client.get(path, cookies={"sp_dashboard": cookie.value})
        assert resp.status == 401
    status, body, _ = await api.call("GET", "/api/fleet")
    assert status == 200 and body["accounts"][0]["name"] == "<script>alert(1)</script>"
    row = body["accounts"][0]
    assert row["status"] == "qr_ready" and row["pairing"] is True and row["runsHere"] is True
    assert row["queueDepth"] == 0 and row["inboundToday"] == 0 and row["reason"]
    status, body, _ = await api.call("GET", "/api/fleet", token="staff-id-token")
    assert status == 403
