"""Ids are single path segments (CONTRACT.md section 2) at every door: the daemon's routes, the
proxy, the callables and the store-level services. Each bad id is a 400 `invalid_request` (or
`invalid-argument`), nothing is written, nothing is logged at ERROR. The injection of issue 9
(`threadId` = `<thread>/messages/<messageId>`) is one of the cases."""

from __future__ import annotations

import json
import logging
import urllib.parse
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from firebase_functions import https_fn
from flask import Request
from werkzeug.test import EnvironBuilder

from functions.crm_handlers import client_crm_ask, extract_event_from_thread
from functions.whatsapp_proxy.backend import BackendConfig
from functions.whatsapp_proxy.core import ProxyRequest
from functions.whatsapp_proxy.endpoints import Deps, handle
from session_daemon.config import Settings
from session_daemon.http.app import build_app
from session_daemon.http.auth import Authenticator, InvalidCredentials, Principal
from session_daemon.http.context import DaemonContext
from session_daemon.outbox import attach
from session_daemon.sessions.manager import SessionManager
from shared import paths
from shared.crm.client_stats import apply_event
from shared.crm.extraction import ExtractionRequest, ExtractionService
from shared.crm.extractors import HeuristicExtractor
from shared.identity import InvalidToken
from shared.ids import thread_id
from shared.outbox import enqueue_send
from shared.store.sqlite import SqliteStore
from tests.core.test_paths import BAD_IDS
from tests.daemon.conftest import CollectingInbound, ScriptedTransport

TOKEN = "service-token-for-bad-id-tests"
ACCOUNT = "wa_40722000001"
CLIENT = "40733111222@s.whatsapp.net"
THREAD = thread_id(ACCOUNT, CLIENT)
MESSAGE = "3EB0AAAA"
INJECTION = f"{THREAD}/messages/{MESSAGE}"  # the send would read the message as the thread
IDS = [*BAD_IDS, INJECTION]
# A URL cannot carry these as a path segment (the client resolves them away): no route matches.
URL_IDS = [i for i in IDS if i not in ("", ".", "..")]
STAFF = Principal("firebase", "u-staff", "staff@example.com", True, False)


def seed(store: SqliteStore) -> None:
    at = datetime(2026, 5, 1, tzinfo=UTC)
    store.set(paths.account_path(ACCOUNT), {"name": "A", "status": "connected"})
    store.set(paths.staff_profile_path("u-staff"), {"role": "staff"})
    store.set(
        paths.thread_path(THREAD),
        {
            "accountId": ACCOUNT,
            "clientJid": CLIENT,
            "ownerUid": "someone-else",
            "lastMessageAt": at,
        },
    )
    # an inbound message: no owner, so as a "thread" it would pass the owner check
    store.set(
        paths.message_path(THREAD, MESSAGE),
        {"accountId": ACCOUNT, "clientJid": CLIENT, "direction": "inbound", "body": "hi",
         "tsClient": at},
    )  # fmt: skip


def dump(store: SqliteStore) -> list[tuple[str, str]]:
    return list(store._conn().execute("SELECT path, data FROM docs ORDER BY path"))


def no_errors_logged(caplog: pytest.LogCaptureFixture) -> None:
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []


def send_body(**over: str) -> dict[str, str]:
    body = {"threadId": THREAD, "accountId": ACCOUNT, "toJid": CLIENT, "text": "x",
            "clientMessageId": "c-1"}  # fmt: skip
    return {**body, **over}


# ---- the daemon ----------------------------------------------------------------------------


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[tuple[TestClient, SqliteStore]]:
    settings = Settings(sessions_path=tmp_path / "sessions", service_token=TOKEN, instance_id="t")
    settings.sessions_path.mkdir()
    store = SqliteStore(tmp_path / "store.db")
    seed(store)

    def resolve(token: str) -> Principal:
        if token != "staff-id-token":
            raise InvalidCredentials("bad token")
        return STAFF

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
    app = build_app(ctx)
    attach(app, ctx).wake = lambda: None  # type: ignore[method-assign]  # send route, no worker
    client = TestClient(TestServer(app))
    await client.start_server()
    yield client, store
    await client.close()
    await manager.stop()
    store.close()


ACCOUNT_ROUTES = [
    ("GET", "/api/whatsapp/qr/{}", None),
    ("POST", "/api/whatsapp/regenerate-qr/{}", {}),
    ("POST", "/api/whatsapp/pairing-code/{}", {}),
    ("DELETE", "/api/whatsapp/accounts/{}", None),
    ("POST", "/api/whatsapp/backfill/{}", {}),
    ("GET", "/api/whatsapp/threads/{}", None),
    ("GET", "/api/whatsapp/inbox/{}", None),
    ("GET", "/api/whatsapp/auto-reply-settings/{}", None),
    ("POST", "/api/whatsapp/auto-reply-settings/{}", {"enabled": True}),
]


async def test_daemon_routes_refuse_ids_that_are_not_one_segment(
    daemon: tuple[TestClient, SqliteStore], caplog: pytest.LogCaptureFixture
) -> None:
    client, store = daemon
    before = dump(store)
    caplog.set_level(logging.INFO)
    seen: list[tuple[str, int, object]] = []

    async def call(method: str, path: str, body: Any, token: str) -> None:
        resp = await client.request(
            method, path, json=body, headers={"Authorization": f"Bearer {token}"}
        )
        payload = await resp.json()
        if (resp.status, payload.get("error")) != (400, "invalid_request"):
            seen.append((f"{method} {path} {body}", resp.status, payload))

    for bad in URL_IDS:
        quoted = urllib.parse.quote(bad, safe="")
        for method, route, body in ACCOUNT_ROUTES:
            await call(method, route.format(quoted), body, TOKEN)
    for bad in IDS:
        for field in ("threadId", "accountId"):
            for token in (TOKEN, "staff-id-token"):
                await call("POST", "/api/whatsapp/send", send_body(**{field: bad}), token)
    assert seen == []
    assert dump(store) == before
    no_errors_logged(caplog)


# ---- the proxy -----------------------------------------------------------------------------

PROXY_ACCOUNT_ENDPOINTS = [
    ("whatsappProxyRegenerateQr", "POST"),
    ("whatsappProxyDeleteAccount", "POST"),
    ("whatsappProxyBackfillAccount", "POST"),
    ("whatsappProxyGetInbox", "GET"),
    ("whatsappProxyGetThreads", "GET"),
]


def test_proxy_refuses_ids_that_are_not_one_segment(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SqliteStore(tmp_path / "proxy.db")
    seed(store)
    before = dump(store)
    caplog.set_level(logging.INFO)

    def verify(token: str) -> dict[str, Any]:
        claims: dict[str, dict[str, Any]] = {
            "admin-token": {"uid": "admin", "admin": True},
            "staff-token": {"uid": "u-staff"},
        }
        if token not in claims:
            raise InvalidToken("bad")
        return claims[token]

    # a backend nobody listens on: a request that reached it would be a 502, not a 400
    deps = Deps(lambda: store, verify, lambda: BackendConfig("http://127.0.0.1:9", "t" * 32, 1.0))

    def call(name: str, method: str, token: str, query: dict[str, str], body: Any) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        raw = json.dumps(body).encode() if body is not None else b""
        resp = handle(name, ProxyRequest(method, headers, query, raw), deps)
        if (resp.status, resp.body.get("error")) != (400, "invalid_request"):
            seen.append((name, query, body, resp.status, resp.body))

    seen: list[Any] = []
    for bad in IDS:
        for name, method in PROXY_ACCOUNT_ENDPOINTS:
            if bad:  # an empty query value falls back to the body (required there)
                call(name, method, "admin-token", {"accountId": bad}, None)
            call(name, method, "admin-token", {}, {"accountId": bad})
        for field in ("threadId", "accountId"):
            call("whatsappProxySend", "POST", "staff-token", {}, send_body(**{field: bad}))
    assert seen == []
    assert dump(store) == before
    no_errors_logged(caplog)
    store.close()


# ---- the callables -------------------------------------------------------------------------


def callable_request(data: Any) -> https_fn.CallableRequest[Any]:
    headers = [("Authorization", "Bearer staff-id-token")]
    builder = EnvironBuilder(path="/", method="POST", json={"data": data}, headers=headers)
    auth = https_fn.AuthData("u-staff", {"uid": "u-staff"})
    return https_fn.CallableRequest(
        data=data, raw_request=Request(builder.get_environ()), auth=auth
    )


def staff_claims(token: str) -> dict[str, Any]:
    """Stand-in for the callables' revocation re-check of the request's token."""
    return {"uid": "u-staff", "sub": "u-staff"}


def test_callables_refuse_ids_that_are_not_one_segment(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SqliteStore(tmp_path / "crm.db")
    seed(store)
    before = dump(store)
    caplog.set_level(logging.INFO)
    codes: list[Any] = []
    for bad in IDS:
        for field in ("threadId", "accountId"):
            data = {"threadId": THREAD, "accountId": ACCOUNT, "dryRun": False, field: bad}
            with pytest.raises(https_fn.HttpsError) as caught:
                extract_event_from_thread(
                    callable_request(data),
                    db=store,
                    extractor=HeuristicExtractor(),
                    verify=staff_claims,
                )
            codes.append(caught.value.code)
    for phone in ("+40722/messages/x", "..", "+4072\x00"):
        with pytest.raises(https_fn.HttpsError) as caught:
            request = callable_request({"phoneE164": phone, "question": "?"})
            client_crm_ask(request, db=store, verify=staff_claims)
        codes.append(caught.value.code)
    assert set(codes) == {https_fn.FunctionsErrorCode.INVALID_ARGUMENT}
    assert dump(store) == before
    no_errors_logged(caplog)
    store.close()


# ---- the store-level services --------------------------------------------------------------


def test_services_refuse_ids_before_touching_the_store(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "svc.db")
    seed(store)
    before = dump(store)
    service = ExtractionService(store, HeuristicExtractor())
    for bad in IDS:
        with pytest.raises(paths.InvalidId):
            enqueue_send(store, thread_id=bad, account_id=ACCOUNT, to_jid=CLIENT, text="x",
                         uid="u", client_message_id="c")  # fmt: skip
        with pytest.raises(paths.InvalidId):
            service.run(ExtractionRequest(thread_id=bad, account_id=ACCOUNT, caller_uid="u"))
        with pytest.raises(paths.InvalidId):
            apply_event(store, bad)
    assert dump(store) == before
    store.close()
