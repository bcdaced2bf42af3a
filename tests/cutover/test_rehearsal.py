"""The dress rehearsal (scripts/rehearse_cutover.py) runs whole: the old system's data shapes on
the Firestore emulator, the client totals rebuilt and equal to a recomputation, CONTRACT section
4 fields with their types, the app's own documents untouched, and one Functions emulator serving
our Python codebase beside a Node stand-in of the app's (codebase `default`), both answering."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import FIREBASE_CLI, ROOT, missing_tool

pytestmark = [pytest.mark.emulators, pytest.mark.slow]

STAND_IN_SDK = ROOT / "tests" / "cutover" / "app_functions" / "node_modules" / "firebase-functions"


def test_the_rehearsal_passes() -> None:
    if not FIREBASE_CLI.exists() or not STAND_IN_SDK.is_dir():
        missing_tool("firebase-tools or the Node stand-in's packages are not installed")
    done = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "scripts/rehearse_cutover.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    for line in (
        "[ok] superparty-crm rebuild-client-stats",
        "[ok] clients/+40722111222 totals = recomputation",
        "[ok] evenimente/legacy1 reads as V3",
        "[ok] threads/account_prod_1700000000000__40722111222@s.whatsapp.net: section 4 fields",
        "[ok] users/u-staff untouched",
        "[ok] one firebase.json, two codebases ['default', 'whatsapp-crm']",
        "[ok] both codebases loaded",
        "[ok] the app's Node callable allocateStaffCode answered",
        "[ok] our Python whatsappWhoAmI answered",
    ):
        assert line in done.stdout, done.stdout
    assert "FAIL" not in done.stdout
