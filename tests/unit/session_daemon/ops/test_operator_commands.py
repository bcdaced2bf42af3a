"""The operator commands on a real SQLite store (in-process, through typer): outbox stuck and
retry (never an item that may have reached WhatsApp), doc by kind or path, owners, and the
daemon-lock check restore relies on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from session_daemon.cli import cli
from session_daemon.config import ConfigError, settings_from_env
from session_daemon.leases.identity import claim_default_identity
from session_daemon.leases.record import Lease, lease_doc
from session_daemon.ops.guard import locked_slots
from session_daemon.ops.layout import Layout
from session_daemon.outbox import items
from shared.ids import thread_id
from shared.outbox import enqueue_send
from shared.store.sqlite import SqliteStore

ACC = "wa_40722000001"
CLIENT = "40722123456@s.whatsapp.net"
TID = thread_id(ACC, CLIENT)
T0 = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
runner = CliRunner()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[SqliteStore, str]]:
    s = SqliteStore(tmp_path / "store.db")
    s.create(f"threads/{TID}", {"accountId": ACC, "clientJid": CLIENT})
    yield s, f"sqlite:///{tmp_path / 'store.db'}"
    s.close()


def enqueue(store: SqliteStore, cmid: str) -> str:
    return enqueue_send(
        store, thread_id=TID, account_id=ACC, to_jid=CLIENT, text="secret words", uid="u",
        client_message_id=cmid, now=T0,
    ).request_id  # fmt: skip


def fail(store: SqliteStore, rid: str, error: str) -> None:
    claimed = items.claim(
        store, rid, instance_id="w", now=T0, lease_s=30, max_attempts=1,
        verdict=items.ACCOUNT_OK, backoff_s=1,
    )  # fmt: skip
    assert isinstance(claimed, items.Claimed)
    if error == items.UNKNOWN_STATE_ERROR:
        items.fail_unknown_state(store, rid, claimed.attempt_id, error, now=T0)
    else:
        items.requeue_after_error(
            store, rid, claimed.attempt_id, error, now=T0, retryable=False, max_attempts=1,
            backoff_s=1,
        )  # fmt: skip


def test_outbox_stuck_and_retry(store: tuple[SqliteStore, str]) -> None:
    db, url = store
    waiting, failed, unknown = (enqueue(db, c) for c in ("c1", "c2", "c3"))
    fail(db, failed, "recipient not on WhatsApp")
    fail(db, unknown, items.UNKNOWN_STATE_ERROR)
    out = runner.invoke(cli, ["outbox", "stuck", "--store", url, "--json"])
    assert out.exit_code == 0, out.output
    rows = {r["requestId"]: r for r in map(json.loads, out.output.splitlines())}
    assert {rid: r["status"] for rid, r in rows.items()} == {
        waiting: "queued", failed: "failed", unknown: "failed"
    }  # fmt: skip
    assert "secret words" not in out.output

    ok = runner.invoke(cli, ["outbox", "retry", failed, "--store", url])
    assert ok.exit_code == 0 and "failed -> queued" in ok.output, ok.output
    item = db.get(f"outbox/{failed}")
    assert item is not None and item.data["status"] == "queued" and item.data["attemptCount"] == 0
    message = db.get(f"threads/{TID}/messages/{failed}")
    assert message is not None and message.data["status"] == "queued"

    refused = runner.invoke(cli, ["outbox", "retry", unknown, "--store", url])
    assert refused.exit_code == 1 and "may have reached WhatsApp" in refused.output
    stored = db.get(f"outbox/{unknown}")
    assert stored is not None and stored.data["status"] == "failed"
    gone = runner.invoke(cli, ["outbox", "retry", "nope", "--store", url])
    assert gone.exit_code == 1 and "no outbox item nope" in gone.output


def test_doc_and_owners(store: tuple[SqliteStore, str], tmp_path: Path) -> None:
    db, url = store
    now = datetime.now(UTC)
    lease = Lease(ACC, "daemon-a", 3, "tok", now, now, now + timedelta(seconds=30), 30.0)
    db.set(f"accountLeases/{ACC}", lease_doc(lease, now=now))
    db.set(f"accountSecrets/{ACC}", {"proxyUrl": "http://u:hunter2@proxy:1"})

    shown = runner.invoke(cli, ["doc", "thread", TID, "--store", url])
    assert shown.exit_code == 0 and json.loads(shown.output)["data"]["clientJid"] == CLIENT
    raw = runner.invoke(cli, ["doc", f"threads/{TID}", "--store", url])
    assert json.loads(raw.output)["path"] == f"threads/{TID}"
    masked = runner.invoke(cli, ["doc", "account-secrets", ACC, "--store", url])
    assert "hunter2" not in masked.output and "***" in masked.output
    for args, needle in (
        (["doc", "thread", "a/b"], "threadId"),
        (["doc", "threads"], "not a document path"),
        (["doc", "nokind", "x"], "unknown kind"),
        (["doc", "message", TID], "takes 2 id(s)"),
        (["doc", "thread", "missing"], "no document at threads/missing"),
    ):
        bad = runner.invoke(cli, [*args, "--store", url])
        assert bad.exit_code in (1, 2) and needle in bad.output, (args, bad.output)
    none = runner.invoke(cli, ["owners", "--store", f"sqlite:///{tmp_path / 'nope.db'}"])
    assert none.exit_code == 1 and "no embedded store" in none.output
    assert not (tmp_path / "nope.db").exists()

    owners = runner.invoke(cli, ["owners", "--store", url, "--json"])
    row = json.loads(owners.output)
    assert (row["account"], row["holder"], row["state"], row["epoch"]) == (
        ACC, "daemon-a", "held", 3
    )  # fmt: skip


def test_restore_sees_a_daemon_holding_the_data_folder(tmp_path: Path) -> None:
    layout = Layout.of(settings_from_env({}, sessions_path=tmp_path / "sessions"))
    identity = claim_default_identity(layout.data_dir)
    try:
        assert locked_slots(layout) == ["instance-id"]
    finally:
        identity.close()
    assert locked_slots(layout) == []


def test_journal_and_parked_list_ids_never_text(tmp_path: Path) -> None:
    from session_daemon.inbound.convert import InboundRecord
    from session_daemon.inbound.journal import Journal

    def rec(wa_id: str, chat: str) -> str:
        record = InboundRecord(
            ACC, wa_id, chat, None, False, 1_700_000_000_000, "words only the client wrote",
            "text", "Ana Secret", None, "live", 1_700_000_000_000,
        )  # fmt: skip
        return json.dumps(record.to_json())

    where = ["--sessions-path", str(tmp_path / "sessions")]
    missing = runner.invoke(cli, ["journal", *where])
    assert missing.exit_code == 1 and "no inbound journal" in missing.output
    journal = Journal(tmp_path / "inbound-journal.db")
    journal.append([("m", rec("A1", CLIENT)), ("m", rec("B2", "123456789@lid"))])
    journal.close()
    listed = runner.invoke(cli, ["journal", *where, "--json"])
    rows = [json.loads(line) for line in listed.output.splitlines()]
    assert [(r["waMessageId"], r["parked"], r["thread"]) for r in rows] == [
        ("A1", False, TID), ("B2", True, None)
    ]  # fmt: skip
    parked = runner.invoke(cli, ["parked", *where])
    assert "B2" in parked.output and "A1" not in parked.output
    for out in (listed.output, parked.output):
        assert "words only" not in out and "Secret" not in out


def test_sessions_path_flag_takes_a_postgres_url_as_text(tmp_path: Path) -> None:
    """`--sessions-path postgres://…` on an operator command stays a URL (a Path would fold
    its '//' into a folder named `postgres:`), like SESSIONS_PATH and `serve`'s flag."""
    SqliteStore(tmp_path / "store.db").close()
    url = "postgres://user:pw@db.internal:5432/wa"
    where = ["--store", f"sqlite:///{tmp_path / 'store.db'}", "--data-path", str(tmp_path)]
    result = runner.invoke(cli, ["backup", str(tmp_path / "bk"), *where, "--sessions-path", url])
    assert result.exit_code == 0, result.output
    assert "session databases are in PostgreSQL" in result.output
    assert json.loads((tmp_path / "bk" / "manifest.json").read_text())["sessionsInPostgres"]
    assert not Path("postgres:").exists()
    with pytest.raises(ConfigError, match="without its '//'"):  # a folded URL: never a folder
        settings_from_env({}, sessions_path=Path(url))
