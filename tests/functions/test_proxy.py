"""The whatsappProxy* door in process: real SQLite store, a real HTTP backend standing in for
the daemon (recording what reaches it), tokens verified by a stand-in verifier. Covers the
contract's codes and CONTRACT section 6 flaws 1, 2, 4, 5, 6 and 7."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from functions.deprecated_stub import GONE_BODY
from functions.whatsapp_proxy.backend import BackendConfig, config_from_env
from functions.whatsapp_proxy.core import ProxyRequest
from functions.whatsapp_proxy.endpoints import ENDPOINTS, Deps, handle, strip_pairing_data
from shared.identity import InvalidToken
from shared.ids import send_request_id
from shared.store.sqlite import SqliteStore

SERVICE_TOKEN = "daemon-service-token-0123456789-0123"
ACCOUNT = "wa_40700000001"
CLIENT_JID = "40722111222@s.whatsapp.net"
THREAD = f"{ACCOUNT}__{CLIENT_JID}"
TOKENS: dict[str, dict[str, Any]] = {
    "admin-token": {"uid": "admin", "email": "Boss@Example.com", "email_verified": True},
    "unverified-admin-token": {"uid": "squatter", "email": "boss@example.com"},
    "claim-admin-token": {"uid": "claimadmin", "admin": True},
    "staff-token": {"uid": "staff1"},
    "staff2-token": {"uid": "staff2"},
    "stranger-token": {"uid": "stranger", "email": "someone@example.com"},
}


class Daemon:
    """A loopback HTTP server answering like the daemon and recording every request."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.replies: dict[tuple[str, str], tuple[int, bytes]] = {}
        daemon = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?")[0]
                daemon.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": {k.title(): v for k, v in self.headers.items()},
                        "body": json.loads(body) if body else None,
                    }
                )
                status, payload = daemon.replies.get(
                    (self.command, path), (200, json.dumps({"success": True}).encode())
                )
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = _any  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reply(self, method: str, path: str, status: int, body: Any) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.replies[(method, path)] = (status, raw)


@pytest.fixture(scope="module")
def _daemon_server() -> Iterator[Daemon]:
    d = Daemon()
    yield d
    d.server.shutdown()


@pytest.fixture
def daemon(_daemon_server: Daemon) -> Daemon:
    _daemon_server.requests.clear()
    _daemon_server.replies.clear()
    return _daemon_server


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    s = SqliteStore(tmp_path / "proxy.db", synchronous="NORMAL")
    s.set("staffProfiles/staff1", {"role": "staff"})
    s.set("staffProfiles/staff2", {"role": "staff"})
    s.set(
        f"threads/{THREAD}",
        {
            "accountId": ACCOUNT,
            "clientJid": CLIENT_JID,
            "lastMessageAt": datetime(2026, 1, 1, tzinfo=UTC),
        },
    )
    return s


@pytest.fixture(autouse=True)
def admins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPER_ADMIN_EMAILS", "boss@example.com")


def verify(token: str) -> dict[str, Any]:
    if token not in TOKENS:
        raise InvalidToken("bad")
    return dict(TOKENS[token])


class Door:
    def __init__(self, store: SqliteStore, config: BackendConfig | None) -> None:
        self.deps = Deps(lambda: store, verify, lambda: config)

    def __call__(
        self,
        name: str,
        method: str = "GET",
        token: str | None = "staff-token",
        query: dict[str, str] | None = None,
        body: Any = None,
        raw: bytes | None = None,
        authorization: str | None = None,
    ) -> tuple[int, dict[str, Any]]:
        headers = {"X-Request-ID": "req-1"}
        if authorization is not None:
            headers["Authorization"] = authorization
        elif token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        resp = handle(name, ProxyRequest(method, headers, query or {}, data), self.deps)
        assert isinstance(resp.body, dict)  # every response is a JSON object
        json.dumps(resp.body)
        return resp.status, resp.body


@pytest.fixture
def door(store: SqliteStore, daemon: Daemon) -> Door:
    return Door(store, BackendConfig(daemon.url, SERVICE_TOKEN, 5.0))


def send_body(**over: Any) -> dict[str, Any]:
    body = {
        "threadId": THREAD,
        "accountId": ACCOUNT,
        "toJid": CLIENT_JID,
        "text": "Bună ziua!",
        "clientMessageId": "c-1",
    }
    body.update(over)
    return {k: v for k, v in body.items() if v is not None}


# ---- method, token, role -------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_wrong_method_is_405(door: Door, name: str, daemon: Daemon) -> None:
    wrong = "PUT"
    status, body = door(name, wrong)
    assert (status, body["error"]) == (405, "method_not_allowed")
    assert daemon.requests == []


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_no_token_401_bad_token_401(door: Door, name: str, daemon: Daemon) -> None:
    method = ENDPOINTS[name].methods[0]
    assert door(name, method, token=None)[1]["error"] == "missing_auth_token"
    status, body = door(name, method, authorization="Basic abc")
    assert (status, body["error"]) == (401, "missing_auth_token")
    status, body = door(name, method, token="forged")
    assert (status, body["error"]) == (401, "unauthorized")
    assert daemon.requests == []


@pytest.mark.parametrize("name", sorted(set(ENDPOINTS) - {"whatsappWhoAmI"}))
def test_signed_in_stranger_is_employee_only(door: Door, name: str, daemon: Daemon) -> None:
    method = ENDPOINTS[name].methods[0]
    status, body = door(name, method, token="stranger-token", query={"accountId": ACCOUNT})
    assert (status, body["error"]) == (403, "employee_only")
    assert daemon.requests == []


@pytest.mark.parametrize(
    "name",
    [
        "whatsappProxyGetAccounts",
        "whatsappProxyAddAccount",
        "whatsappProxyRegenerateQr",
        "whatsappProxyDeleteAccount",
    ],
)
def test_staff_cannot_use_admin_endpoints(door: Door, name: str, daemon: Daemon) -> None:
    method = ENDPOINTS[name].methods[0]
    status, body = door(name, method, query={"accountId": ACCOUNT}, body={"name": "x"})
    assert (status, body["error"]) == (403, "super_admin_only")
    assert daemon.requests == []


def test_who_am_i(door: Door) -> None:
    status, body = door("whatsappWhoAmI", token="stranger-token")
    assert status == 200 and body["isEmployee"] is False and body["isAdmin"] is False
    body = door("whatsappWhoAmI", token="admin-token")[1]
    assert body["isAdmin"] is True and body["isEmployee"] is True  # email case-insensitive
    assert door("whatsappWhoAmI", token="claim-admin-token")[1]["isAdmin"] is True
    squatter = door("whatsappWhoAmI", token="unverified-admin-token")[1]  # address not verified
    assert squatter["isAdmin"] is False and squatter["isEmployee"] is False
    body = door("whatsappWhoAmI")[1]
    assert body["staffProfileExists"] and body["staffProfileRole"] == "staff"
    assert not body["isAdmin"]


# ---- accounts ------------------------------------------------------------------------------

ACCOUNTS = {
    "success": True,
    "accounts": [
        {"id": ACCOUNT, "name": "Main", "phone": "+40700000001", "status": "qr_ready",
         "qrCode": "data:image/png;base64,AAA", "pairingCode": "ABCD-EFGH",
         "extra": {"QR": "x", "pairing_url": "https://wa.me/x", "keep": 1}},
        {"id": "wa_admin", "name": "Boss", "phone": "+40700000002", "status": "connected",
         "qrCode": None, "pairingCode": None},
    ],
}  # fmt: skip


def test_admin_sees_qr_staff_never(door: Door, daemon: Daemon, store: SqliteStore) -> None:
    store.set("config/whatsapp_inbox", {"adminOnlyAccountIds": ["wa_admin"]})
    daemon.reply("GET", "/api/whatsapp/accounts", 200, ACCOUNTS)
    status, body = door("whatsappProxyGetAccounts", token="admin-token")
    assert status == 200 and body["accounts"][0]["qrCode"].startswith("data:image/png")
    assert len(body["accounts"]) == 2
    status, body = door("whatsappProxyGetAccountsStaff")
    assert status == 200
    assert [a["id"] for a in body["accounts"]] == [ACCOUNT]
    text = json.dumps(body).lower()
    for secret in ("qrcode", "pairingcode", "abcd-efgh", "base64", '"qr"', "pairing_url"):
        assert secret not in text
    assert body["accounts"][0]["extra"] == {"keep": 1}
    # The daemon got our service token and the caller's uid (flaw 6).
    sent = daemon.requests[-1]["headers"]
    assert sent["Authorization"] == f"Bearer {SERVICE_TOKEN}" and sent["X-Caller-Uid"] == "staff1"


def test_strip_pairing_data_any_casing() -> None:
    data = {"QrCode": 1, "PAIRINGCODE": 2, "pairing-url": 3, "qr": 4, "name": {"Qr_Code": 5}}
    assert strip_pairing_data(data) == {"name": {}}


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {"phone": "+40722000000"},
        {"name": "", "phone": "+40722000000"},
        {"name": "x" * 101, "phone": "+40722000000"},
        {"name": "Ok", "phone": "not a phone"},
        {"name": 5, "phone": "+40722000000"},
    ],
)
def test_add_account_bad_input(door: Door, daemon: Daemon, body: Any) -> None:
    status, resp = door("whatsappProxyAddAccount", "POST", token="admin-token", body=body)
    assert (status, resp["error"]) == (400, "invalid_request")
    assert daemon.requests == []


def test_add_account_forwards(door: Door, daemon: Daemon) -> None:
    daemon.reply(
        "POST",
        "/api/whatsapp/add-account",
        200,
        {"success": True, "accountId": "wa_1", "account": {"id": "wa_1"}},
    )
    status, body = door(
        "whatsappProxyAddAccount",
        "POST",
        token="admin-token",
        body={"name": "Nou", "phone": "0722 000 000"},
    )
    assert status == 200 and body["accountId"] == "wa_1"
    assert daemon.requests[-1]["body"] == {"name": "Nou", "phone": "0722 000 000"}
    assert daemon.requests[-1]["headers"]["X-Request-Id"] == "req-1"


def test_malformed_json_is_400(door: Door) -> None:
    status, body = door("whatsappProxyAddAccount", "POST", token="admin-token", raw=b"{nope")
    assert (status, body["error"]) == (400, "invalid_request")


@pytest.mark.parametrize(
    ("name", "method", "path"),
    [
        ("whatsappProxyRegenerateQr", "POST", f"/api/whatsapp/regenerate-qr/{ACCOUNT}"),
        ("whatsappProxyDeleteAccount", "DELETE", f"/api/whatsapp/accounts/{ACCOUNT}"),
        ("whatsappProxyDeleteAccount", "POST", f"/api/whatsapp/accounts/{ACCOUNT}"),
        ("whatsappProxyBackfillAccount", "POST", f"/api/whatsapp/backfill/{ACCOUNT}"),
    ],
)
def test_account_id_in_query_or_body(
    door: Door, daemon: Daemon, name: str, method: str, path: str
) -> None:
    good: list[tuple[dict[str, str], Any]] = [({"accountId": ACCOUNT}, None)]
    good.append(({}, {"accountId": ACCOUNT}))
    for query, body in good:
        status, resp = door(name, method, token="admin-token", query=query, body=body)
        assert status == 200, resp
        forwarded = daemon.requests[-1]
        assert forwarded["path"] == path
        expected_method = "DELETE" if name == "whatsappProxyDeleteAccount" else "POST"
        assert forwarded["method"] == expected_method
    bad: list[tuple[dict[str, str], Any]] = [({}, None), ({"accountId": "../x"}, None)]
    bad.append(({}, {"accountId": 7}))
    for query, body in bad:
        n = len(daemon.requests)
        status, resp = door(name, method, token="admin-token", query=query, body=body)
        assert (status, resp["error"]) == (400, "invalid_request")
        assert len(daemon.requests) == n


def test_regenerate_passes_202_and_429(door: Door, daemon: Daemon) -> None:
    path = f"/api/whatsapp/regenerate-qr/{ACCOUNT}"
    daemon.reply(
        "POST", path, 202, {"success": True, "status": "already_in_progress", "requestId": "r"}
    )
    status, body = door(
        "whatsappProxyRegenerateQr", "POST", token="admin-token", query={"accountId": ACCOUNT}
    )
    assert status == 202 and body["status"] == "already_in_progress"
    daemon.reply(
        "POST",
        path,
        429,
        {"success": False, "error": "rate_limited", "message": "wait", "retryAfterSeconds": 30},
    )
    status, body = door(
        "whatsappProxyRegenerateQr", "POST", token="admin-token", query={"accountId": ACCOUNT}
    )
    assert status == 429 and body["retryAfterSeconds"] == 30 and body["error"] == "rate_limited"


def test_staff_backfill_of_admin_only_account_is_refused(
    door: Door, daemon: Daemon, store: SqliteStore
) -> None:
    store.set("config/whatsapp_inbox", {"adminOnlyAccountIds": [ACCOUNT]})
    for name, method in (
        ("whatsappProxyBackfillAccount", "POST"),
        ("whatsappProxyGetInbox", "GET"),
        ("whatsappProxyGetThreads", "GET"),
    ):
        status, body = door(name, method, query={"accountId": ACCOUNT})
        assert (status, body["error"]) == (403, "super_admin_only")
    assert daemon.requests == []
    status, _ = door(
        "whatsappProxyBackfillAccount", "POST", token="admin-token", query={"accountId": ACCOUNT}
    )
    assert status == 200


def test_inbox_and_threads_limits(door: Door, daemon: Daemon) -> None:
    daemon.reply(
        "GET", f"/api/whatsapp/threads/{ACCOUNT}", 200, {"success": True, "threads": [{"id": "t"}]}
    )
    status, body = door("whatsappProxyGetThreads", query={"accountId": ACCOUNT})
    assert status == 200 and body["count"] == 1
    assert daemon.requests[-1]["path"].endswith("limit=500&orderBy=lastMessageAt")
    door("whatsappProxyGetInbox", query={"accountId": ACCOUNT})
    assert daemon.requests[-1]["path"].endswith("?limit=100")
    door("whatsappProxyGetInbox", query={"accountId": ACCOUNT, "limit": "9999"})
    assert daemon.requests[-1]["path"].endswith("?limit=500")
    for bad in ("abc", "0", "-5"):
        status, body = door("whatsappProxyGetInbox", query={"accountId": ACCOUNT, "limit": bad})
        assert (status, body["error"]) == (400, "invalid_request")
    status, body = door("whatsappProxyGetThreads")
    assert (status, body["error"]) == (400, "invalid_request")


# ---- configuration and backend failures ------------------------------------------------------


def test_configuration_missing_without_url(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WHATSAPP_BACKEND_BASE_URL", raising=False)
    assert config_from_env("token") is None  # no hard-coded fallback address (flaw 5)
    monkeypatch.setenv("WHATSAPP_BACKEND_BASE_URL", "http://daemon.internal:8080/")
    assert config_from_env("") is None
    assert config_from_env("t") == BackendConfig("http://daemon.internal:8080", "t", 20.0)
    door = Door(store, None)
    status, body = door("whatsappProxyBackfillAccount", "POST", query={"accountId": ACCOUNT})
    assert (status, body["error"]) == (500, "configuration_missing")


def test_backend_down_is_502_without_the_address(store: SqliteStore) -> None:
    door = Door(store, BackendConfig("http://127.0.0.1:9", SERVICE_TOKEN, 2.0))
    status, body = door("whatsappProxyGetAccountsStaff")
    assert (status, body["error"]) == (502, "backend_unavailable")
    assert "127.0.0.1" not in json.dumps(body)


def test_backend_garbage_and_5xx_are_502(door: Door, daemon: Daemon) -> None:
    daemon.reply("GET", "/api/whatsapp/accounts", 200, b"<html>oops</html>")
    assert door("whatsappProxyGetAccountsStaff")[0] == 502
    daemon.reply("GET", "/api/whatsapp/accounts", 500, b"Traceback: secret stuff")
    status, body = door("whatsappProxyGetAccountsStaff")
    assert status == 502 and "Traceback" not in json.dumps(body)


def test_backend_refusing_our_token_is_not_the_users_401(door: Door, daemon: Daemon) -> None:
    daemon.reply("GET", "/api/whatsapp/accounts", 401, {"error": "unauthorized"})
    status, body = door("whatsappProxyGetAccountsStaff")
    assert (status, body["error"]) == (500, "configuration_missing")


def test_store_down_while_checking_the_caller_is_503_without_text(daemon: Daemon) -> None:
    """CONTRACT section 2: a token that cannot be checked right now (the store unreachable
    while reading the staff profile, the user lookup failing) is 503 `auth_unavailable`, never a
    401 and never a 500 (it was a 500)."""

    def broken_store() -> Any:
        raise RuntimeError("postgres://user:pw@secret-host")

    def lookup_down(token: str) -> dict[str, Any]:
        raise ConnectionError("identitytoolkit.googleapis.com unreachable secret-host")

    headers = {"Authorization": "Bearer staff-token"}
    config = lambda: BackendConfig(daemon.url, SERVICE_TOKEN)  # noqa: E731
    for deps in (Deps(broken_store, verify, config), Deps(broken_store, lookup_down, config)):
        resp = handle("whatsappProxySend", ProxyRequest("POST", headers, {}, b"{}"), deps)
        assert resp.status == 503 and resp.body["error"] == "auth_unavailable", resp.body
        assert "secret-host" not in json.dumps(resp.body)


def test_stub_body() -> None:
    assert GONE_BODY["error"] == "deprecated" and "whatsappProxy" in str(GONE_BODY["message"])


# ---- send --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        None,
        "text",
        send_body(threadId=None),
        send_body(accountId=None),
        send_body(toJid=None),
        send_body(text=None),
        send_body(clientMessageId=None),
        send_body(text=5),
        send_body(text="   "),
        send_body(threadId=["x"]),
        send_body(clientMessageId=""),
    ],
)
def test_send_bad_input_is_400(door: Door, daemon: Daemon, body: Any, store: SqliteStore) -> None:
    status, resp = door("whatsappProxySend", "POST", body=body)
    assert (status, resp["error"]) == (400, "invalid_request"), resp
    assert daemon.requests == []


@pytest.mark.parametrize(
    ("over", "status", "code"),
    [
        ({"threadId": f"{ACCOUNT}__40799999999@s.whatsapp.net"}, 404, "thread_not_found"),
        ({"accountId": "wa_other"}, 403, "account_mismatch"),
        ({"toJid": "40799999999@s.whatsapp.net"}, 403, "to_jid_mismatch"),  # flaw 7
    ],
)
def test_send_refusals(
    door: Door, daemon: Daemon, store: SqliteStore, over: dict[str, str], status: int, code: str
) -> None:
    got_status, body = door("whatsappProxySend", "POST", body=send_body(**over))
    assert (got_status, body["error"]) == (status, code)
    assert daemon.requests == []
    assert store.get(f"outbox/{send_request_id(THREAD, 'staff1', 'c-1')}") is None


def test_send_queues_once_wakes_daemon_and_enforces_owner(
    door: Door, daemon: Daemon, store: SqliteStore
) -> None:
    status, body = door("whatsappProxySend", "POST", body=send_body())
    request_id = send_request_id(THREAD, "staff1", "c-1")
    assert status == 200 and body == {
        "success": True,
        "requestId": request_id,
        "duplicate": False,
        "message": "Message queued.",
    }
    outbox = store.get(f"outbox/{request_id}")
    assert outbox is not None and outbox.data["status"] == "queued"
    message = store.get(f"threads/{THREAD}/messages/{request_id}")
    assert message is not None and isinstance(message.data["tsClient"], datetime)
    thread = store.get(f"threads/{THREAD}")
    assert thread is not None and thread.data["ownerUid"] == "staff1"
    wake = daemon.requests[-1]
    assert (wake["method"], wake["path"]) == ("POST", "/api/whatsapp/outbox/wake")
    assert wake["headers"]["Authorization"] == f"Bearer {SERVICE_TOKEN}"

    status, body = door("whatsappProxySend", "POST", body=send_body())
    assert status == 200 and body["duplicate"] is True and body["requestId"] == request_id

    status, body = door("whatsappProxySend", "POST", token="staff2-token", body=send_body())
    assert (status, body["error"]) == (403, "not_owner_or_cowriter")
    store.update(f"threads/{THREAD}", {"coWriterUids": ["staff2"]})
    assert door("whatsappProxySend", "POST", token="staff2-token", body=send_body())[0] == 200


def test_send_without_backend_still_queues(store: SqliteStore) -> None:
    status, body = Door(store, None)("whatsappProxySend", "POST", body=send_body())
    assert status == 200 and body["duplicate"] is False


def test_send_with_daemon_down_still_queues(store: SqliteStore) -> None:
    door = Door(store, BackendConfig("http://127.0.0.1:9", SERVICE_TOKEN, 1.0))
    assert door("whatsappProxySend", "POST", body=send_body())[0] == 200


def test_regenerate_on_a_connected_account_is_200_already_connected(
    door: Door, daemon: Daemon
) -> None:
    """The daemon's 200 passes as it is; an older daemon's 409 becomes the same 200."""
    path = f"/api/whatsapp/regenerate-qr/{ACCOUNT}"
    answers = [
        (200, {"success": True, "status": "already_connected", "message": "Connected."}),
        (409, {"success": False, "error": "already_connected", "message": "Connected."}),
    ]
    for daemon_status, daemon_body in answers:
        daemon.reply("POST", path, daemon_status, daemon_body)
        status, body = door(
            "whatsappProxyRegenerateQr", "POST", token="admin-token", query={"accountId": ACCOUNT}
        )
        assert (status, body["success"], body["status"]) == (200, True, "already_connected")
        assert isinstance(body["message"], str) and body["message"]
