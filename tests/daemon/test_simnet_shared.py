"""The shared simulated phone network (`WHATSAPP_SIMULATOR=shared`): two daemons on one sessions
folder see one network. A message played through one daemon's simulator reaches an account the
other daemon runs; messages sent to an account while its daemon is down (kill -9) wait on the
network and arrive once when it is back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.daemon.conftest import DaemonProcess

pytestmark = pytest.mark.timeout(120)

CLIENT = "+40733111222"


def shared_daemon(factory: Callable[..., DaemonProcess], shared: Path, name: str) -> DaemonProcess:
    journal = shared.parent / f"journal-{name}"
    return factory(
        env={"WHATSAPP_SIMULATOR": "shared", "INBOUND_JOURNAL_PATH": str(journal)},
        args=["--sessions-path", str(shared)],
    )


def paired(d: DaemonProcess, phone: str) -> str:
    account = str(
        d.post("/api/whatsapp/add-account", {"name": phone, "phone": phone}).json()["accountId"]
    )
    d.wait_for(lambda: d.account_status(account) == "qr_ready", what="QR shown")
    assert d.post(f"/api/simulator/pair/{account}", {"phone": phone}).status == 200
    d.wait_for(lambda: d.account_status(account) == "connected", what="connected")
    return account


def bodies(d: DaemonProcess, account: str) -> list[str]:
    reply = d.get(f"/api/whatsapp/inbox/{account}")
    return [m["body"] for m in reply.json().get("messages", [])]


def test_two_daemons_share_one_phone_network(
    daemon_factory: Callable[..., DaemonProcess], tmp_path: Path
) -> None:
    shared = tmp_path / "shared-sessions"
    a = shared_daemon(daemon_factory, shared, "a")
    b = shared_daemon(daemon_factory, shared, "b")
    acc_a = paired(a, "+40722000041")
    acc_b = paired(b, "+40722000042")

    # a client writes to A's account through B's simulator
    assert (
        b.post(f"/api/simulator/messages/{acc_a}", {"from": CLIENT, "text": "via B"}).status == 200
    )
    a.wait_for(lambda: "via B" in bodies(a, acc_a), what="message in A")
    assert b.get("/api/simulator/state").json()["sessions"] == {
        acc_a: "connected",
        acc_b: "connected",
    }

    # A dies; what clients send meanwhile waits on the network
    a.kill()
    b.wait_for(
        lambda: b.get("/api/simulator/state").json()["sessions"].get(acc_a) != "connected",
        what="A's session offline",
    )
    assert (
        b.post(f"/api/simulator/messages/{acc_a}", {"from": CLIENT, "text": "while down"}).status
        == 200
    )
    a.start()
    a.wait_for(
        lambda: "while down" in bodies(a, acc_a), what="queued message delivered", timeout=30
    )
    assert bodies(a, acc_a).count("while down") == 1
    assert bodies(a, acc_a).count("via B") == 1


def test_simulated_sessions_in_hosts_survive_a_killed_host(
    daemon_factory: Callable[..., DaemonProcess], tmp_path: Path
) -> None:
    """Sessions in session hosts on the shared network: kill -9 one account's host; the other
    account keeps receiving, the killed one comes back by itself, and what was sent to it while
    it was down arrives once."""
    import os
    import signal

    from session_daemon.hosts.proctree import descendants

    d = daemon_factory(
        env={
            "WHATSAPP_SIMULATOR": "shared",
            "WHATSAPP_SESSION_HOSTS": "process",
            "WHATSAPP_HOST_BACKOFF_INITIAL": "0.5",
        }
    )
    assert d.proc is not None
    before = set(descendants(d.proc.pid))
    one = paired(d, "+40722000051")
    hosts_after_one = set(descendants(d.proc.pid)) - before
    two = paired(d, "+40722000052")
    host_of_two = set(descendants(d.proc.pid)) - before - hosts_after_one
    assert len(host_of_two) == 1, host_of_two

    os.kill(host_of_two.pop(), signal.SIGKILL)
    assert (
        d.post(f"/api/simulator/messages/{one}", {"from": CLIENT, "text": "to one"}).status == 200
    )
    d.wait_for(lambda: "to one" in bodies(d, one), what="the other account receives")
    assert (
        d.post(f"/api/simulator/messages/{two}", {"from": CLIENT, "text": "to two"}).status == 200
    )
    d.wait_for(lambda: "to two" in bodies(d, two), what="queued message after restart", timeout=30)
    d.wait_for(lambda: d.account_status(two) == "connected", what="back connected")
    assert bodies(d, two).count("to two") == 1
    diag = d.get("/diag").json()["transportDiagnostics"]
    assert diag["restarts"] == {two: 1} and "SIGKILL" in diag["lastExit"][two]
