"""Auto-reply and broadcasts in the real daemon process (SQLite store, simulated phones over
HTTP): a keyword flow answers once even across a restart; broadcasts go out one by one, a
recipient's own failure does not stop them, a logged-out account does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.store.port import query
from tests.integration.session_daemon.outbox.test_daemon import FAST_OUTBOX, add_and_pair, jid, ok
from tests.support.daemon import DaemonProcess

ACC_PHONE = "+40722000001"
C1, C2, C3 = "+40733000001", "+40733000002", "+40733000003"
ENV = {
    **FAST_OUTBOX,
    "WHATSAPP_BROADCAST_GAP_SECONDS": "0",
    "WHATSAPP_BROADCAST_POLL_SECONDS": "0.05",
}


def received(d: DaemonProcess, phone: str) -> list[str]:
    return [m["text"] for m in ok(d.get(f"/api/simulator/received/{phone}"))["messages"]]


def items(d: DaemonProcess, uid: str) -> list[dict[str, Any]]:
    with d.open_store() as store:
        return [s.data for s in store.query(query("outbox")) if s.data["createdByUid"] == uid]


def thread(d: DaemonProcess, tid: str) -> dict[str, Any]:
    with d.open_store() as store:
        snap = store.get(f"threads/{tid}")
        assert snap is not None
        return snap.data


def write(d: DaemonProcess, account: str, phone: str, text: str, mid: str) -> None:
    ok(d.post(f"/api/simulator/messages/{account}", {"from": phone, "text": text, "id": mid}))
    ok(d.post("/api/simulator/drain"))


def finished(d: DaemonProcess, account: str, bid: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        body = ok(d.get(f"/api/whatsapp/broadcasts/{account}/{bid}"))["broadcast"]
        return body if body["status"] in ("done", "stopped") else None

    result: dict[str, Any] = d.wait_for(done, what="broadcast finished", timeout=30)
    return result


def test_flow_reply_survives_a_restart_and_broadcasts_run_to_the_end_or_stop(
    daemon_factory: Callable[..., DaemonProcess],
) -> None:
    d = daemon_factory(env=ENV)
    acc = add_and_pair(d, ACC_PHONE)
    ok(
        d.post(
            f"/api/whatsapp/auto-reply-settings/{acc}",
            {"enabled": True, "flows": [{"keywords": ["pret"], "replies": ["De la 500 lei."]}]},
        )
    )
    # sends fail for now: the reply waits queued in the outbox when the daemon restarts
    ok(d.post("/api/simulator/fail-sends", {"mode": "retryable"}))
    write(d, acc, C1, "Bună! Ce PREȚ aveți?", "W1")
    d.wait_for(lambda: len(items(d, "auto-reply")) == 1, what="auto-reply queued")
    d.restart()
    d.wait_for(lambda: d.account_status(acc) == "connected", what="resumed")
    d.wait_for(lambda: received(d, C1) == ["De la 500 lei."], what="the reply after restart")
    # WhatsApp delivers the same message again: stored once, answered once
    write(d, acc, C1, "Bună! Ce PREȚ aveți?", "W1")
    (reply,) = items(d, "auto-reply")
    assert reply["status"] == "sent"
    t1 = f"{acc}__{jid(C1)}"
    assert thread(d, t1)["ownerUid"] is None  # automatic sends never take the thread
    assert ok(d.get("/diag"))["autoReply"]["enabled"] is True  # counters restart at 0

    # a broadcast: the existing thread, two new numbers; the first send fails for good
    ok(d.post("/api/simulator/fail-sends", {"mode": "permanent", "count": 1}))
    bid = ok(
        d.post(f"/api/whatsapp/broadcasts/{acc}", {"text": "Reducere!", "recipients": [t1, C2, C3]})
    )["broadcastId"]
    result = finished(d, acc, bid)
    assert result["status"] == "done", result
    assert [r["status"] for r in result["recipients"]] == ["failed", "sent", "sent"]
    assert result["counts"]["sent"] == 2
    assert received(d, C2) == ["Reducere!"] and received(d, C3) == ["Reducere!"]
    assert thread(d, f"{acc}__{jid(C2)}")["ownerUid"] is None
    assert {i["status"] for i in items(d, "broadcast")} == {"sent", "failed"}

    # logged out: the broadcast stops early, the rest is skipped
    ok(d.post(f"/api/simulator/logout/{acc}", {}))
    d.wait_for(lambda: d.account_status(acc) == "logged_out", what="logged_out")
    bid = ok(d.post(f"/api/whatsapp/broadcasts/{acc}", {"text": "Again", "recipients": [C2, C3]}))[
        "broadcastId"
    ]
    result = finished(d, acc, bid)
    assert (result["status"], result["stopReason"]) == ("stopped", "account_logged_out")
    assert result["recipients"][1]["status"] == "skipped"
    assert received(d, C3) == ["Reducere!"]
