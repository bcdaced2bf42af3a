"""A Cloud API number under account leases, two daemon processes on one SQLite store: a linked
number that daemon A runs is converted through daemon B (B forwards the registration to the
lease owner, which stops its linked session first); a webhook delivered to B is journalled by B;
a send asked of B goes out from A alone (only the lease owner sends). A cloud number registered
through A after B started moves to B when A dies, and B runs it as a cloud number: the kind is
read from the account document when the lease is taken, not from what B knew at its start."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.session_daemon.cloud_api.test_cloud_daemon import (
    ACCOUNT,
    ADD,
    CLIENT,
    CLIENT_JID,
    HOOK,
    PHONE,
    THREAD,
    deliver,
    doc,
    messages,
)
from tests.support.daemon import DaemonProcess, daemons_sharing_a_store
from tests.support.graph_standin import change, contact, entry, envelope, text_message
from tests.support.graph_thread import RunningStandIn


@pytest.fixture
def two(
    tmp_path: Path, graph_thread: RunningStandIn
) -> Iterator[tuple[DaemonProcess, DaemonProcess]]:
    env = {"WHATSAPP_LEASE_SECONDS": "2", "WHATSAPP_GRAPH_BASE_URL": graph_thread.standin.base_url}
    with daemons_sharing_a_store(tmp_path, env) as made:
        yield made[0], made[1]


def test_only_the_lease_owner_sends_and_any_daemon_journals(
    two: tuple[DaemonProcess, DaemonProcess], graph_thread: RunningStandIn
) -> None:
    a, b = two
    standin = graph_thread.standin
    assert a.post("/api/whatsapp/add-account", {"name": "L", "phone": PHONE}).status == 200
    a.wait_for(lambda: a.account_status(ACCOUNT) == "qr_ready", what="QR on a")
    assert a.post(f"/api/simulator/pair/{ACCOUNT}", {}).status == 200
    a.wait_for(lambda: a.account_status(ACCOUNT) == "connected", what="linked on a")

    converted = b.post("/api/whatsapp/cloud-accounts", ADD)
    assert converted.status == 200, converted.body
    assert converted.json()["converted"] is True
    assert converted.headers.get("x-superparty-owner") == a.base_url  # a did it
    a.wait_for(lambda: a.account_status(ACCOUNT) == "connected", what="cloud on a")
    assert ACCOUNT in a.get("/diag").json()["leases"]["held"]

    standin.webhook_url = f"{b.base_url}{HOOK}"  # Meta delivers to b
    now = int(time.time())
    hello = change(
        contacts=[contact(CLIENT, "Ana")],
        messages=[text_message("wamid.L1", "salut", now, sender=CLIENT)],
    )
    assert deliver(graph_thread, envelope(entry(hello))) == 200
    b.wait_for(lambda: messages(b, THREAD) or None, what="journalled by b")

    standin.window_open.add(CLIENT)
    body = {
        "threadId": THREAD,
        "accountId": ACCOUNT,
        "toJid": CLIENT_JID,
        "text": "din b",
        "clientMessageId": "l-1",
    }
    rid = b.post("/api/whatsapp/send", body).json()["requestId"]
    a.post("/api/whatsapp/outbox/wake", {})
    item = b.wait_for(
        lambda: (x := doc(b, f"outbox/{rid}")) and x["status"] == "sent" and x, what="sent"
    )
    assert item["claimedBy"] == "a"
    assert [s.body["text"]["body"] for s in standin.sent] == ["din b"]


def test_a_daemon_taking_the_lease_runs_a_cloud_number_it_never_saw_registered(
    two: tuple[DaemonProcess, DaemonProcess], graph_thread: RunningStandIn
) -> None:
    a, b = two
    standin = graph_thread.standin
    added = a.post("/api/whatsapp/cloud-accounts", ADD)  # b is already running
    assert added.status == 200, added.body
    assert added.json()["created"] is True
    a.wait_for(lambda: a.account_status(ACCOUNT) == "connected", what="cloud on a")
    standin.webhook_url = f"{b.base_url}{HOOK}"
    hello = change(
        contacts=[contact(CLIENT, "Ana")],
        messages=[text_message("wamid.M1", "salut", int(time.time()), sender=CLIENT)],
    )
    assert deliver(graph_thread, envelope(entry(hello))) == 200
    b.wait_for(lambda: messages(b, THREAD) or None, what="journalled by b")

    a.kill()  # a crash: the lease runs out (2 s) and b takes the number
    b.wait_for(
        lambda: ACCOUNT in b.get("/diag").json()["leases"]["held"], timeout=15, what="b owns it"
    )
    b.wait_for(lambda: b.account_status(ACCOUNT) == "connected", what="cloud on b")
    standin.window_open.add(CLIENT)
    body = {
        "threadId": THREAD,
        "accountId": ACCOUNT,
        "toJid": CLIENT_JID,
        "text": "din b, după a",
        "clientMessageId": "t-1",
    }
    rid = b.post("/api/whatsapp/send", body).json()["requestId"]
    item = b.wait_for(
        lambda: (x := doc(b, f"outbox/{rid}")) and x["status"] == "sent" and x, what="sent"
    )
    assert item["claimedBy"] == "b"
    # through Meta (the stand-in), not through a linked-device session on b
    [out] = standin.sent
    assert out.body["text"]["body"] == "din b, după a"
    assert item["providerMessageId"] == out.wamid
