"""`superparty-daemon outbox stuck` / `retry` beside a running daemon: a send that failed for good
is listed, retried from the command line, and the daemon sends it (it watches the store)."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from session_daemon.cli import cli
from shared.store.port import query
from tests.integration.session_daemon.test_daemon import add_and_pair, drain, jid, ok, send
from tests.support.daemon import DaemonProcess

CLIENT = "+40711000007"


def test_a_failed_send_is_retried_from_the_command_line(daemon: DaemonProcess) -> None:
    d = daemon
    account = add_and_pair(d, "Sala A", "0722000001")
    send(d, account, CLIENT, "salut")
    drain(d)
    ok(d.post("/api/simulator/fail-sends", {"mode": "permanent", "count": 1}))
    tid = f"{account}__{jid(CLIENT)}"
    body = {"threadId": tid, "accountId": account, "toJid": jid(CLIENT), "text": "revenim",
            "clientMessageId": "c-1", "uid": "staff1"}  # fmt: skip
    assert d.post("/api/whatsapp/send", body).status == 200

    def status() -> Any:
        with d.open_store() as store:
            items = store.query(query("outbox"))
        return items and items[0].data["status"] not in ("queued", "processing") and items[0]

    item = d.wait_for(status, what="the failed send")
    assert item.data["status"] == "failed"
    store = ["--store", f"sqlite:///{d.store_path}"]
    runner = CliRunner()
    stuck = runner.invoke(cli, ["outbox", "stuck", *store, "--json"])
    assert [json.loads(line)["requestId"] for line in stuck.output.splitlines()] == [item.id]
    retried = runner.invoke(cli, ["outbox", "retry", item.id, *store])
    assert retried.exit_code == 0, retried.output
    d.wait_for(lambda: status() and status().data["status"] == "sent", what="the retried send")
    empty = runner.invoke(cli, ["outbox", "stuck", *store])
    assert empty.exit_code == 0 and empty.output.strip() == "(none)"
