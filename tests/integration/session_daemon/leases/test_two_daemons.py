"""Two real daemon processes on one SQLite store with account leases (lease 2 s): a QR asked
through B for an account A runs is A's live QR (forwarded to the owner), and so is a broadcast
created through B; /ready and /diag say who holds what; the accounts spread over both; kill -9 of
one moves its accounts to the other within 3 lease periods; a daemon started under a live one's
id refuses to start; the killed one comes back under its id; SIGTERM hands its accounts over."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from session_daemon.leases.record import parse_lease
from shared.paths import account_lease_path, account_path
from shared.store.sqlite import SqliteStore
from shared.timeutil import utc_now
from tests.support.daemon import DaemonProcess, daemons_sharing_a_store

LEASE = 2.0
ENV = {"WHATSAPP_LEASE_SECONDS": str(LEASE), "WHATSAPP_MAX_CONCURRENT_PAIRINGS": "10"}


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[DaemonProcess, DaemonProcess, Path]]:
    with daemons_sharing_a_store(tmp_path, ENV) as made:
        yield made[0], made[1], tmp_path / "store.db"


def ready(d: DaemonProcess) -> dict[str, Any]:
    reply = d.request("GET", "/ready", token=None)
    body: dict[str, Any] = reply.json()
    return body


def held(d: DaemonProcess) -> set[str]:
    return set(d.get("/diag").json()["leases"]["held"])


def wait(cond: Any, timeout: float, what: str) -> float:
    start = time.monotonic()
    while not cond():
        assert time.monotonic() - start < timeout, f"timed out: {what}"
        time.sleep(0.1)
    return time.monotonic() - start


def test_two_daemons_share_accounts_by_lease(
    pair: tuple[DaemonProcess, DaemonProcess, Path],
) -> None:
    a, b, store_path = pair
    # a new account's pairing starts on the daemon that added it, under its lease
    added = a.post("/api/whatsapp/add-account", {"name": "Sales", "phone": "+40722000001"})
    account = added.json()["accountId"]
    wait(lambda: a.get(f"/api/whatsapp/qr/{account}").json().get("qr"), 10, "a QR on a")
    assert held(a) == {account} and ready(a)["lockStatus"] == "held"
    assert ready(b)["lockStatus"] == "standby" and ready(b)["mode"] == "passive"
    # through b: a's live QR, answered by a
    via_b = b.get(f"/api/whatsapp/qr/{account}")
    direct = a.get(f"/api/whatsapp/qr/{account}").json()
    assert via_b.status == 200 and via_b.json()["qr"] == direct["qr"]
    assert via_b.headers.get("x-superparty-owner") == a.base_url
    # a broadcast created through b is created by a (whose runner starts it at once)
    sent = b.post(
        f"/api/whatsapp/broadcasts/{account}", {"text": "hi", "recipients": ["+40722123456"]}
    )
    assert sent.status == 200 and sent.json()["total"] == 1, sent.body
    assert sent.headers.get("x-superparty-owner") == a.base_url
    # accounts that are not pairing spread over both daemons
    store = SqliteStore(store_path)
    for i in range(2, 6):
        store.set(account_path(f"wa_4072200000{i}"), {"name": f"n{i}", "status": "needs_qr"})
    store.close()
    wait(lambda: (len(held(a)), len(held(b))) == (3, 2), 3 * LEASE + 2, "3 and 2")
    assert ready(b)["lockStatus"] == "held" and 0 < ready(b)["lockExpiresInSeconds"] <= LEASE
    # the dashboard says who runs which account
    dashboard = a.get("/api/status/dashboard").json()["accounts"]
    owners = {view["id"]: view["owner"] for view in dashboard}
    assert owners[account] == "a" and sorted(owners.values()) == ["a", "a", "a", "b", "b"]
    assert all(view["ownerSince"] for view in dashboard)

    # a lease corrupted by hand is taken over (a new epoch) within one lease period
    victim = sorted(held(b))[0]
    store = SqliteStore(store_path)
    snap = store.get(account_lease_path(victim))
    assert snap is not None
    old_epoch = snap.data["epoch"]
    store.update(account_lease_path(victim), {"expiresAt": "2999-01-01", "holder": 7})
    corrupted_at = time.monotonic()

    def retaken() -> bool:
        current = store.get(account_lease_path(victim))
        assert current is not None
        lease = parse_lease(victim, current.data, now=utc_now())
        return lease is not None and lease.epoch > old_epoch

    wait(retaken, LEASE, "the corrupt lease taken over")
    assert time.monotonic() - corrupted_at <= LEASE
    store.close()
    wait(lambda: (len(held(a)), len(held(b))) == (3, 2), 3 * LEASE, "balanced again")

    # kill -9 of b: its accounts move to a within 3 lease periods
    b_accounts = held(b)
    b.kill()
    killed_at = time.monotonic()
    wait(lambda: b_accounts <= held(a), 3 * LEASE + 1, "takeover")
    assert time.monotonic() - killed_at <= 3 * LEASE
    assert a.get("/diag").json()["leases"]["counters"]["takeovers"] == 2
    assert b"superparty_lease_takeovers_total 2.0" in a.get("/metrics").body

    # a second daemon under a's id, while a lives: refused with a clear error
    intruder = subprocess.run(
        [sys.executable, "-m", "session_daemon", "serve", "--transport", "simulated",
         "--store", f"sqlite:///{store_path}", "--sessions-path", str(b.workdir / "s2"),
         "--port", "0"],
        env={**_env(a), "WHATSAPP_INSTANCE_ID": "a"}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert intruder.returncode == 2
    assert "instance id 'a' is in use by a live daemon" in intruder.stderr

    # b comes back under its own id and gets its share again
    b.start()
    assert ready(b)["instanceId"] == "b"
    wait(lambda: len(held(b)) == 2, 3 * LEASE + 2, "b's share back")

    # SIGTERM of a: its accounts are handed over, not left to lapse
    a_accounts = held(a)
    a.stop()
    moved = wait(lambda: a_accounts <= held(b), 2 * LEASE, "hand-over")
    assert moved < LEASE
    counters = b.get("/diag").json()["leases"]["counters"]
    assert counters["handovers_in"] >= len(a_accounts)


def _env(d: DaemonProcess) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if k != "FIRESTORE_EMULATOR_HOST"}
    env.update({"WHATSAPP_DAEMON_TOKEN": d.token, **ENV})
    return env
