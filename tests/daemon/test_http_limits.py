"""The account cap (`WHATSAPP_MAX_ACCOUNTS`) and the per-account backfill cooldown, through the
HTTP API in-process (real aiohttp server, real SqliteStore, scripted transport)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from session_daemon.config import Settings
from session_daemon.http.app import build_app
from session_daemon.http.auth import Authenticator
from session_daemon.http.context import DaemonContext
from session_daemon.sessions.manager import SessionManager
from shared.store.sqlite import SqliteStore
from tests.daemon.conftest import CollectingInbound, ScriptedTransport
from tests.daemon.test_http_api import TOKEN, Api, resolve


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    settings = Settings(
        sessions_path=tmp_path / "sessions",
        service_token=TOKEN,
        max_concurrent_pairings=5,
        regenerate_cooldown_seconds=0,
        max_accounts=2,
        backfill_cooldown_seconds=300,
        instance_id="test",
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
    yield Api(client, ctx, transport)
    await client.close()
    await manager.stop()
    store.close()


async def test_account_cap_is_409_and_readding_stays_idempotent(api: Api) -> None:
    first = await api.add("One", "0722000001")
    await api.add("Two", "0722000002")
    before = api.dump()
    status, body, _ = await api.call(
        "POST", "/api/whatsapp/add-account", {"name": "Three", "phone": "0722000003"}
    )
    assert (status, body["error"], body["limit"]) == (409, "account_limit_reached", 2)
    assert body["success"] is False and body["message"]
    assert api.dump() == before  # nothing written
    # the app retries an add that succeeded: the existing account, even at the cap
    status, body, _ = await api.call(
        "POST", "/api/whatsapp/add-account", {"name": "One", "phone": "0722000001"}
    )
    assert (status, body["accountId"], body["created"]) == (200, first, False)
    # a deleted account frees its place
    assert (await api.call("DELETE", f"/api/whatsapp/accounts/{first}"))[0] == 200
    await api.add("Three", "0722000003")


async def test_backfill_repeat_inside_the_cooldown_answers_like_the_running_one(
    api: Api,
) -> None:
    aid = await api.add()
    api.transport.pair(aid)
    await api.settle()
    api.store.set(
        f"threads/{aid}__40711111110@s.whatsapp.net",
        {"accountId": aid, "clientJid": "40711111110@s.whatsapp.net", "lastMessageAt": None},
    )
    status, body, _ = await api.call(
        "POST", f"/api/whatsapp/backfill/{aid}", token="staff-id-token"
    )
    assert (status, body["status"]) == (200, "started")
    request_id = body["requestId"]
    await asyncio.sleep(0.1)  # the run is over: only the cooldown holds repeats now
    asked = len(api.transport.history_requests)
    for _ in range(3):
        status, body, _ = await api.call(
            "POST", f"/api/whatsapp/backfill/{aid}", token="staff-id-token"
        )
        assert (status, body["status"], body["requestId"]) == (
            200,
            "already_in_progress",
            request_id,
        )
    await asyncio.sleep(0.05)
    assert len(api.transport.history_requests) == asked  # the phone was not asked again

    # a restarted daemon keeps the cooldown (the last run is on the account document)
    ctx = api.ctx
    fresh = SessionManager(ctx.store, api.transport, ctx.settings, ctx.inbound)  # type: ignore[arg-type]
    assert await fresh.backfill(aid) == (request_id, True)
    # after the cooldown a new run starts
    later = SessionManager(
        ctx.store,
        api.transport,
        replace(ctx.settings, backfill_cooldown_seconds=0),
        ctx.inbound,  # type: ignore[arg-type]
    )
    new_id, running = await later.backfill(aid)
    assert not running and new_id != request_id
    await asyncio.sleep(0.05)
