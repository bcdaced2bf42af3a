"""The shared test fixtures: the Firestore emulator listens on loopback only and stops cleanly,
the Firebase emulators start once and serve a functions folder, free ports are free, and the
test run cannot reach the GCE metadata server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import (
    ROOT,
    FirebaseEmulators,
    free_port,
    in_ci,
    register_codebase,
    start_firestore_emulator,
)


def _connects(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def test_emulator_listens_on_127_0_0_1_only(firestore_emulator: str) -> None:
    host, port = firestore_emulator.rsplit(":", 1)
    assert host == "127.0.0.1"
    assert _connects("127.0.0.1", int(port))
    # Another loopback address: refused unless the server had bound every interface.
    assert not _connects("127.0.0.2", int(port))


def test_emulator_stops_with_its_process() -> None:
    server = start_firestore_emulator()
    port = server.port
    assert port and _connects("127.0.0.1", port)
    server.stop()
    assert server.proc.poll() is not None
    assert not _connects("127.0.0.1", port)


def test_free_port_can_be_bound() -> None:
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_ci_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPERPARTY_REQUIRE_TOOLS", "")
    monkeypatch.setenv("CI", "true")
    assert in_ci()
    monkeypatch.setenv("CI", "")
    assert not in_ci()
    monkeypatch.setenv("SUPERPARTY_REQUIRE_TOOLS", "1")  # scripts/test.sh
    assert in_ci()


def test_google_auth_never_probes_the_metadata_server() -> None:
    # In a fresh interpreter with the test environment: the check is off before import.
    code = (
        "import tests.conftest\n"
        "from google.auth.compute_engine import _metadata\n"
        "assert _metadata._NO_GCE_CHECK is True\n"
        "assert _metadata._GCE_METADATA_HOST.startswith('127.0.0.1')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


_PROBE_FUNCTIONS = """
import os

from firebase_functions import https_fn


@https_fn.on_request()
def probe(req: https_fn.Request) -> https_fn.Response:
    import shared.store.port  # the repository's package is importable

    keys = ("FIRESTORE_EMULATOR_HOST", "FIREBASE_AUTH_EMULATOR_HOST", "NO_GCE_CHECK", "PYTHONPATH")
    body = json.dumps({k: os.environ.get(k) for k in keys} | {"port": shared.store.port.__name__})
    return https_fn.Response(body, content_type="application/json")


import json
"""


def _fill_probe(folder: Path) -> None:
    (folder / "main.py").write_text(_PROBE_FUNCTIONS)
    (folder / "requirements.txt").write_text("firebase-functions\n")
    # The project's own venv has firebase-functions: no install needed for this probe.
    (folder / "venv").symlink_to(Path(sys.prefix))


register_codebase("probe", _fill_probe)  # served by the session's one emulator start


def test_firebase_emulators_run_a_functions_folder(
    firebase_emulators: FirebaseEmulators, firestore_emulator: str
) -> None:
    """The Auth + Functions emulators run on free loopback ports and serve a functions folder
    with the environment the tests rely on; the Auth emulator issues ID tokens."""
    info = firebase_emulators
    for host in (info.auth_host, info.functions_host):
        assert host.startswith("127.0.0.1:")
    with urllib.request.urlopen(info.functions_url("probe"), timeout=60) as response:
        seen = json.loads(response.read())
    assert seen.pop("PYTHONPATH").split(os.pathsep)[-1] == str(ROOT)
    assert seen == {
        "FIRESTORE_EMULATOR_HOST": firestore_emulator,
        "FIREBASE_AUTH_EMULATOR_HOST": info.auth_host,
        "NO_GCE_CHECK": "true",
        "port": "shared.store.port",
    }
    sign_up = urllib.request.Request(
        f"http://{info.auth_host}/identitytoolkit.googleapis.com/v1/accounts:signUp?key=k",
        json.dumps(
            {"email": "a@example.com", "password": "secret1", "returnSecureToken": True}
        ).encode(),
        {"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(sign_up, timeout=30) as response:
        assert json.loads(response.read())["idToken"]


def test_the_firebase_emulators_start_once_per_session() -> None:
    """Only the session's `firebase_stack` starts them (each start costs ~15-25 s); a test
    needing another functions folder registers a codebase instead."""
    needle = "start_firebase_emulators" + "("
    callers = sorted(
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "tests").rglob("*.py")
        if needle in path.read_text(encoding="utf-8")
    )
    assert callers == ["tests/conftest.py"]
    text = (ROOT / "tests" / "conftest.py").read_text(encoding="utf-8")
    assert text.count(needle) == 2  # its definition and the one call


def test_every_emulator_gap_says_why() -> None:
    """A contract case skipped on the Firestore emulator must say which emulator gets what wrong."""
    from tests.contract import test_store_contract as test_contract

    reasons = {
        name: [
            m.kwargs.get("reason", "")
            for m in getattr(case, "pytestmark", [])
            if m.name == "firestore_emulator_gap"
        ]
        for name, case in vars(test_contract).items()
        if name.startswith("test_")
    }
    gapped = {name: r for name, r in reasons.items() if r}
    assert len(gapped) == 8, sorted(gapped)
    for name, (reason,) in gapped.items():
        assert "@firestore-emulator/server" in reason, name
