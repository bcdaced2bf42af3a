"""`POST /api/whatsapp/send` on the daemon refuses hostile inputs with 400, never 500."""

from __future__ import annotations

import pytest

from tests.unit.session_daemon.http import test_routes_outbox as test_outbox_routes
from tests.unit.session_daemon.http.test_routes_outbox import TOKEN, Api

api = test_outbox_routes.api  # the daemon app with a real SqliteStore


async def test_deeply_nested_json_is_400_not_500(api: Api) -> None:
    depth = 5_000  # 10 KB: well within the body limit
    resp = await api.client.post(
        "/api/whatsapp/send",
        data=b"[" * depth + b"]" * depth,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    body = await resp.json()
    assert (resp.status, body["error"]) == (400, "invalid_request")


@pytest.mark.parametrize("thread", [".", "..", "__reserved__"])
async def test_thread_id_that_is_no_document_id_is_400(api: Api, thread: str) -> None:
    status, body = await api.send(TOKEN, threadId=thread)
    assert (status, body["error"]) == (400, "invalid_request")
