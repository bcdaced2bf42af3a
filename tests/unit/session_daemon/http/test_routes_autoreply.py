"""Issue 16's routes in-process (real aiohttp, real SqliteStore): the settings route's flows
and its bad input, the thread opt-out, and creating broadcasts (validation, access, cloud)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.unit.session_daemon.http.test_app import Api, running_api

CLIENT = "40733111222@s.whatsapp.net"


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with running_api(tmp_path, max_body_bytes=1_000_000) as running:
        yield running


def flows(n: int = 1, **override: Any) -> list[dict[str, Any]]:
    base = {"keywords": ["preț"], "replies": ["De la 500 lei."]}
    return [{**base, **override} for _ in range(n)]


async def test_the_apps_two_fields_keep_working_alone_beside_flows(api: Api) -> None:
    aid = await api.add()
    url = f"/api/whatsapp/auto-reply-settings/{aid}"
    status, body, _ = await api.call("POST", url, {"flows": flows(2), "askName": True})
    assert status == 200 and len(body["flows"]) == 2 and body["askName"] is True
    # what the app sends: enabled and prompt only; flows are kept
    status, body, _ = await api.call("POST", url, {"enabled": True, "prompt": "Fii scurt"})
    assert status == 200, body
    assert (body["enabled"], body["prompt"], len(body["flows"])) == (True, "Fii scurt", 2)
    status, body, _ = await api.call("POST", url, {"businessHours": "09:00-18:00"})
    assert (status, body["businessHours"]) == (200, "09:00-18:00")
    status, body, _ = await api.call("GET", url, token="staff-id-token")
    assert status == 200 and body["flows"][0] == flows()[0] and body["businessHours"]
    status, body, _ = await api.call("POST", url, {"businessHours": None, "flows": []})
    assert (status, body["businessHours"], body["flows"]) == (200, None, [])
    stored = api.store.get(f"accounts/{aid}")
    assert stored is not None and stored.data["autoReplyEnabled"] is True


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"flows": flows(keywords=[])}, "flows.0.keywords"),
        ({"flows": flows(replies=[])}, "flows.0.replies"),
        ({"flows": flows(keywords=["  !? "])}, "flows.0.keywords"),
        ({"flows": flows(replies=["   "])}, "flows.0.replies"),
        ({"flows": flows(replies=["x" * 4097])}, "flows.0.replies.0"),
        ({"flows": flows(51)}, "flows"),
        ({"flows": {"keywords": ["a"]}}, "flows"),
        ({"prompt": "p" * 4001}, "prompt"),
        ({"businessHours": "9-17"}, "businessHours"),
        ({"askName": "yes"}, "askName"),
    ],
)
async def test_bad_settings_are_400_naming_the_field(
    api: Api, body: dict[str, Any], field: str
) -> None:
    aid = await api.add()
    status, reply, _ = await api.call("POST", f"/api/whatsapp/auto-reply-settings/{aid}", body)
    assert status == 400 and reply["error"] == "invalid_request", reply
    assert field in reply["fields"], reply
    assert "x" * 50 not in reply["message"]  # values are never echoed


async def test_thread_opt_out_route(api: Api) -> None:
    aid = await api.add()
    tid = f"{aid}__{CLIENT}"
    url = f"/api/whatsapp/threads/{tid}/auto-reply"
    status, body, _ = await api.call("POST", url, {"enabled": False}, token="staff-id-token")
    assert (status, body["error"]) == (404, "thread_not_found")
    api.store.create(f"threads/{tid}", {"accountId": aid, "clientJid": CLIENT})
    status, body, _ = await api.call("POST", url, {"enabled": False}, token="staff-id-token")
    assert (status, body["aiEnabled"]) == (200, False)
    assert api.store.get(f"threads/{tid}").data["aiEnabled"] is False  # type: ignore[union-attr]
    status, body, _ = await api.call("POST", url, {"enabled": "no"}, token="staff-id-token")
    assert (status, body["fields"]) == (400, ["enabled"])
    status, _, _ = await api.call("POST", url, {"enabled": True}, token=None)
    assert status == 401
    api.store.set("config/whatsapp_inbox", {"adminOnlyAccountIds": [aid]})
    status, body, _ = await api.call("POST", url, {"enabled": True}, token="staff-id-token")
    assert (status, body["error"]) == (403, "super_admin_only")
    status, body, _ = await api.call("POST", url, {"enabled": True}, token="admin-id-token")
    assert (status, body["aiEnabled"]) == (200, True)


async def test_creating_a_broadcast_and_its_bad_input(api: Api) -> None:
    aid = await api.add()
    url = f"/api/whatsapp/broadcasts/{aid}"
    tid = f"{aid}__{CLIENT}"
    api.store.create(f"threads/{tid}", {"accountId": aid, "clientJid": CLIENT})
    ok = {"text": "Reducere 10% în mai!", "recipients": ["+40733111222", tid, "+40722000111"]}
    status, body, _ = await api.call("POST", url, ok, token="staff-id-token")
    assert (status, body["error"]) == (403, "super_admin_only")
    status, body, _ = await api.call("POST", url, {**ok, "clientBroadcastId": "b1"})
    assert status == 200 and body["total"] == 2 and body["duplicate"] is False  # one thread twice
    again = await api.call("POST", url, {**ok, "clientBroadcastId": "b1"})
    assert again[0] == 200 and again[1]["duplicate"] is True
    assert again[1]["broadcastId"] == body["broadcastId"]

    status, got, _ = await api.call("GET", f"{url}/{body['broadcastId']}")
    assert status == 200 and got["broadcast"]["status"] == "running"
    assert [r["status"] for r in got["broadcast"]["recipients"]] == ["pending", "pending"]
    assert got["broadcast"]["counts"]["pending"] == 2
    status, got, _ = await api.call("GET", f"{url}/nope")
    assert (status, got["error"]) == (404, "broadcast_not_found")

    bad = [
        ({"text": "", "recipients": ["+40733111222"]}, "text"),
        ({"text": "x" * 4097, "recipients": ["+40733111222"]}, "text"),
        ({"text": "x", "recipients": []}, "recipients"),
        ({"text": "x", "recipients": ["+40733111222"] * 257}, "recipients"),
        ({"text": "x", "recipients": ["+4073"]}, "recipients.0"),
        ({"text": "x", "recipients": ["+40733111222", "not a thread"]}, "recipients.1"),
        ({"text": "x", "recipients": [f"other__{CLIENT}"]}, "recipients.0"),
        ({"text": "x", "recipients": [f"{aid}__40799999999@s.whatsapp.net"]}, "recipients.0"),
        ({"text": "x", "recipients": [f"{aid}__120363000000000001@g.us"]}, "recipients.0"),
    ]
    for payload, field in bad:
        status, reply, _ = await api.call("POST", url, payload)
        assert status == 400 and field in reply["fields"], (payload, reply)
    status, reply, _ = await api.call("POST", "/api/whatsapp/broadcasts/nosuch", ok)
    assert (status, reply["error"]) == (404, "account_not_found")


async def test_cloud_accounts_broadcast_templates_linked_ones_text(api: Api) -> None:
    aid = await api.add()
    url = f"/api/whatsapp/broadcasts/{aid}"
    template = {"name": "party_offer", "language": "ro"}
    status, body, _ = await api.call(
        "POST", url, {"template": template, "recipients": ["+40733111222"]}
    )
    assert (status, body["fields"]) == (400, ["template"])  # a linked device sends text
    api.store.update(f"accounts/{aid}", {"kind": "cloud"})
    status, body, _ = await api.call("POST", url, {"text": "x", "recipients": ["+40733111222"]})
    assert (status, body["error"], body["fields"]) == (400, "template_required", ["template"])
    status, body, _ = await api.call(
        "POST", url, {"template": {"name": "Bad Name!"}, "recipients": ["+40733111222"]}
    )
    assert (status, body["error"]) == (400, "invalid_template")
    status, body, _ = await api.call("POST", url, {"recipients": ["+40733111222"]})
    assert status == 400 and body["error"] == "invalid_request"
    status, body, _ = await api.call(
        "POST", url, {"template": template, "recipients": ["+40733111222"]}
    )
    assert status == 200, body
    stored = api.store.get(f"broadcasts/{body['broadcastId']}")
    assert stored is not None
    assert stored.data["template"] == {**template, "components": []}
    assert stored.data["text"] == "[template] party_offer"


async def test_listing_an_accounts_broadcasts_newest_first(api: Api) -> None:
    aid, other = await api.add(), await api.add("Second", "0722000002")
    url = f"/api/whatsapp/broadcasts/{aid}"
    made = []
    for n in range(3):
        payload = {"text": f"t{n}", "recipients": ["+40733111222"], "clientBroadcastId": f"b{n}"}
        status, body, _ = await api.call("POST", url, payload)
        assert status == 200, body
        made.append(body["broadcastId"])
        # created in the same millisecond would tie: spread them out
        api.store.update(f"broadcasts/{body['broadcastId']}", {"createdAtMs": 1_000 + n})
    status, body, _ = await api.call(
        "POST", f"/api/whatsapp/broadcasts/{other}", {"text": "x", "recipients": ["+40733111222"]}
    )
    assert status == 200, body

    status, got, _ = await api.call("GET", url)
    assert status == 200, got
    rows = got["broadcasts"]
    assert [r["id"] for r in rows] == made[::-1]  # newest first, the other account's left out
    assert rows[0]["text"] == "t2" and rows[0]["total"] == 1 and rows[0]["status"] == "running"
    assert rows[0]["counts"] == {"pending": 1, "queued": 0, "sent": 0, "failed": 0, "skipped": 0}
    assert "recipients" not in rows[0] and rows[0]["createdAt"]
    status, got, _ = await api.call("GET", f"{url}?limit=2")
    assert [r["id"] for r in got["broadcasts"]] == made[:0:-1]
    status, got, _ = await api.call("GET", f"{url}?limit=many")
    assert (status, got["error"]) == (400, "invalid_request")
    status, got, _ = await api.call("GET", url, token="staff-id-token")
    assert (status, got["error"]) == (403, "super_admin_only")
    status, got, _ = await api.call("GET", "/api/whatsapp/broadcasts/nosuch")
    assert (status, got["error"]) == (404, "account_not_found")
