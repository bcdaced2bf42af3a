"""`POST /api/whatsapp/send` and `/outbox/wake` in-process: real aiohttp app of the daemon
(auth middleware, error bodies), real SqliteStore; ID tokens resolved by a table."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from session_daemon.config import Settings
from session_daemon.http.app import build_app
from session_daemon.http.auth import Authenticator, InvalidCredentials, Principal
from session_daemon.http.context import DaemonContext
from session_daemon.outbox import attach
from session_daemon.outbox.worker import OutboxWorker
from session_daemon.sessions.manager import SessionManager
from shared.ids import send_request_id, thread_id
from shared.store.sqlite import SqliteStore
from tests.daemon.conftest import CollectingInbound, ScriptedTransport

TOKEN = "service-token-0123456789-0123456789"
PEOPLE = {
    "admin-token": Principal("firebase", "u-admin", "boss@example.com", True, True),
    "ana-token": Principal("firebase", "u-ana", "ana@example.com", True, False),
    "bob-token": Principal("firebase", "u-bob", "bob@example.com", True, False),
    "guest-token": Principal("firebase", "u-guest", "guest@example.com", False, False),
}
ACC = "wa_40722000001"
CLIENT = "40711000001@s.whatsapp.net"
TID = thread_id(ACC, CLIENT)


def resolve(token: str) -> Principal:
    if token not in PEOPLE:
        raise InvalidCredentials("bad token")
    return PEOPLE[token]


class Api:
    def __init__(self, client: TestClient, store: SqliteStore, worker: OutboxWorker) -> None:
        self.client = client
        self.store = store
        self.worker = worker
        self.wakes = 0

    async def send(self, token: str | None, **overrides: Any) -> tuple[int, dict[str, Any]]:
        body = {"threadId": TID, "accountId": ACC, "toJid": CLIENT, "text": "Bună!",
                "clientMessageId": "m1", **overrides}  # fmt: skip
        return await self.post("/api/whatsapp/send", body, token)

    async def post(self, path: str, body: Any, token: str | None) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        resp = await self.client.post(path, json=body, headers=headers)
        assert resp.content_type == "application/json"
        data: dict[str, Any] = await resp.json()
        return resp.status, data


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    settings = Settings(sessions_path=tmp_path / "sessions", service_token=TOKEN)
    settings.sessions_path.mkdir()
    store = SqliteStore(tmp_path / "store.db")
    store.create(f"threads/{TID}", {"accountId": ACC, "clientJid": CLIENT})
    transport = ScriptedTransport()
    ctx = DaemonContext(
        settings=settings,
        store=store,
        transport=transport,
        manager=SessionManager(store, transport, settings, CollectingInbound()),
        authenticator=Authenticator(TOKEN, resolve),
    )
    app = build_app(ctx)
    worker = attach(app, ctx)  # routes registered; the worker itself is not started here
    client = TestClient(TestServer(app))
    await client.start_server()
    result = Api(client, store, worker)

    def count_wake() -> None:
        result.wakes += 1

    worker.wake = count_wake  # type: ignore[method-assign]
    yield result
    await client.close()
    store.close()


async def test_employee_send_keys_on_uid_and_becomes_owner(api: Api) -> None:
    status, body = await api.send("ana-token")
    assert status == 200 and body["success"] is True and body["duplicate"] is False
    assert body["requestId"] == send_request_id(TID, "u-ana", "m1")
    assert body["messageDoc"]["id"] == body["requestId"]
    assert body["messageDoc"]["status"] == "queued"
    assert body["messageDoc"]["tsClient"].endswith("Z")  # a Timestamp, rendered as ISO in JSON
    assert api.wakes == 1
    item = api.store.get(f"outbox/{body['requestId']}")
    assert item is not None and item.data["createdByUid"] == "u-ana"
    thread = api.store.get(f"threads/{TID}")
    assert thread is not None and thread.data["ownerUid"] == "u-ana"
    # the app retries the same request: a duplicate, nothing new, no second wake
    status, again = await api.send("ana-token", text="changed")
    assert (status, again["duplicate"], again["requestId"]) == (200, True, body["requestId"])
    assert api.wakes == 1


async def test_owner_policy_for_other_staff_and_admins(api: Api) -> None:
    assert (await api.send("ana-token"))[0] == 200
    status, body = await api.send("bob-token", clientMessageId="b1")
    assert (status, body["error"], body["success"]) == (403, "not_owner_or_cowriter", False)
    assert (await api.send("admin-token", clientMessageId="a1"))[0] == 403
    api.store.update(f"threads/{TID}", {"coWriterUids": ["u-bob"]})
    assert (await api.send("bob-token", clientMessageId="b1"))[0] == 200


async def test_service_token_skips_owner_policy(api: Api) -> None:
    assert (await api.send("ana-token"))[0] == 200
    status, body = await api.send(TOKEN, clientMessageId="ops-1", uid="ops-script")
    assert status == 200
    assert body["requestId"] == send_request_id(TID, "service:ops-script", "ops-1")
    thread = api.store.get(f"threads/{TID}")
    assert thread is not None and thread.data["ownerUid"] == "u-ana"


async def test_auth_and_admin_only_accounts(api: Api) -> None:
    status, body = await api.send(None)
    assert (status, body["error"]) == (401, "missing_auth_token")
    status, body = await api.send("forged")
    assert (status, body["error"]) == (401, "unauthorized")
    status, body = await api.send("guest-token")
    assert (status, body["error"]) == (403, "employee_only")
    api.store.set("config/whatsapp_inbox", {"adminOnlyAccountIds": [ACC]})
    status, body = await api.send("ana-token")
    assert (status, body["error"]) == (403, "super_admin_only")
    assert api.store.get(f"outbox/{send_request_id(TID, 'u-ana', 'm1')}") is None


async def test_bad_bodies_are_400_with_field_names(api: Api) -> None:
    status, body = await api.send(TOKEN, text="   ")
    assert (status, body["error"]) == (400, "invalid_request") and "text" in body["message"]
    status, body = await api.send(TOKEN, toJid="not a jid")
    assert (status, body["error"]) == (400, "invalid_request") and "toJid" in body["message"]
    status, body = await api.post("/api/whatsapp/send", ["a", "list"], TOKEN)
    assert (status, body["error"]) == (400, "invalid_request")


async def test_wake_route(api: Api) -> None:
    status, body = await api.post("/api/whatsapp/outbox/wake", {}, "ana-token")
    assert status == 200 and body["success"] is True and api.wakes == 1
    status, _ = await api.post("/api/whatsapp/outbox/wake", {}, None)
    assert status == 401 and api.wakes == 1
