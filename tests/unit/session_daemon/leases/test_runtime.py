"""The lease runtime in an event loop, in real time, on a real SQLite store: two runtimes with
async sessions that take a while to stop. A daemon alone holds every lease after start-up and
/ready says held; a second one gets half; SIGTERM of the first hands its half over; the /ready
fields, /diag and the counters say so; a third runtime under a live id refuses to start."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from session_daemon.leases.coordinator import LeaseCoordinator
from session_daemon.leases.engine import LeaseEngine
from session_daemon.leases.instances import InstanceIdInUse, InstanceRegistry
from session_daemon.leases.record import Fence
from session_daemon.leases.runtime import AsyncSessionControl, LeaseRuntime
from shared.store.sqlite import SqliteStore
from shared.timeutil import utc_now

LEASE = 1.0
ACCOUNTS = [f"wa_{i}" for i in range(6)]


class SlowSessions:
    """Async sessions: a stop takes 100 ms. `live` is shared to catch two owners at once."""

    def __init__(self, name: str, live: dict[str, str], overlaps: list[str]) -> None:
        self.name = name
        self.live = live
        self.overlaps = overlaps

    async def start_owned(self, account_id: str, fence: Fence) -> None:
        if account_id in self.live:
            self.overlaps.append(f"{account_id}: {self.live[account_id]} and {self.name}")
        self.live[account_id] = self.name

    async def stop_owned(self, account_id: str) -> None:
        await asyncio.sleep(0.1)
        if self.live.get(account_id) == self.name:
            del self.live[account_id]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = SqliteStore(tmp_path / "store.db", synchronous="NORMAL")
    yield s
    s.close()


def runtime(store: SqliteStore, name: str, sessions: SlowSessions) -> LeaseRuntime:
    engine = LeaseEngine(store, name, lease_seconds=LEASE, address=f"http://{name}")
    registry = InstanceRegistry(
        store, name, lease_seconds=LEASE, address=f"http://{name}", max_pairings=3, clock=utc_now
    )
    control = AsyncSessionControl(sessions, asyncio.get_running_loop())
    coordinator = LeaseCoordinator(
        engine, registry, control, lambda: [(a, False) for a in ACCOUNTS]
    )
    return LeaseRuntime(coordinator, sweep_seconds=0.05, handover_timeout=5)


async def until(cond: object, timeout: float) -> float:
    assert callable(cond)
    start = time.monotonic()
    while not cond():
        assert time.monotonic() - start < timeout, "condition not met in time"
        await asyncio.sleep(0.02)
    return time.monotonic() - start


async def test_alone_then_two_then_sigterm(store: SqliteStore) -> None:
    live: dict[str, str] = {}
    overlaps: list[str] = []
    a = runtime(store, "a", SlowSessions("a", live, overlaps))
    await a.start()
    await until(lambda: len(live) == 6, 1)  # the first tick ran before start() returned
    fields = a.ready_fields()
    assert fields["lockStatus"] == "held" and fields["mode"] == "active"
    assert fields["heldBy"] == "a" and 0 < fields["lockExpiresInSeconds"] <= LEASE

    b = runtime(store, "b", SlowSessions("b", live, overlaps))
    await b.start()
    assert b.ready_fields()["lockStatus"] == "standby"  # nothing free yet: it waits
    assert (
        b.ready_fields()["mode"] == "passive" and b.ready_fields()["lockExpiresInSeconds"] is None
    )
    await until(lambda: sorted(live.values()) == ["a"] * 3 + ["b"] * 3, 3 * LEASE)

    with pytest.raises(InstanceIdInUse, match="'a' is in use by a live daemon"):
        await runtime(store, "a", SlowSessions("a2", live, overlaps)).start()

    given_before = a.metric_values()["handovers_out"]  # 3, when b joined
    await a.stop()  # SIGTERM: sessions stopped, leases handed to b
    assert a.metric_values()["handovers_out"] - given_before == 3
    moved = await until(lambda: list(live.values()).count("b") == 6, 2 * LEASE)
    assert moved < LEASE  # handed over, not left to lapse
    assert b.metric_values()["handovers_in"] == 6 and b.metric_values()["takeovers"] == 0
    diag = b.diag()
    assert sorted(diag["held"]) == ACCOUNTS and diag["liveInstances"] == ["b"]
    assert all(entry["since"] is not None for entry in diag["held"].values())
    await b.stop()
    assert overlaps == []


async def test_ready_diag_and_metrics_show_the_leases(tmp_path: Path, store: SqliteStore) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from session_daemon.config import Settings
    from session_daemon.http.app import build_app
    from session_daemon.http.auth import Authenticator, InvalidCredentials
    from session_daemon.http.context import DaemonContext
    from session_daemon.sessions.manager import SessionManager
    from tests.support.daemon import CollectingInbound, ScriptedTransport

    token = "service-token-for-tests-0123456789"

    def no_id_tokens(value: str) -> Any:
        raise InvalidCredentials("no")

    settings = Settings(sessions_path=tmp_path / "s", service_token=token, instance_id="a")
    settings.sessions_path.mkdir()
    transport, inbound = ScriptedTransport(), CollectingInbound()
    manager = SessionManager(store, transport, settings, inbound)
    live: dict[str, str] = {}
    leases = runtime(store, "a", SlowSessions("a", live, []))
    ctx = DaemonContext(
        settings=settings, store=store, transport=transport, manager=manager,
        authenticator=Authenticator(token, no_id_tokens), inbound=inbound, leases=leases,
    )  # fmt: skip
    await manager.start()
    await leases.start()
    client = TestClient(TestServer(build_app(ctx)))
    await client.start_server()
    auth = {"Authorization": f"Bearer {token}"}
    try:
        body = await (await client.get("/ready")).json()
        assert body["ready"] is True and body["lockStatus"] == "held" and body["mode"] == "active"
        assert body["heldBy"] == body["instanceId"] == "a"
        assert 0 < body["lockExpiresInSeconds"] <= LEASE
        diag = await (await client.get("/diag", headers=auth)).json()
        assert sorted(diag["leases"]["held"]) == ACCOUNTS
        assert diag["leases"]["counters"]["acquired"] == 6
        metrics = await (await client.get("/metrics", headers=auth)).text()
        assert "superparty_lease_acquired_total 6.0" in metrics
        assert "superparty_lease_takeovers_total 0.0" in metrics
        await leases.stop()  # released: nobody else lives
        body = await (await client.get("/ready")).json()
        assert body["lockStatus"] == "standby" and body["lockExpiresInSeconds"] is None
        assert body["mode"] == "passive"
    finally:
        await client.close()
        await manager.stop()


async def test_each_renewal_is_vouched_for_to_the_session_hosts(store: SqliteStore) -> None:
    """`watch` hears the trusted time of every held lease after each renewal (not every sweep),
    never more than the lease, and nothing for leases it gave up."""
    heard: list[tuple[str, float]] = []
    allowances: set[float] = set()

    def watch(account: str, seconds: float, stop_within: float) -> None:
        heard.append((account, seconds))
        allowances.add(stop_within)

    sessions = SlowSessions("a", {}, [])
    rt = runtime(store, "a", sessions)
    rt.watch = watch
    await rt.start()
    try:
        await until(lambda: {a for a, _ in heard} == set(ACCOUNTS), 3 * LEASE)
        await asyncio.sleep(LEASE)  # about three renewals per account
        per_account = {a: sum(1 for x, _ in heard if x == a) for a in ACCOUNTS}
        assert all(2 <= n <= 8 for n in per_account.values()), per_account
        # the host must be disconnected by the daemon's local deadline: it starts earlier
        assert allowances == {LEASE / 10}
        assert all(0 < s <= LEASE * 0.9 for _, s in heard)
    finally:
        await rt.stop()
    count = len(heard)
    rt.vouch()
    assert len(heard) == count  # handed over: nothing vouched for any more
