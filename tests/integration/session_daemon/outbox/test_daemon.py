"""The outbox end to end: the real daemon process, SQLite store, simulated phones over HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from shared.ids import thread_id
from shared.outbox import new_message_doc, new_outbox_doc
from shared.store.port import query
from shared.timeutil import utc_now
from tests.support.daemon import DaemonProcess

FAST_OUTBOX = {
    "WHATSAPP_OUTBOX_PACE_MIN_GAP_SECONDS": "0",
    "WHATSAPP_OUTBOX_PACE_JITTER_SECONDS": "0",
    "WHATSAPP_OUTBOX_RECIPIENT_MAX": "0",
    "WHATSAPP_OUTBOX_BACKOFF_INITIAL_SECONDS": "0.05",
    "WHATSAPP_OUTBOX_BACKOFF_MAX_SECONDS": "0.3",
    "WHATSAPP_OUTBOX_MAX_ATTEMPTS": "200",
    "WHATSAPP_OUTBOX_POLL_SECONDS": "0.5",
}


def ok(reply: Any) -> Any:
    body = reply.json()
    assert reply.status == 200 and body["success"] is True, (reply.status, body)
    return body


def jid(phone: str) -> str:
    return phone.lstrip("+") + "@s.whatsapp.net"


def add_and_pair(d: DaemonProcess, phone: str) -> str:
    account = ok(d.post("/api/whatsapp/add-account", {"name": phone, "phone": phone}))["accountId"]
    d.wait_for(lambda: d.account_status(account) == "qr_ready", what="QR", timeout=20)
    ok(d.post(f"/api/simulator/pair/{account}", {"phone": phone}))
    d.wait_for(lambda: d.account_status(account) == "connected", what="connected")
    return str(account)


def make_thread(d: DaemonProcess, account: str, client: str) -> str:
    tid = thread_id(account, jid(client))
    with d.open_store() as store:
        if store.get(f"threads/{tid}") is None:
            store.create(f"threads/{tid}", {"accountId": account, "clientJid": jid(client)})
    return tid


def send(d: DaemonProcess, account: str, client: str, text: str, cmid: str | None = None) -> Any:
    return d.post(
        "/api/whatsapp/send",
        {
            "threadId": thread_id(account, jid(client)),
            "accountId": account,
            "toJid": jid(client),
            "text": text,
            "clientMessageId": cmid or text,
        },
    )


def outbox(d: DaemonProcess) -> dict[str, dict[str, Any]]:
    with d.open_store() as store:
        return {s.id: s.data for s in store.query(query("outbox"))}


def wait_settled(d: DaemonProcess, rids: list[str], timeout: float = 60) -> dict[str, Any]:
    def settled() -> dict[str, Any] | None:
        items = outbox(d)
        done = all(items.get(r, {}).get("status") in ("sent", "failed") for r in rids)
        return items if done else None

    result: dict[str, Any] = d.wait_for(settled, timeout=timeout, what="outbox settled")
    return result


def test_two_hundred_sends_over_five_accounts_with_a_disconnect(
    daemon_factory: Callable[..., DaemonProcess],
) -> None:
    d = daemon_factory(env=FAST_OUTBOX)
    accounts = [add_and_pair(d, f"+4072200000{i}") for i in range(5)]
    clients = [f"+407110000{j:02d}" for j in range(8)]
    for acc in accounts:
        for client in clients:
            make_thread(d, acc, client)
    rids: list[str] = []
    flaky = accounts[2]
    for n in range(200):
        acc, client = accounts[n % 5], clients[(n // 5) % 8]
        body = ok(send(d, acc, client, f"{acc}|{client}|{n:03d}"))
        assert body["duplicate"] is False
        rids.append(body["requestId"])
        if n == 60:
            ok(d.post(f"/api/simulator/disconnect/{flaky}", {"reason": "wifi"}))
        if n == 140:
            time.sleep(0.3)  # let the offline account retry a few times
            ok(d.post(f"/api/simulator/reconnect/{flaky}"))
    # a retried send of the same clientMessageId is a duplicate, never a second message
    again = ok(send(d, accounts[0], clients[0], "again", cmid=f"{accounts[0]}|{clients[0]}|000"))
    assert again["duplicate"] is True and again["requestId"] == rids[0]

    items = wait_settled(d, rids)
    assert [items[r]["status"] for r in rids] == ["sent"] * 200
    assert any(items[r]["attemptCount"] > 1 for r in rids[2::5])  # the flaky account retried

    total = 0
    for client in clients:
        got = [m["text"] for m in ok(d.get(f"/api/simulator/received/{client}"))["messages"]]
        total += len(got)
        assert len(got) == len(set(got)), f"{client} got a message twice"
        for acc in accounts:
            seq = [t for t in got if t.startswith(acc + "|")]
            assert seq == sorted(seq), f"order broken in {acc} -> {client}"
    assert total == 200

    ok(d.post("/api/simulator/drain"))
    with d.open_store() as store:
        for rid in rids[:40]:
            item = items[rid]
            msg = store.get(f"threads/{item['threadId']}/messages/{rid}")
            assert msg is not None
            assert msg.data["status"] in ("sent", "delivered", "read")
            assert msg.data["waMessageId"] == item["providerMessageId"]
            assert msg.data["direction"] == "outbound"
        last_thread = store.get(f"threads/{items[rids[-1]]['threadId']}")
        assert last_thread is not None
        assert last_thread.data["lastMessageDirection"] == "outbound"
        assert last_thread.data["lastMessageId"] == rids[-1]
        assert last_thread.data["lastMessageStatus"] in ("sent", "delivered", "read")


def test_unknown_and_logged_out_accounts_fail_clearly(
    daemon_factory: Callable[..., DaemonProcess],
) -> None:
    d = daemon_factory(env=FAST_OUTBOX)
    account = add_and_pair(d, "+40722000009")
    client = "+40711000001"
    make_thread(d, account, client)
    # an item for an account nobody knows, written directly in the contract's shape
    ghost_tid = make_thread(d, "wa_ghost", client)
    now = utc_now()
    with d.open_store() as store:
        store.create(
            "outbox/ghost-1",
            new_outbox_doc(
                request_id="ghost-1", thread_id=ghost_tid, account_id="wa_ghost",
                to_jid=jid(client), text="hello?", uid="u1", client_message_id="g1", now=now,
            ),
        )  # fmt: skip
        store.create(
            f"threads/{ghost_tid}/messages/ghost-1",
            new_message_doc(
                request_id="ghost-1", account_id="wa_ghost", client_jid=jid(client),
                text="hello?", uid="u1", client_message_id="g1", now=now,
            ),
        )  # fmt: skip
    ok(d.post("/api/whatsapp/outbox/wake"))
    ok(d.post(f"/api/simulator/logout/{account}", {}))
    d.wait_for(lambda: d.account_status(account) == "logged_out", what="logged out")
    rid = ok(send(d, account, client, "after logout"))["requestId"]
    items = wait_settled(d, ["ghost-1", rid], timeout=20)
    assert items["ghost-1"]["status"] == "failed"
    assert "unknown account wa_ghost" in items["ghost-1"]["lastError"]
    assert items[rid]["status"] == "failed"
    assert "logged out" in items[rid]["lastError"]
    with d.open_store() as store:
        msg = store.get(f"threads/{ghost_tid}/messages/ghost-1")
        assert msg is not None and msg.data["status"] == "failed"
    assert ok(d.get(f"/api/simulator/received/{client}"))["messages"] == []


def test_send_route_rejects_bad_requests_with_contract_codes(daemon: DaemonProcess) -> None:
    d = daemon
    account = "wa_40722000008"
    client = "+40711000002"
    make_thread(d, account, client)
    base = {
        "threadId": thread_id(account, jid(client)),
        "accountId": account,
        "toJid": jid(client),
        "text": "x",
        "clientMessageId": "c",
    }
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({**base, "text": ""}, 400, "invalid_request"),
        ({k: v for k, v in base.items() if k != "clientMessageId"}, 400, "invalid_request"),
        ({**base, "threadId": thread_id(account, jid("+40711000099"))}, 404, "thread_not_found"),
        ({**base, "accountId": "wa_other"}, 403, "account_mismatch"),
        ({**base, "toJid": jid("+40711000099")}, 403, "to_jid_mismatch"),
    ]
    for body, status, code in cases:
        reply = d.post("/api/whatsapp/send", body)
        assert reply.content_type == "application/json"
        assert (reply.status, reply.json()["error"]) == (status, code), body
    assert d.post("/api/whatsapp/send", raw=b"not json").status == 400
    unauth = d.post("/api/whatsapp/send", base, token=None)
    assert (unauth.status, unauth.json()["error"]) == (401, "missing_auth_token")
    assert d.post("/api/whatsapp/outbox/wake", token="nope").status == 401
    assert outbox(d) == {}


def test_receipts_read_before_delivered_and_duplicates_end_read(
    daemon_factory: Callable[..., DaemonProcess],
) -> None:
    """Through the daemon: the phone's receipts arrive as read, delivered, read, played (the
    simulated network also sends its own automatic delivered): the message ends `read`."""
    d = daemon_factory(env=FAST_OUTBOX)
    account = add_and_pair(d, "+40722000007")
    client = "+40711000003"
    tid = make_thread(d, account, client)
    typed = ok(d.post(f"/api/simulator/type-on-phone/{account}", {"to": client, "text": "phone"}))
    rid = ok(send(d, account, client, "from the app"))["requestId"]
    items = wait_settled(d, [rid])
    wa_id = items[rid]["providerMessageId"]
    ids = [wa_id, typed["messageId"]]
    for status in ("read", "delivered", "read", "played", "delivered"):
        body = {"chat": client, "messageIds": ids, "status": status}
        ok(d.post(f"/api/simulator/receipts/{account}", body))
    ok(d.post("/api/simulator/drain"))
    with d.open_store() as store:
        msg = store.get(f"threads/{tid}/messages/{rid}")
        assert msg is not None and msg.data["status"] == "read"
        assert msg.data["readAt"] is not None and msg.data["deliveredAt"] is not None
        phone_typed = [
            s for s in store.query(query(f"threads/{tid}/messages"))
            if s.data.get("waMessageId") == typed["messageId"]
        ]  # fmt: skip
        assert len(phone_typed) == 1 and phone_typed[0].data["status"] == "read"
        thread = store.get(f"threads/{tid}")
        assert thread is not None and thread.data["lastMessageStatus"] == "read"
