"""Three lease agent processes (tests/support/lease_agent.py: the real coordinator in real time on
one SQLite file) share 30 accounts with a 1 s lease. From their logs and the fenced sends they
store: kill -9 of one (its accounts run elsewhere within 3 lease periods, none lost, never two
sessions of one account at once), SIGSTOP past the lease then SIGCONT (the paused agent sends
nothing after it resumes, and stops its sessions at once), SIGTERM (hands over before exit) and
a restart under the killed agent's id (it gets its share back)."""

from __future__ import annotations

import itertools
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from shared.paths import OUTBOX
from shared.store.port import query
from shared.store.sqlite import SqliteStore
from tests.support.lease_agents import LeaseAgent, wait_for

LEASE = 2.0  # 1 s left too little room for a 2-core CI machine scheduling three agents
N = 30


@dataclass
class Agent(LeaseAgent):
    killed_at: float | None = None
    paused: tuple[float, float] | None = None

    def live(self) -> set[str]:
        return set() if self.killed_at is not None else super().live()


@dataclass
class Cluster:
    tmp: Path
    db: Path
    agents: list[Agent] = field(default_factory=list)

    def spawn(self, name: str) -> Agent:
        log = self.tmp / f"{name}-{len(self.agents)}.jsonl"
        err = (self.tmp / f"{name}.err").open("ab")
        agent = Agent.launch(self.db, name, log, lease=LEASE, accounts=N, stderr=err)
        self.agents.append(agent)
        return agent

    def counts(self) -> dict[str, int]:
        return {
            a.name: len(a.live())
            for a in self.agents
            if a.proc.poll() is None and a.killed_at is None
        }

    def settled(self) -> bool:
        counts = self.counts()
        return sum(counts.values()) == N and max(counts.values()) - min(counts.values()) <= 1


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    db = tmp_path / "store.db"
    SqliteStore(db).close()
    c = Cluster(tmp_path, db)
    yield c
    for a in c.agents:
        if a.proc.poll() is None:
            os.kill(a.proc.pid, signal.SIGCONT)
            a.proc.kill()
            a.proc.wait()


def intervals(agent: Agent) -> list[tuple[str, float, float]]:
    """(account, start, end) of each session the agent ran; a killed agent's end at the kill, a
    paused agent's sessions cut at the pause (a frozen process runs nothing)."""
    out: list[tuple[str, float, float]] = []
    open_: dict[str, float] = {}
    end_of_life = agent.killed_at or float("inf")
    for ev in agent.events():
        if ev["ev"] == "start":
            open_[ev["acc"]] = ev["t"]
        elif ev["ev"] == "stop" and ev["acc"] in open_:
            out.append((ev["acc"], open_.pop(ev["acc"]), ev["t"]))
    out += [(acc, t, end_of_life) for acc, t in open_.items()]
    if agent.paused is not None:  # what it ran before the pause ended there
        paused_at, _ = agent.paused
        out = [(acc, s, min(e, paused_at) if s < paused_at else e) for acc, s, e in out]
    return out


def test_three_agents_kill_pause_sigterm_restart(cluster: Cluster) -> None:
    a, b, c = (cluster.spawn(n) for n in "abc")
    wait_for(cluster.settled, 3 * LEASE + 5, "30 accounts spread over three agents")

    # kill -9: b's accounts move within 3 lease periods
    orphans = b.live()
    os.kill(b.proc.pid, signal.SIGKILL)
    b.proc.wait()
    b.killed_at = time.time()
    taken = wait_for(lambda: orphans <= a.live() | c.live(), 3 * LEASE + 1, "takeover")
    assert taken <= 3 * LEASE, f"takeover took {taken / LEASE:.2f} lease periods"
    wait_for(cluster.settled, 3 * LEASE, "balance after the kill")

    # SIGSTOP past the lease, then SIGCONT
    os.kill(a.proc.pid, signal.SIGSTOP)
    paused_at = time.time()
    held_by_a = a.live()
    epochs: dict[str, int] = {}
    for ev in a.events():
        if ev["ev"] == "start":
            epochs[ev["acc"]] = ev["epoch"]
    fences_before = {(acc, epochs[acc]) for acc in held_by_a}
    wait_for(lambda: held_by_a <= c.live(), 4 * LEASE, "c takes the paused agent's accounts")
    time.sleep(0.5 * LEASE)
    resumed_at = time.time()  # before the signal: it may log its stops at once
    os.kill(a.proc.pid, signal.SIGCONT)
    a.paused = (paused_at, resumed_at)
    wait_for(lambda: not (a.live() & c.live()), 1.0, "the resumed agent stops its sessions")
    stops = [e["t"] for e in a.events() if e["ev"] == "stop" and e["t"] >= resumed_at]
    assert stops and max(stops) - resumed_at < 0.5  # the local deadline fires before any tick

    # a restart under the killed agent's id, then SIGTERM of c: hand-over, no lapse
    b2 = cluster.spawn("b")
    wait_for(cluster.settled, 3 * LEASE + 2, "balance with the restarted agent")
    given = c.live()
    c.proc.send_signal(signal.SIGTERM)
    assert c.proc.wait(10) == 0
    moved = wait_for(lambda: given <= a.live() | b2.live(), 2 * LEASE, "hand-over on SIGTERM")
    assert moved < 2 * LEASE
    assert any(e["ev"] == "exit" and e["handedOver"] == len(given) for e in c.events())
    wait_for(cluster.settled, 3 * LEASE, "balance after SIGTERM")
    time.sleep(0.3)

    # never two sessions of one account at once
    spans = [(agent.name, *span) for agent in cluster.agents for span in intervals(agent)]
    by_account: dict[str, list[tuple[str, str, float, float]]] = {}
    for name, acc, start, end in spans:
        by_account.setdefault(acc, []).append((name, acc, start, end))
    overlaps = []
    for acc, runs in by_account.items():
        runs.sort(key=lambda r: r[2])
        for first, second in itertools.pairwise(runs):
            if second[2] < first[3]:
                overlaps.append((acc, first, second))
    assert overlaps == []
    # every account runs exactly once now
    assert sorted(acc for agent in (a, b2) for acc in agent.live()) == [
        f"wa_{i:02d}" for i in range(N)
    ]

    # fenced sends: epochs only grow per account, none from the paused agent after it resumed
    store = SqliteStore(cluster.db)
    sends = [s.data for s in store.query(query(OUTBOX))]
    store.close()
    assert len(sends) > 100
    stale = [
        s
        for s in sends
        if s["holder"] == "a" and (s["acc"], s["epoch"]) in fences_before and s["t"] >= resumed_at
    ]
    assert stale == []  # its new leases (taken after it resumed) may send, the old ones not
    assert any(s["holder"] == "a" and (s["acc"], s["epoch"]) in fences_before for s in sends)
    for acc in {s["acc"] for s in sends}:
        mine = sorted((s for s in sends if s["acc"] == acc), key=lambda s: s["t"])
        assert [s["epoch"] for s in mine] == sorted(s["epoch"] for s in mine), acc
