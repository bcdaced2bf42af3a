"""Takeover time of account leases, in lease periods, with real processes in real time.

Three lease agents (tests/support/lease_agent.py: the real coordinator on one SQLite file,
sessions that only log) share the accounts. Each round kills one agent with SIGKILL and times,
for every account it ran, how long until another agent started it; then restarts the killed
agent under its id and waits for the balance. A second series does the same with SIGTERM
(hand-over). Prints p50 and max of the per-account times, in lease periods.

    python bench/leases.py [--rounds 5] [--lease 1.0] [--accounts 30]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.lease_agents import LeaseAgent, wait_for  # noqa: E402


class Agent(LeaseAgent):
    def started_after(self, t: float) -> dict[str, float]:
        return {e["acc"]: e["t"] for e in self.events() if e["ev"] == "start" and e["t"] >= t}


def launch(work: Path, db: Path, name: str, args: argparse.Namespace) -> Agent:
    log = work / f"{name}-{time.monotonic_ns()}.jsonl"
    return Agent.launch(db, name, log, lease=args.lease, accounts=args.accounts, ready_within=30)


def settled(agents: list[Agent], n: int) -> bool:
    counts = [len(a.live()) for a in agents]
    return sum(counts) == n and max(counts) - min(counts) <= 1


def series(args: argparse.Namespace, sig: int) -> list[float]:
    work = Path(tempfile.mkdtemp(prefix="bench-leases-"))
    db = work / "store.db"
    agents = [launch(work, db, n, args) for n in ("a", "b", "c")]
    wait_for(lambda: settled(agents, args.accounts), 30, "balance")
    times: list[float] = []
    try:
        for r in range(args.rounds):
            victim = agents[r % 3]
            others = [a for a in agents if a is not victim]
            orphans = victim.live()
            t0 = time.time()
            victim.proc.send_signal(sig)
            victim.proc.wait()

            def moved(o: set[str] = orphans, w: list[Agent] = others) -> bool:
                return o <= set().union(*(a.live() for a in w))

            wait_for(moved, 30, "takeover")
            started: dict[str, float] = {}
            for a in others:
                started.update({k: v for k, v in a.started_after(t0).items() if k in orphans})
            times += [(started[acc] - t0) / args.lease for acc in orphans]
            agents[agents.index(victim)] = launch(work, db, victim.name, args)
            wait_for(lambda: settled(agents, args.accounts), 30, "balance")
    finally:
        for a in agents:
            if a.proc.poll() is None:
                os.kill(a.proc.pid, signal.SIGKILL)
                a.proc.wait()
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--lease", type=float, default=1.0)
    ap.add_argument("--accounts", type=int, default=30)
    args = ap.parse_args()
    print(f"3 agents, {args.accounts} accounts, lease {args.lease:g} s, {args.rounds} rounds each")
    for label, sig in (
        ("kill -9 (takeover)", signal.SIGKILL),
        ("SIGTERM (hand-over)", signal.SIGTERM),
    ):
        times = series(args, sig)
        print(
            f"{label:22s} accounts moved {len(times):4d}   time to start elsewhere, in lease "
            f"periods: p50 {statistics.median(times):.2f}   max {max(times):.2f}"
        )


if __name__ == "__main__":
    main()
