"""The failure states of the real library, played through the simulator API against the daemon
process: each shows as its status with a reason, and the ones that heal heal by themselves."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.daemon.conftest import DaemonProcess

pytestmark = pytest.mark.timeout(120)


def connected_account(d: DaemonProcess, phone: str) -> str:
    reply = d.post("/api/whatsapp/add-account", {"name": phone, "phone": phone})
    account = str(reply.json()["accountId"])
    assert d.post(f"/api/simulator/pair/{account}", {"phone": phone}).status == 200
    d.wait_for(lambda: d.account_status(account) == "connected", what="connected")
    return account


def last_error(d: DaemonProcess, account: str) -> Any:
    with d.open_store() as store:
        return store.get(f"accounts/{account}").data.get("lastError")


@pytest.fixture
def d(daemon_factory: Callable[..., DaemonProcess]) -> DaemonProcess:
    return daemon_factory()  # simulated transport, in process


def test_keepalive_timeout_is_degraded_until_restored(d: DaemonProcess) -> None:
    account = connected_account(d, "+40722000011")
    assert d.post(f"/api/simulator/keepalive-timeout/{account}", {"missed": 4}).status == 200
    d.wait_for(lambda: d.account_status(account) == "degraded", what="degraded")
    assert "keep-alives (4 missed)" in last_error(d, account)
    assert d.post(f"/api/simulator/keepalive-restored/{account}").status == 200
    d.wait_for(lambda: d.account_status(account) == "connected", what="restored")


def test_an_ended_event_loop_comes_back_by_itself(d: DaemonProcess) -> None:
    account = connected_account(d, "+40722000012")
    t0 = time.monotonic()
    assert d.post(f"/api/simulator/end-loop/{account}").status == 200
    d.wait_for(lambda: d.account_status(account) != "connected", what="noticed")
    assert "event loop ended" in last_error(d, account)
    d.wait_for(lambda: d.account_status(account) == "connected", what="back", timeout=20)
    assert time.monotonic() - t0 < 10
    reply = d.post(f"/api/simulator/messages/{account}", {"from": "+40733111222", "text": "hei"})
    assert reply.status == 200  # receiving again


@pytest.mark.parametrize(
    ("reason", "status", "words"),
    [
        ("client_outdated", "client_outdated", "update neonize"),
        ("bad_user_agent", "connect_failed", "does not retry"),
    ],
)
def test_connect_failures_say_what_to_do(
    d: DaemonProcess, reason: str, status: str, words: str
) -> None:
    account = connected_account(d, "+40722000013")
    assert d.post(f"/api/simulator/connect-failure/{account}", {"reason": reason}).status == 200
    d.wait_for(lambda: d.account_status(account) == status, what=status)
    assert words in last_error(d, account)


def test_a_hanging_connect_of_one_account_never_slows_the_others(d: DaemonProcess) -> None:
    stuck = connected_account(d, "+40722000014")
    other = connected_account(d, "+40722000015")
    assert d.post(f"/api/simulator/stall-connects/{stuck}", {"seconds": 30}).status == 200
    assert d.post(f"/api/simulator/disconnect/{stuck}").status == 200
    d.wait_for(lambda: d.account_status(stuck) == "disconnected", what="disconnected")
    assert d.post(f"/api/whatsapp/regenerate-qr/{stuck}").status == 200  # reconnect: hangs
    latencies = []
    for i in range(40):
        t0 = time.monotonic()
        if i % 2:
            reply = d.get(f"/api/whatsapp/threads/{other}")
        else:
            reply = d.post(
                f"/api/simulator/messages/{other}", {"from": "+40733000001", "text": f"m{i}"}
            )
        latencies.append(time.monotonic() - t0)
        assert reply.status == 200
    latencies.sort()
    assert latencies[int(len(latencies) * 0.99) - 1] < 1.0, latencies[-5:]
    t0 = time.monotonic()
    assert d.delete(f"/api/whatsapp/accounts/{stuck}").status == 200
    assert time.monotonic() - t0 < 5
