"""Issue 16 on a Cloud API number, end to end (the daemon process, the local Graph API
stand-in): a client's webhook message gets its keyword flow as text (inside the 24-hour
window), and a broadcast goes out as an approved template to every recipient."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tests.integration.session_daemon.cloud_api.test_cloud_daemon import (
    ACCOUNT,
    ADD,
    CLIENT,
    deliver,
    doc,
    start_daemon,
)
from tests.integration.session_daemon.outbox.test_daemon import FAST_OUTBOX
from tests.support.daemon import DaemonProcess
from tests.support.graph_standin import change, contact, entry, envelope, text_message
from tests.support.graph_thread import RunningStandIn

OTHER = "40733111333"


def test_flow_reply_and_template_broadcast_on_a_cloud_number(
    daemon_factory: Callable[..., DaemonProcess], graph_thread: RunningStandIn
) -> None:
    graph, standin = graph_thread, graph_thread.standin
    d = start_daemon(
        daemon_factory,
        graph,
        **FAST_OUTBOX,
        WHATSAPP_BROADCAST_GAP_SECONDS="0",
        WHATSAPP_BROADCAST_POLL_SECONDS="0.05",
    )
    assert d.post("/api/whatsapp/cloud-accounts", ADD).status == 200
    d.wait_for(lambda: d.account_status(ACCOUNT) == "connected", what="cloud account connected")
    settings = {"enabled": True, "flows": [{"keywords": ["pret"], "replies": ["De la 500 lei."]}]}
    assert d.post(f"/api/whatsapp/auto-reply-settings/{ACCOUNT}", settings).status == 200

    standin.window_open.add(CLIENT)
    batch = envelope(
        entry(
            change(
                contacts=[contact(CLIENT, "Ana")],
                messages=[
                    text_message("wamid.P1", "Ce preț aveți?", int(time.time()), sender=CLIENT)
                ],
            )
        )
    )
    assert deliver(graph, batch) == 200

    def texts() -> list[Any]:
        return [s.body["text"]["body"] for s in standin.sent if s.body["type"] == "text"]

    d.wait_for(lambda: texts() == ["De la 500 lei."], what="the flow's reply")

    template = {"name": "party_offer", "language": "ro"}
    created = d.post(
        f"/api/whatsapp/broadcasts/{ACCOUNT}",
        {"template": template, "recipients": [f"+{CLIENT}", f"+{OTHER}"]},
    )
    assert created.status == 200, created.body
    bid = created.json()["broadcastId"]

    def finished() -> dict[str, Any] | None:
        b = d.get(f"/api/whatsapp/broadcasts/{ACCOUNT}/{bid}").json()["broadcast"]
        return b if b["status"] != "running" else None

    result = d.wait_for(finished, what="the broadcast finished", timeout=30)
    assert result["status"] == "done" and result["counts"]["sent"] == 2, result
    sent = [s.body for s in standin.sent if s.body["type"] == "template"]
    assert [(b["to"], b["template"]["name"]) for b in sent] == [
        (CLIENT, "party_offer"),
        (OTHER, "party_offer"),
    ]
    thread = doc(d, f"threads/{ACCOUNT}__{OTHER}@s.whatsapp.net")
    assert thread is not None and thread["ownerUid"] is None
