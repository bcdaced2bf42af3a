"""`superparty-daemon backup` / `restore` on a real daemon process: a running daemon with
messages, a paired session and a parked journal entry is backed up, stopped, its data removed,
restored and started again; damaged backups and bad destinations are refused cleanly."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from session_daemon.cli import cli
from tests.integration.session_daemon.test_daemon import (
    add_and_pair,
    drain,
    jid,
    messages_by_thread,
    ok,
    send,
)
from tests.support.daemon import DaemonProcess

C1, C4 = "+40711000001", "+40711000004"
runner = CliRunner()


def run(*args: str) -> Any:
    return runner.invoke(cli, list(args))


def where(d: DaemonProcess) -> list[str]:
    return ["--store", f"sqlite:///{d.store_path}", "--sessions-path", str(d.sessions_path)]


def parked_ids(d: DaemonProcess) -> list[str]:
    result = run("parked", "--sessions-path", str(d.sessions_path), "--json")
    assert result.exit_code == 0, result.output
    return [json.loads(line)["waMessageId"] for line in result.output.splitlines()]


def remove_data(d: DaemonProcess) -> None:
    for path in d.workdir.iterdir():
        if path.name != "daemon.log":
            shutil.rmtree(path) if path.is_dir() else path.unlink()


def test_backup_then_restore_brings_the_daemon_back(
    daemon_factory: Callable[..., DaemonProcess], tmp_path: Path
) -> None:
    d = daemon_factory()
    account = add_and_pair(d, "Sala A", "0722000001")
    sent = [send(d, account, C1, f"secret text {n}") for n in range(2)]
    lid4 = ok(d.get(f"/api/simulator/lid/{C4}"))["lid"]
    parked = send(d, account, lid4, "bare lid, mapping unknown yet")
    drain(d)
    before = messages_by_thread(d)
    assert before == {f"{account}__{jid(C1)}": sorted(sent)}
    assert parked_ids(d) == [parked]
    journal = run("journal", "--sessions-path", str(d.sessions_path))
    assert journal.exit_code == 0 and "bare lid" not in journal.output  # ids, never text

    backup = tmp_path / "backup"
    result = run("backup", str(backup), *where(d))
    assert result.exit_code == 0, result.output
    manifest = json.loads((backup / "manifest.json").read_text())
    roles = {f["role"] for f in manifest["files"]}
    assert {"store", "journal", "session"} <= roles

    refused = run("restore", str(backup), *where(d), "--replace")
    assert refused.exit_code == 1 and "in use" in refused.output, refused.output

    d.stop()
    remove_data(d)
    restored = run("restore", str(backup), *where(d))
    assert restored.exit_code == 0, restored.output

    d.start()
    d.wait_for(lambda: d.account_status(account) == "connected", what="resumed without a QR")
    assert messages_by_thread(d) == before
    assert parked_ids(d) == [parked]  # the journal came back: the parked message waits
    ok(d.post(f"/api/simulator/history-sync/{account}", {"lidMappings": {lid4: C4}}))
    d.wait_for(
        lambda: messages_by_thread(d).get(f"{account}__{jid(C4)}") == [parked],
        what="the restored parked message re-homed",
    )
    d.stop()
    again = run("restore", str(backup), *where(d))  # would overwrite: refused, data kept
    assert again.exit_code == 1 and "--replace" in again.output, again.output


def _corrupt_store_copy(backup: Path, dest: Path, *, as_text: bool) -> None:
    shutil.copytree(backup, dest)
    manifest = json.loads((dest / "manifest.json").read_text())
    entry = next(f for f in manifest["files"] if f["role"] == "store")
    path = dest / entry["path"]
    if as_text:  # not a SQLite file at all, with a hash that matches it
        path.write_text("hello")
        entry["sha256"] = hashlib.sha256(b"hello").hexdigest()
        (dest / "manifest.json").write_text(json.dumps(manifest))
    else:
        raw = bytearray(path.read_bytes())
        raw[-100] ^= 0xFF
        path.write_bytes(bytes(raw))


def test_bad_backups_and_destinations(
    daemon_factory: Callable[..., DaemonProcess], tmp_path: Path
) -> None:
    d = daemon_factory()
    add_and_pair(d, "Sala A", "0722000001")
    backup = tmp_path / "backup"
    assert run("backup", str(backup), *where(d)).exit_code == 0
    taken = run("backup", str(backup), *where(d))
    assert taken.exit_code == 1 and "already exists" in taken.output
    missing = run("backup", str(tmp_path / "no" / "such" / "b"), *where(d))
    assert missing.exit_code == 1 and "does not exist" in missing.output
    unwritable = run("backup", "/proc/superparty-backup", *where(d))
    assert unwritable.exit_code == 1 and "cannot write the backup" in unwritable.output
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no half-written copy
    d.stop()

    target = tmp_path / "target"
    there = [
        "--store", f"sqlite:///{target / 'store.db'}", "--sessions-path", str(target / "sessions")
    ]  # fmt: skip
    for name, as_text, needle in (("flipped", False, "SHA-256"), ("text", True, "not a SQLite")):
        bad = tmp_path / name
        _corrupt_store_copy(backup, bad, as_text=as_text)
        result = run("restore", str(bad), *there)
        assert result.exit_code == 1 and needle in result.output, result.output
        assert not target.exists()  # nothing half-written
    nothing = run("restore", str(tmp_path), *there)
    assert nothing.exit_code == 1 and "no manifest.json" in nothing.output
    assert run("restore", str(backup), *there).exit_code == 0
    names = {p.name for p in target.iterdir()}
    assert {"store.db", "sessions", "inbound-journal.db", "media-key"} <= names, names
    assert not [n for n in names if ".restoring-" in n]
