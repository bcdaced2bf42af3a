"""`LOG_FORMAT=json`: a real daemon flow (pairing, inbound text, an outbound send, a wrong token,
a failing send) logs one JSON object per line with the ids as fields, and neither the messages'
text nor any token appears anywhere in the output."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from shared.store.port import query
from tests.integration.session_daemon.test_daemon import add_and_pair, drain, jid, send
from tests.support.daemon import DaemonProcess

CLIENT = "+40711000009"
INBOUND = "Parola mea este Hunter2-inbound, vrem Elsa"
OUTBOUND = "Confirmam petrecerea, cod secret Zebra-outbound"
WRONG_TOKEN = "wrong-token-Quokka-0123456789-0123456789-abcdef"


def test_json_logs_carry_ids_and_never_text_or_tokens(
    daemon_factory: Callable[..., DaemonProcess],
) -> None:
    d = daemon_factory(env={"LOG_FORMAT": "json", "LOG_LEVEL": "DEBUG"})
    account = add_and_pair(d, "Sala A", "0722000001")
    send(d, account, CLIENT, INBOUND, pushName="Ana Secretname")
    drain(d)
    tid = f"{account}__{jid(CLIENT)}"
    body = {"threadId": tid, "accountId": account, "toJid": jid(CLIENT), "text": OUTBOUND,
            "clientMessageId": "c-1", "uid": "staff1"}  # fmt: skip
    assert d.post("/api/whatsapp/send", body, headers={"X-Request-ID": "req-json-1"}).status == 200

    def sent() -> Any:
        with d.open_store() as store:
            return [s for s in store.query(query("outbox")) if s.data.get("status") == "sent"]

    d.wait_for(sent, what="the send")
    assert d.get("/api/whatsapp/accounts", token=WRONG_TOKEN).status == 401
    assert d.get("/api/whatsapp/qr/wa_nobody").status in (400, 404)
    d.stop()

    lines = [line for line in d.log_path.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert records and all({"ts", "level", "logger", "event"} <= r.keys() for r in records)
    text = "\n".join(lines)
    for secret in (INBOUND, "Hunter2", OUTBOUND, "Zebra", "Secretname", d.token, WRONG_TOKEN):
        assert secret not in text, secret
    assert any(r.get("account") == account for r in records), text[-3000:]
    assert any(r.get("requestId") == "req-json-1" for r in records)
    sent_line = next(r for r in records if r["event"] == "outbox item sent")
    assert sent_line["account"] == account and sent_line["threadId"] == tid
