"""The lease protocol end to end, in simulated time: three coordinators on one real SQLite store,
30 accounts, each daemon ticking every lease/3 at its own phase. A monitor checks after every
step that no account runs on two daemons at once, and measures how long each change takes to
settle, in lease periods: start-up, kill -9 of a daemon, its return, SIGTERM hand-over (with
sessions that take a while to stop), a pause past the lease (SIGSTOP/SIGCONT), and a lease
corrupted by hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from session_daemon.leases.coordinator import LeaseCoordinator
from session_daemon.leases.engine import LeaseEngine
from session_daemon.leases.fencing import fence_is_held
from session_daemon.leases.instances import InstanceRegistry, ProcessMark
from session_daemon.leases.record import Fence
from shared.paths import account_lease_path
from shared.store.port import Transaction
from shared.store.sqlite import SqliteStore

LEASE = 3.0
STEP = LEASE / 12
ACCOUNTS = [f"wa_{i:02d}" for i in range(30)]
T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def wall(self) -> datetime:
        return T0 + timedelta(seconds=self.t)

    def mono(self) -> float:
        return self.t


class Sessions:
    """One daemon's sessions: started at once, stopped `stop_delay` seconds after asked."""

    def __init__(self, clock: Clock, stop_delay: float = 0.0) -> None:
        self.clock = clock
        self.stop_delay = stop_delay
        self.live: dict[str, Fence] = {}
        self.stopping: dict[str, float] = {}  # account -> when it will have stopped

    def start(self, account_id: str, fence: Fence) -> None:
        assert account_id not in self.live and account_id not in self.stopping
        self.live[account_id] = fence

    def stop(self, account_id: str) -> None:
        if account_id in self.live:
            del self.live[account_id]
            self.stopping[account_id] = self.clock.t + self.stop_delay

    def adopt(self, account_id: str) -> None:
        raise AssertionError("not used here")

    def running(self, account_id: str) -> bool:
        self._settle()
        return account_id in self.live or account_id in self.stopping

    def _settle(self) -> None:
        for acc, at in list(self.stopping.items()):
            if self.clock.t >= at:
                del self.stopping[acc]

    def active(self) -> set[str]:
        """Accounts whose session is up or still shutting down: both count as running."""
        self._settle()
        return set(self.live) | set(self.stopping)

    def crash(self) -> None:
        self.live.clear()
        self.stopping.clear()


class Daemon:
    def __init__(
        self, store: SqliteStore, clock: Clock, name: str, phase: float, stop_delay: float = 0.0
    ) -> None:
        self.name = name
        self.sessions = Sessions(clock, stop_delay)
        self.coordinator = LeaseCoordinator(
            LeaseEngine(
                store,
                name,
                lease_seconds=LEASE,
                address=f"http://{name}",
                clock=clock.wall,
                monotonic=clock.mono,
            ),
            InstanceRegistry(
                store,
                name,
                lease_seconds=LEASE,
                address=f"http://{name}",
                max_pairings=3,
                clock=clock.wall,
                mark=ProcessMark(f"{name}-{clock.t}", 1000, "sim", None),
            ),
            self.sessions,
            lambda: [(acc, False) for acc in ACCOUNTS],
            monotonic=clock.mono,
        )
        self.coordinator.register()
        self.next_tick = clock.t + phase
        self.alive = True
        self.paused = False


class World:
    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self.clock = Clock()
        self.daemons: dict[str, Daemon] = {}
        self.overlaps: list[tuple[float, str, list[str]]] = []
        self.last_owner_change = 0.0

    def add(self, name: str, phase: float = 0.0, stop_delay: float = 0.0) -> Daemon:
        d = Daemon(self.store, self.clock, name, phase, stop_delay)
        self.daemons[name] = d
        return d

    def step(self) -> None:
        self.clock.t = round(self.clock.t + STEP, 6)
        for d in self.daemons.values():
            if d.alive and not d.paused and self.clock.t >= d.next_tick:
                d.coordinator.tick()
                d.next_tick += LEASE / 3
        self._monitor()

    def _monitor(self) -> None:
        where: dict[str, list[str]] = {}
        for d in self.daemons.values():
            if not d.alive or d.paused:
                continue  # a killed or frozen process runs nothing
            for acc in d.sessions.active():
                where.setdefault(acc, []).append(d.name)
        for acc, names in where.items():
            if len(names) > 1:
                self.overlaps.append((self.clock.t, acc, names))

    def counts(self) -> dict[str, int]:
        return {
            n: len(d.sessions.live)
            for n, d in self.daemons.items()
            if d.alive and not d.paused and not d.coordinator.stopping
        }

    def settled(self) -> bool:
        counts = self.counts()
        return (
            sum(counts.values()) == len(ACCOUNTS)
            and max(counts.values()) - min(counts.values()) <= 1
        )

    def run_until_settled(self, limit_periods: float) -> float:
        """Periods until every account runs once and counts differ by at most one."""
        start = self.clock.t
        while not self.settled():
            assert self.clock.t - start <= limit_periods * LEASE, (
                f"not settled after {limit_periods} lease periods: {self.counts()}"
            )
            self.step()
        return (self.clock.t - start) / LEASE

    def run(self, periods: float) -> None:
        end = self.clock.t + periods * LEASE
        while self.clock.t < end:
            self.step()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    store = SqliteStore(tmp_path / "store.db", synchronous="NORMAL")
    yield World(store)
    store.close()


def _start_three(world: World, stop_delay: float = 0.0) -> None:
    for i, name in enumerate(("a", "b", "c")):
        world.add(name, phase=i * LEASE / 9, stop_delay=stop_delay)
    assert world.run_until_settled(3) <= 3
    assert world.counts() == {"a": 10, "b": 10, "c": 10}


def test_kill_one_then_bring_it_back(world: World) -> None:
    _start_three(world, stop_delay=LEASE / 4)  # sessions take a while to stop
    victim = world.daemons["b"]
    victim.alive = False  # kill -9: no hand-over, its sessions die with it
    victim.sessions.crash()
    orphaned = set(victim.coordinator.held)
    periods = world.run_until_settled(3)
    assert periods <= 3 and world.counts() == {"a": 15, "c": 15}
    takeovers = sum(world.daemons[n].coordinator.counters.takeovers for n in ("a", "c"))
    assert takeovers == len(orphaned) == 10
    # restarted with its own id: takes its id back and gets a third of the accounts again
    world.add("b", stop_delay=LEASE / 4)
    assert world.run_until_settled(3) <= 3
    assert world.counts() == {"a": 10, "b": 10, "c": 10}
    assert world.overlaps == []


def test_sigterm_hands_over_before_exit(world: World) -> None:
    for i, name in enumerate(("a", "b", "c")):
        world.add(name, phase=i * LEASE / 9, stop_delay=LEASE / 4)  # slow session stops
    world.run_until_settled(3)
    leaving = world.daemons["c"]
    gone = set(leaving.coordinator.held)

    # SIGTERM: hand_over_all blocks the leaving daemon; the others keep ticking meanwhile
    def sleep(seconds: float) -> None:
        leaving.paused = True  # its own ticks stop: it is inside hand_over_all
        world.step()

    leaving.coordinator.hand_over_all(timeout=2 * LEASE, sleep=sleep)
    leaving.alive = False
    handed = leaving.coordinator.counters.handovers_out
    assert handed == len(gone) == 10
    stopped_at = world.clock.t
    periods = world.run_until_settled(2)
    assert world.counts() == {"a": 15, "b": 15}
    assert world.clock.t - stopped_at <= 2 * LEASE and periods <= 2
    assert sum(world.daemons[n].coordinator.counters.handovers_in for n in "ab") == 10
    assert world.overlaps == []


def _fence_ok(store: SqliteStore, fence: Fence, clock: Clock) -> bool:
    def run(tx: Transaction) -> bool:
        return fence_is_held(tx, fence, now=clock.wall())

    return store.transaction(run)


def test_a_paused_daemon_acts_for_nothing_after_it_resumes(world: World) -> None:
    _start_three(world)
    frozen = world.daemons["a"]
    fences = dict(frozen.sessions.live)
    frozen.paused = True  # SIGSTOP
    assert world.run_until_settled(3) <= 3
    assert world.counts() == {"b": 15, "c": 15}
    frozen.paused = False  # SIGCONT: before its first tick it already trusts no lease
    assert not any(frozen.coordinator.holds(acc) for acc in fences)
    assert all(frozen.coordinator.fence(acc) is None for acc in fences)
    assert not any(_fence_ok(world.store, f, world.clock) for f in fences.values())
    frozen.coordinator.tick()
    assert frozen.sessions.live == {} and frozen.coordinator.counters.lost == 10
    assert world.run_until_settled(3) <= 3
    assert world.overlaps == []


def test_a_hand_corrupted_lease_is_taken_over_within_one_period(world: World) -> None:
    _start_three(world)
    owner = next(d for d in world.daemons.values() if "wa_05" in d.sessions.live)
    world.store.update(account_lease_path("wa_05"), {"expiresAt": "garbage", "epoch": "x"})
    start = world.clock.t
    while not any(
        "wa_05" in d.sessions.live for d in world.daemons.values() if d is not owner
    ) and not (owner.coordinator.counters.takeovers and "wa_05" in owner.sessions.live):
        world.step()
        assert world.clock.t - start <= LEASE, "the corrupt lease was not taken within a period"
    assert owner.coordinator.counters.lost == 1  # its own renewal found the lease not its own
    assert world.overlaps == []
