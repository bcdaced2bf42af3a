"""Backup and restore with a Firestore store: the sessions and the journal are copied (the store
is Google's to back up), a restore is refused while the store shows the daemon's live lease, and
a daemon whose sessions folder was lost comes back connected without a QR."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from session_daemon.cli import cli
from tests.conftest import unique_project_id
from tests.integration.session_daemon.test_daemon import add_and_pair
from tests.support.daemon import DaemonProcess


def test_backup_and_restore_on_firestore(
    daemon_factory: Callable[..., DaemonProcess],
    firestore_emulator: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    url = f"firestore://{unique_project_id('backup')}"
    d = daemon_factory(store_url=url, env={"FIRESTORE_EMULATOR_HOST": firestore_emulator})
    account = add_and_pair(d, "A", "0722000001")
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator)
    where = ["--store", url, "--sessions-path", str(d.sessions_path)]
    runner = CliRunner()

    backup = tmp_path / "backup"
    made = runner.invoke(cli, ["backup", str(backup), *where])
    assert made.exit_code == 0, made.output
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["storeKind"] == "firestore"
    assert {f["role"] for f in manifest["files"]} >= {"session"}
    assert "store" not in {f["role"] for f in manifest["files"]}

    refused = runner.invoke(cli, ["restore", str(backup), *where, "--replace"])
    assert refused.exit_code == 1 and f"account {account} is leased" in refused.output

    d.stop()
    shutil.rmtree(d.sessions_path)
    kept = runner.invoke(cli, ["restore", str(backup), *where])  # the journal file is there
    assert kept.exit_code == 1 and "--replace" in kept.output
    restored = runner.invoke(cli, ["restore", str(backup), *where, "--replace"])
    assert restored.exit_code == 0, restored.output
    assert "moved aside" in restored.output and "inbound-journal.db.pre-restore-" in restored.output
    d.start()
    d.wait_for(lambda: d.account_status(account) == "connected", what="resumed without a QR")
    assert d.get(f"/api/whatsapp/qr/{account}").json()["qr"] is None
