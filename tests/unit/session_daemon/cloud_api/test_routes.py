"""The Cloud API routes inside the daemon's real HTTP app (auth guard, error middleware,
OpenAPI), in-process: the registration route and the public webhook route."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from session_daemon.cloud_api import secrets_store
from session_daemon.cloud_api.accounts import Registration
from session_daemon.cloud_api.routes import CloudApi, cloud_route_specs
from session_daemon.cloud_api.routing import CloudAccountKeys
from session_daemon.cloud_api.signature import HEADER, sign
from session_daemon.cloud_api.webhook import CloudWebhook, Delivery
from session_daemon.config import Settings
from session_daemon.http.app import build_app
from session_daemon.http.auth import Authenticator
from session_daemon.http.context import DaemonContext
from session_daemon.http.routing import add_routes
from session_daemon.sessions.manager import SessionManager
from session_daemon.transport.simulated import SimulatedTransport
from shared import paths
from shared.store.sqlite import SqliteStore
from tests.support.graph_standin import change, dumps, entry, envelope, text_message

TOKEN = "service-token-for-the-cloud-api-route-tests"
BODY = {
    "name": "Sales Cloud",
    "phone": "0722123456",
    "phoneNumberId": "106540352242922",
    "wabaId": "102290129340398",
    "accessToken": "EAAtoken-0123456789",
    "appSecret": "0123456789abcdef",
    "verifyToken": "verify-me-please",
}


class Inbound:
    """The session manager's inbound side, unused by these routes."""

    def submit(self, event: Any) -> None:
        return None

    def stats(self) -> dict[str, int]:
        return {}


@dataclass
class Rig:
    client: TestClient
    store: SqliteStore
    stopped: list[str] = field(default_factory=list)
    registered: list[Registration] = field(default_factory=list)
    delivered: list[Delivery] = field(default_factory=list)

    async def call(
        self, method: str, path: str, body: Any = None, token: str | None = TOKEN, **kw: Any
    ) -> tuple[int, Any, str]:
        headers = dict(kw.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        resp = await self.client.request(method, path, json=body, headers=headers, **kw)
        parsed: Any = (
            await resp.json() if resp.content_type == "application/json" else (await resp.text())
        )
        return resp.status, parsed, resp.content_type


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    settings = Settings(
        sessions_path=tmp_path / "sessions",
        service_token=TOKEN,
        max_body_bytes=4096,
        instance_id="test",
    )
    settings.sessions_path.mkdir()
    store = SqliteStore(tmp_path / "store.db")
    transport = SimulatedTransport(receipt_delay=0.0)
    manager = SessionManager(store, transport, settings, Inbound())
    ctx = DaemonContext(
        settings=settings,
        store=store,
        transport=transport,
        manager=manager,
        authenticator=Authenticator(TOKEN, None),
    )
    await manager.start()
    holder: dict[str, Rig] = {}

    async def keys(account_id: str) -> CloudAccountKeys | None:
        found = secrets_store.load(store, account_id)
        return found.keys() if found else None

    async def by_phone(pnid: str) -> CloudAccountKeys | None:
        found = secrets_store.find_by_phone_number_id(store, pnid)
        return found.keys() if found else None

    async def sink(delivery: Delivery) -> None:
        holder["rig"].delivered.append(delivery)

    async def stop(account_id: str) -> None:
        holder["rig"].stopped.append(account_id)
        await manager.forget(account_id)

    async def registered(reg: Registration) -> None:
        holder["rig"].registered.append(reg)

    app = build_app(ctx)
    add_routes(
        app,
        cloud_route_specs(CloudApi(store, CloudWebhook(keys, by_phone, sink), stop, registered)),
    )
    client = TestClient(TestServer(app))
    await client.start_server()
    holder["rig"] = Rig(client, store)
    yield holder["rig"]
    await client.close()
    await manager.stop()
    await transport.close()
    store.close()


async def test_register_needs_a_super_admin_and_is_idempotent(rig: Rig) -> None:
    assert (await rig.call("POST", "/api/whatsapp/cloud-accounts", BODY, token=None))[0] == 401
    assert (await rig.call("POST", "/api/whatsapp/cloud-accounts", BODY, token="x"))[0] == 401
    status, body, _ = await rig.call("POST", "/api/whatsapp/cloud-accounts", {**BODY, "wabaId": ""})
    assert status == 400 and body["error"] == "invalid_request"
    status, body, _ = await rig.call("POST", "/api/whatsapp/cloud-accounts", BODY)
    assert status == 200 and body["success"] and body["accountId"] == "wa_40722123456"
    account = body["account"]
    assert all(v is None or isinstance(v, str) for v in account.values())
    assert not any("token" in k.lower() or "secret" in k.lower() for k in account)
    again = await rig.call("POST", "/api/whatsapp/cloud-accounts", BODY)
    assert again[1]["accountId"] == "wa_40722123456" and again[1]["created"] is False
    assert rig.stopped == []


async def test_a_linked_account_is_stopped_then_converted_keeping_its_id(rig: Rig) -> None:
    status, body, _ = await rig.call(
        "POST", "/api/whatsapp/add-account", {"name": "Sales", "phone": "0722123456"}
    )
    assert status == 200
    linked_id = body["accountId"]
    status, body, _ = await rig.call("POST", "/api/whatsapp/cloud-accounts", BODY)
    assert status == 200 and body["accountId"] == linked_id and body["converted"] is True
    assert rig.stopped == [linked_id]
    snap = rig.store.get(paths.account_path(linked_id))
    assert snap is not None and snap.data["kind"] == "cloud"


async def test_webhook_routes_through_the_daemon_app(rig: Rig) -> None:
    await rig.call("POST", "/api/whatsapp/cloud-accounts", BODY)
    url = "/webhooks/whatsapp-cloud/wa_40722123456"
    params = {
        "hub.mode": "subscribe",
        "hub.verify_token": BODY["verifyToken"],
        "hub.challenge": "1158201444",
    }
    status, text, ctype = await rig.call("GET", url, token=None, params=params)
    assert (status, text, ctype) == (200, "1158201444", "text/plain")
    status, body, ctype = await rig.call(
        "GET", url, token=None, params={**params, "hub.verify_token": "no"}
    )
    assert (status, ctype, body["error"]) == (403, "application/json", "verify_token_mismatch")
    raw = dumps(
        envelope(
            entry(
                change(messages=[text_message("wamid.1", "Bună", 1764760000, sender="40733111222")])
            )
        )
    )
    # larger than the API's 4 KiB body limit would be fine too: the route reads the raw body
    resp = await rig.client.post(url, data=raw, headers={HEADER: sign(raw, BODY["appSecret"])})
    assert resp.status == 200 and len(rig.delivered) == 1
    resp = await rig.client.post(url, data=raw, headers={HEADER: sign(raw, "wrong")})
    assert resp.status == 401 and (await resp.json())["error"] == "invalid_signature"
    assert len(rig.delivered) == 1


async def test_openapi_describes_the_routes_and_the_plain_text_exception(rig: Rig) -> None:
    status, doc, _ = await rig.call("GET", "/openapi.json")
    assert status == 200
    webhook = doc["paths"]["/webhooks/whatsapp-cloud/{accountId}"]
    assert set(webhook) >= {"get", "post"}
    assert list(webhook["get"]["responses"]["200"]["content"]) == ["text/plain"]
    assert list(webhook["get"]["responses"]["403"]["content"]) == ["application/json"]
    assert {"401", "503"} <= set(webhook["post"]["responses"])
    assert "post" in doc["paths"]["/api/whatsapp/cloud-accounts"]
