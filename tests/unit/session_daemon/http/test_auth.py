"""Firebase ID tokens through the daemon's real resolver (`firebase_resolver` ->
`shared.identity.resolve_caller` -> firebase_admin), in-process.

- A bad token is 401 `unauthorized`; a token we cannot check (Google's keys unreachable, the store
  unreachable while reading the staff profile, firebase_admin misconfigured) is 503
  `auth_unavailable`, logged once with the exception class, no exception text in the body.
- Real signature checks, as in production (not the Auth emulator, which trusts unsigned tokens):
  firebase_admin fetches our own test certificate from a local key server, so tokens signed with
  the right key pass and forged, `alg: none`, expired and wrong-audience tokens are 401.
"""

from __future__ import annotations

import http.server
import json
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import firebase_admin
import google.auth.credentials
import jwt
import pytest
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from firebase_admin import _token_gen, _user_mgt, credentials
from firebase_admin import auth as fb_auth

import session_daemon.http.auth as auth_module
import shared.identity as identity
from session_daemon.config import Settings
from session_daemon.http.app import build_app
from session_daemon.http.auth import Authenticator, firebase_resolver
from session_daemon.http.context import DaemonContext
from session_daemon.http.throttle import FailureThrottle
from session_daemon.sessions.manager import SessionManager
from shared.store.sqlite import SqliteStore
from tests.support.certs import self_signed
from tests.support.daemon import CollectingInbound, ScriptedTransport

TOKEN = "service-token-for-auth-tests-0123456789"
PROJECT = "demo-authtest"
ISSUER = f"https://securetoken.google.com/{PROJECT}"
SECRET_TEXT = "secret-detail-that-must-not-leak"


class _NoCredential(credentials.Base):
    """A firebase_admin credential that needs no Google account (token checks use none)."""

    def get_credential(self) -> google.auth.credentials.Credentials:
        return google.auth.credentials.AnonymousCredentials()


class BrokenStore:
    """A store whose reads fail as an unreachable database does."""

    def __init__(self, inner: SqliteStore) -> None:
        self._inner = inner

    def get(self, path: str) -> Any:
        raise sqlite3.OperationalError(f"disk I/O error {SECRET_TEXT}")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class Harness:
    def __init__(self, client: TestClient, store: SqliteStore) -> None:
        self.client = client
        self.store = store

    async def get(self, path: str, token: str | None) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        resp = await self.client.get(path, headers=headers)
        assert resp.content_type == "application/json"
        body: dict[str, Any] = await resp.json()
        return resp.status, body


async def _harness(
    tmp_path: Path, resolver_store: Any = None, throttle: FailureThrottle | None = None
) -> AsyncIterator[Harness]:
    settings = Settings(
        sessions_path=tmp_path / "sessions",
        service_token=TOKEN,
        instance_id="auth-test",
        connect_backoff_initial=0.01,
        connect_backoff_max=0.02,
    )
    settings.sessions_path.mkdir()
    store = SqliteStore(tmp_path / "store.db")
    transport = ScriptedTransport()
    inbound = CollectingInbound()
    manager = SessionManager(store, transport, settings, inbound)
    resolver = firebase_resolver(resolver_store(store) if resolver_store else store)
    ctx = DaemonContext(
        settings=settings,
        store=store,
        transport=transport,
        manager=manager,
        authenticator=Authenticator(TOKEN, resolver, throttle),
        inbound=inbound,
    )
    await manager.start()
    client = TestClient(TestServer(build_app(ctx)))
    await client.start_server()
    try:
        yield Harness(client, store)
    finally:
        await client.close()
        await manager.stop()
        store.close()


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async for h in _harness(tmp_path):
        yield h


@pytest.fixture
async def throttled_harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async for h in _harness(tmp_path, throttle=FailureThrottle(3, 60.0)):
        yield h


@pytest.fixture
async def broken_store_harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async for h in _harness(tmp_path, BrokenStore):
        yield h


@pytest.fixture
def fresh_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Make `shared.identity` use a firebase_admin app of this test (`fresh_app(options, cred)`),
    never the process-wide default one."""
    made: list[Any] = []

    def make(options: dict[str, Any] | None = None, cred: Any = None) -> Any:
        app = firebase_admin.initialize_app(
            cred or _NoCredential(), options or {}, name=f"auth-test-{uuid.uuid4().hex}"
        )
        made.append(app)
        monkeypatch.setattr(identity, "default_app", lambda: app)
        return app

    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "GCLOUD_PROJECT", "GOOGLE_CLOUD_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("FIREBASE_AUTH_EMULATOR_HOST", raising=False)
    yield make
    for app in made:
        firebase_admin.delete_app(app)


def _auth_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "session_daemon.http.auth"]


def _assert_unavailable(status: int, body: dict[str, Any]) -> None:
    assert status == 503, body
    assert body == {"success": False, "error": "auth_unavailable", "message": body["message"]}
    assert SECRET_TEXT not in json.dumps(body) and "Error" not in body["message"]


# ---- outages are 503, not 401 ------------------------------------------------------------------


async def test_key_server_outage_is_503_logged_once_without_text(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def unreachable(token: str, app: Any = None, **kw: Any) -> dict[str, Any]:
        raise fb_auth.CertificateFetchError(f"keys unreachable {SECRET_TEXT}", cause=None)

    monkeypatch.setattr(identity, "default_app", lambda: None)
    monkeypatch.setattr(fb_auth, "verify_id_token", unreachable)
    monkeypatch.setattr(auth_module, "_outage_logged", {})
    caplog.set_level(logging.INFO)
    token = _unsigned({"sub": "u1"})
    for _ in range(3):
        status, body = await harness.get("/api/whatsapp/accounts", token)
        _assert_unavailable(status, body)
    records = _auth_records(caplog)
    assert len(records) == 1, records  # once, not once per request
    message = records[0].getMessage()
    assert "CertificateFetchError" in message and "auth_unavailable" in message
    assert SECRET_TEXT not in message and token not in message
    assert records[0].exc_info is None  # one line, no stack trace
    monkeypatch.setattr(auth_module, "OUTAGE_LOG_INTERVAL", 0.0)
    await harness.get("/api/whatsapp/accounts", token)
    assert "(2 more since the last report)" in _auth_records(caplog)[-1].getMessage()
    # the service token keeps working during the outage
    assert (await harness.get("/api/whatsapp/accounts", TOKEN))[0] == 200


async def test_store_unreachable_while_reading_the_staff_profile_is_503(
    broken_store_harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(identity, "verify_id_token", lambda token: {"uid": "u1", "sub": "u1"})
    status, body = await broken_store_harness.get("/api/whatsapp/accounts", _unsigned({}))
    _assert_unavailable(status, body)


async def test_no_project_id_is_503(harness: Harness, fresh_app: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9")  # no credential needed
    fresh_app()  # no projectId anywhere: firebase_admin raises ValueError
    status, body = await harness.get("/api/whatsapp/accounts", _unsigned({"sub": "u1"}))
    _assert_unavailable(status, body)


async def test_a_mistyped_service_token_is_401_even_without_firebase_setup(
    harness: Harness, fresh_app: Any, monkeypatch: Any
) -> None:
    """Only a token shaped like an ID token reaches firebase_admin: a wrong service token (or
    any garbage) is the caller's mistake whatever the Firebase configuration."""
    monkeypatch.setenv("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9")
    fresh_app()  # misconfigured: no project id
    for token in (TOKEN + "x", "garbage", "a.b.c", "e30.e30.", "W10.e30.x"):
        status, body = await harness.get("/api/whatsapp/accounts", token)
        assert (status, body["error"]) == (401, "unauthorized"), token


async def test_no_google_credentials_is_503(
    harness: Harness, fresh_app: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "no-gcloud"))
    fresh_app({"projectId": PROJECT}, credentials.ApplicationDefault())
    status, body = await harness.get("/api/whatsapp/accounts", _unsigned({"sub": "u1"}))
    _assert_unavailable(status, body)


async def test_bad_tokens_stay_401(harness: Harness, fresh_app: Any) -> None:
    fresh_app({"projectId": PROJECT})
    for token in ("garbage", "a.b.c", "x" * 200, _unsigned({"sub": "u1"})):
        status, body = await harness.get("/api/whatsapp/accounts", token)
        assert (status, body["error"]) == (401, "unauthorized"), token


# ---- real signature checks against a local key server ------------------------------------------


def _unsigned(claims: dict[str, Any]) -> str:
    now = int(time.time())
    payload = {"aud": PROJECT, "iss": ISSUER, "iat": now, "exp": now + 3600, **claims}
    return jwt.encode(payload, key="", algorithm="none")


def _key_and_cert(common_name: str) -> tuple[rsa.RSAPrivateKey, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = self_signed(key, common_name)
    return key, cert.public_bytes(serialization.Encoding.PEM).decode()


class KeyServer:
    """Serves `{kid: PEM certificate}` like Google's securetoken key endpoint, and the Identity
    Toolkit's `accounts:lookup` (the revocation check) from `users` {uid: user record};
    `failing = True` makes both answer 500."""

    def __init__(self, certs: dict[str, str]) -> None:
        self.certs = certs
        self.users: dict[str, dict[str, Any]] = {}
        self.failing = False
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = (500, b"{}") if outer.failing else (200, json.dumps(outer.certs))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body if isinstance(body, bytes) else body.encode())

            def do_POST(self) -> None:  # /projects/{p}/accounts:lookup {"localId": [uid]}
                length = int(self.headers.get("Content-Length") or 0)
                asked = json.loads(self.rfile.read(length) or b"{}").get("localId", [])
                found = [
                    {"localId": uid, **outer.users[uid]} for uid in asked if uid in outer.users
                ]
                body = json.dumps({"users": found} if found else {}).encode()
                self.send_response(500 if outer.failing else 200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.url = f"{self.base}/certs"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    good_key, good_cert = _key_and_cert("good")
    evil_key, _ = _key_and_cert("evil")
    return {"kid": "test-kid-1", "good": good_key, "cert": good_cert, "evil": evil_key}


@pytest.fixture
def key_server(
    keys: dict[str, Any], fresh_app: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[KeyServer]:
    server = KeyServer({keys["kid"]: keys["cert"]})
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setattr(_token_gen, "ID_TOKEN_CERT_URI", server.url)
    monkeypatch.setattr(_user_mgt.UserManager, "ID_TOOLKIT_URL", server.base)
    fresh_app({"projectId": PROJECT})  # its token verifier is built later, with our key server
    yield server
    server.close()


def _signed(key: Any, kid: str, **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "aud": PROJECT,
        "iss": ISSUER,
        "iat": now - 10,
        "exp": now + 3600,
        "auth_time": now - 10,
        **claims,
    }
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})


async def test_signed_tokens_are_checked_like_production(
    harness: Harness, keys: dict[str, Any], key_server: KeyServer
) -> None:
    harness.store.set("staffProfiles/staff-1", {"role": "staff"})
    key_server.users = {"staff-1": {}, "nobody": {}}
    good, evil, kid = keys["good"], keys["evil"], keys["kid"]
    staff = _signed(good, kid, sub="staff-1", email="s@example.com")
    status, body = await harness.get("/api/whatsapp/accounts", staff)
    assert (status, body["success"]) == (200, True), body
    status, body = await harness.get("/api/whatsapp/qr/wa_1", staff)
    assert (status, body["error"]) == (403, "super_admin_only")
    stranger = _signed(good, kid, sub="nobody", email="n@example.com")
    assert (await harness.get("/api/whatsapp/accounts", stranger))[1]["error"] == "employee_only"

    now = int(time.time())
    header, _, signature = staff.split(".")
    admin_payload = jwt.utils.base64url_encode(
        json.dumps(
            {"aud": PROJECT, "iss": ISSUER, "sub": "staff-1", "admin": True, "exp": now + 60}
        ).encode()
    ).decode()
    forged = {
        "signed with another key": _signed(evil, kid, sub="staff-1", admin=True),
        "payload swapped under a good signature": f"{header}.{admin_payload}.{signature}",
        "alg none": _unsigned({"sub": "staff-1", "admin": True}),
        "alg none with the kid": jwt.encode(
            {"aud": PROJECT, "iss": ISSUER, "sub": "staff-1", "exp": now + 60},
            key="",
            algorithm="none",
            headers={"kid": kid},
        ),
        "expired": _signed(good, kid, sub="staff-1", iat=now - 7200, exp=now - 3600),
        "another project": _signed(good, kid, sub="staff-1", aud="demo-other"),
        "another issuer": _signed(good, kid, sub="staff-1", iss="https://evil.example/x"),
        "unknown kid": _signed(good, "other-kid", sub="staff-1"),
        "HS256 shared-secret token": jwt.encode(
            {"aud": PROJECT, "iss": ISSUER, "sub": "staff-1", "exp": now + 60},
            "a-shared-secret-that-is-32-bytes-long",
            algorithm="HS256",
            headers={"kid": kid},
        ),
    }
    for what, token in forged.items():
        status, body = await harness.get("/api/whatsapp/accounts", token)
        assert (status, body["error"]) == (401, "unauthorized"), what


async def test_key_server_down_is_503_for_a_well_formed_token(
    harness: Harness, keys: dict[str, Any], key_server: KeyServer
) -> None:
    key_server.failing = True
    token = _signed(keys["good"], keys["kid"], sub="staff-1")
    status, body = await harness.get("/api/whatsapp/accounts", token)
    _assert_unavailable(status, body)
    key_server.failing = False
    harness.store.set("staffProfiles/staff-1", {"role": "staff"})
    key_server.users = {"staff-1": {}}
    assert (await harness.get("/api/whatsapp/accounts", token))[0] == 200


async def test_disabled_revoked_and_deleted_users_are_refused_at_once(
    harness: Harness, keys: dict[str, Any], key_server: KeyServer
) -> None:
    """The revocation check (`check_revoked=True`): a valid signature is not enough. The user
    lookup being unreachable is our outage: 503, never a 401 that signs staff out."""
    harness.store.set("staffProfiles/staff-1", {"role": "staff"})
    token = _signed(keys["good"], keys["kid"], sub="staff-1")
    key_server.users = {"staff-1": {}}
    assert (await harness.get("/api/whatsapp/accounts", token))[0] == 200
    key_server.failing = True  # the user lookup (and the key endpoint) answer 500
    _assert_unavailable(*await harness.get("/api/whatsapp/accounts", token))
    key_server.failing = False
    for record in ({"disabled": True}, {"validSince": str(int(time.time()) + 5)}, None):
        key_server.users = {"staff-1": record} if record is not None else {}
        status, body = await harness.get("/api/whatsapp/accounts", token)
        assert (status, body["error"]) == (401, "unauthorized"), record


async def test_bad_signatures_are_throttled_but_expired_and_revoked_tokens_are_not(
    throttled_harness: Harness, keys: dict[str, Any], key_server: KeyServer
) -> None:
    """Staff behind one office address send expired tokens all day (the app refreshes them) and
    a signed-out colleague's token now and then: those never lock the address. Forged tokens do."""
    h, now = throttled_harness, int(time.time())
    h.store.set("staffProfiles/staff-1", {"role": "staff"})
    key_server.users = {"staff-1": {}, "gone": {"validSince": str(now + 5)}}
    expired = _signed(keys["good"], keys["kid"], sub="staff-1", iat=now - 7200, exp=now - 3600)
    revoked = _signed(keys["good"], keys["kid"], sub="gone")
    for token in [expired, revoked] * 4:
        assert (await h.get("/api/whatsapp/accounts", token))[0] == 401
    good = _signed(keys["good"], keys["kid"], sub="staff-1")
    assert (await h.get("/api/whatsapp/accounts", good))[0] == 200
    forged = _signed(keys["evil"], keys["kid"], sub="staff-1", admin=True)
    for _ in range(3):
        assert (await h.get("/api/whatsapp/accounts", forged))[0] == 401
    status, body = await h.get("/api/whatsapp/accounts", good)
    assert (status, body["error"]) == (429, "too_many_auth_failures"), body
    assert body["retryAfterSeconds"] >= 1
