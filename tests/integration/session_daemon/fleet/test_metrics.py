"""`/metrics` of a running daemon: the exact set of metric names (the conventions and renames the
README lists), and the per-number series with real traffic through the simulated transport."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.support.daemon import DaemonProcess
from tests.support.metric_names import EXPORTED

CLIENT = "+40733111222"


def _types(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            out[name] = kind
    return out


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_names_and_per_number_series(daemon: DaemonProcess) -> None:
    d = daemon
    account = d.post("/api/whatsapp/add-account", {"name": "A", "phone": "0722000001"}).json()[
        "accountId"
    ]
    assert d.post(f"/api/simulator/pair/{account}", {}).status == 200
    d.wait_for(lambda: d.account_status(account) == "connected", what="connected")
    reply = d.post(f"/api/simulator/messages/{account}", {"from": CLIENT, "text": "Bună"})
    assert reply.status == 200, reply.body
    assert d.post("/api/simulator/drain", {}).status == 200
    thread = f"{account}__{CLIENT[1:]}@s.whatsapp.net"
    reply = d.post(
        "/api/whatsapp/send",
        {"threadId": thread, "accountId": account, "toJid": f"{CLIENT[1:]}@s.whatsapp.net",
         "text": "Salut", "clientMessageId": "m-1", "uid": "staff1"},
    )  # fmt: skip
    assert reply.status == 200, reply.body
    # a dropped connection that comes back is a reconnect
    assert d.post(f"/api/simulator/disconnect/{account}", {}).status == 200
    assert d.post(f"/api/simulator/reconnect/{account}", {}).status == 200

    def settled() -> Any:
        text = d.get("/metrics").body.decode()
        samples = _samples(text)
        one = frozenset({("account", account)})
        sent = samples.get(("superparty_outbound_messages_total", one | {("status", "sent")}), 0)
        again = samples.get(("superparty_reconnects_total", one), 0)
        up = samples.get(("superparty_account_up", one), 0)
        auto = samples.get(("superparty_auto_replies_total", one | {("outcome", "disabled")}), 0)
        return sent == 1 and again == 1 and up == 1 and auto == 1 and text

    text = d.wait_for(settled, what="the send, the reconnect, the number up, the auto-reply")
    assert _types(text) == EXPORTED
    samples = _samples(text)
    one = frozenset({("account", account)})
    assert samples[("superparty_inbound_messages_total", one)] == 1
    assert samples[("superparty_account_status", one | {("status", "connected")})] == 1
    assert samples[("superparty_account_status", one | {("status", "qr_ready")})] == 0
    assert samples[("superparty_outbox_queue_depth", one)] == 0
    assert samples[("superparty_inbound_lag_seconds_count", one)] == 1
    assert samples[("superparty_inbound_lag_seconds_bucket", one | {("le", "+Inf")})] == 1
    assert samples[("superparty_last_inbound_timestamp_seconds", one)] > 1.7e9
    assert samples[("superparty_outbound_messages_total", one | {("status", "failed")})] == 0
    assert samples[("superparty_lease_acquired_total", frozenset())] >= 1
    assert samples[("superparty_inbound_messages_stored_total", frozenset())] >= 1
