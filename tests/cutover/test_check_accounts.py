"""`scripts/cutover.py check-accounts` (step 8 of the day) against a real daemon process
(simulated phones): it fails while an account is not connected and passes once every one is."""

from __future__ import annotations

import os
import subprocess

from tests.daemon.conftest import DaemonProcess


def check(d: DaemonProcess, wait: str) -> subprocess.CompletedProcess[str]:
    from tests.conftest import ROOT

    command = [str(ROOT / ".venv" / "bin" / "python"), "scripts/cutover.py", "check-accounts"]
    command += ["--daemon-url", d.base_url, "--wait", wait]
    env = {**os.environ, "WHATSAPP_DAEMON_TOKEN": d.token}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_check_accounts_waits_for_every_account_connected(daemon: DaemonProcess) -> None:
    d = daemon
    account = d.post("/api/whatsapp/add-account", {"name": "A", "phone": "0722000777"}).json()
    account_id = account["accountId"]
    d.wait_for(lambda: d.account_status(account_id) == "qr_ready", what="QR")
    done = check(d, "0")
    assert done.returncode == 1, done.stdout
    assert "1 of 1 accounts not connected" in done.stderr
    assert d.post(f"/api/simulator/pair/{account_id}", {}).status == 200
    done = check(d, "30")
    assert done.returncode == 0, done.stderr
    assert "all 1 accounts connected" in done.stdout
