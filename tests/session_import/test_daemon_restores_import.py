"""After `import-sessions`, the real daemon restores the account at start instead of asking for a
QR (simulated transport: the same daemon code path as neonize, through the transport port)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from session_daemon.cli import cli
from shared.schemas import Account
from shared.store.sqlite import SqliteStore
from tests.session_import.baileys_folder import make_folder

ACC = "account_prod_5c1d"


def test_daemon_restores_an_imported_account_without_a_qr(
    daemon_factory: Callable[..., Any], tmp_path: Path
) -> None:
    daemon = daemon_factory(start=False)
    make_folder("40722000007").write(tmp_path / "old" / ACC)
    result = CliRunner().invoke(
        cli,
        [
            "import-sessions", "--from-dir", str(tmp_path / "old"),
            "--store", f"sqlite:///{daemon.store_path}",
            "--sessions-path", str(daemon.sessions_path),
            "--transport", "simulated",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"{ACC}: imported" in result.output
    store = SqliteStore(str(daemon.store_path))
    try:
        snap = store.get(f"accounts/{ACC}")
    finally:
        store.close()
    assert snap is not None  # created: the daemon's store had no such account
    doc = Account.model_validate(snap.data)  # a CONTRACT account document
    assert (doc.phone_e164, snap.data["paired"]) == ("+40722000007", True)

    daemon.start()
    deadline = time.monotonic() + 20
    account: dict[str, Any] = {}
    while time.monotonic() < deadline:
        accounts = daemon.get("/api/whatsapp/accounts").json()["accounts"]
        account = next(a for a in accounts if a["id"] == ACC)
        if account["status"] == "connected":
            break
        time.sleep(0.1)
    assert account["status"] == "connected", account
    assert account["phone"] == "+40722000007"  # the document the import created keeps the id
    assert account["qrCode"] is None
    reply = daemon.post(
        f"/api/simulator/messages/{ACC}", {"from": "+40733111222", "text": "Bună ziua"}
    )
    assert reply.status == 200, reply.json()
