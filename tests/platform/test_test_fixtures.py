"""The shared test fixtures: the Firestore emulator listens on loopback only and stops cleanly,
free ports are free, and the test run cannot reach the GCE metadata server."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from tests.conftest import free_port, in_ci, start_firestore_emulator


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
    monkeypatch.setenv("CI", "true")
    assert in_ci()
    monkeypatch.setenv("CI", "")
    assert not in_ci()


def test_google_auth_never_probes_the_metadata_server() -> None:
    # In a fresh interpreter with the test environment: the check is off before import.
    code = (
        "import tests.conftest\n"
        "from google.auth.compute_engine import _metadata\n"
        "assert _metadata._NO_GCE_CHECK is True\n"
        "assert _metadata._GCE_METADATA_HOST.startswith('127.0.0.1')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=None)
