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
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
AGENT = ROOT / "tests" / "support" / "lease_agent.py"


class Agent:
    def __init__(self, work: Path, db: Path, name: str, lease: float, accounts: int) -> None:
        self.name = name
        self.log = work / f"{name}-{time.monotonic_ns()}.jsonl"
        cmd = [sys.executable, str(AGENT), "--db", str(db), "--name", name, "--lease", str(lease)]
        cmd += ["--accounts", str(accounts), "--log", str(self.log)]
        self.proc = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
        wait_for(lambda: any(e["ev"] == "ready" for e in self.events()), 30)

    def events(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        text = self.log.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in text if line.endswith("}")]

    def live(self) -> set[str]:
        now: set[str] = set()
        for ev in self.events():
            if ev["ev"] == "start":
                now.add(ev["acc"])
            elif ev["ev"] == "stop":
                now.discard(ev["acc"])
        return now

    def started_after(self, t: float) -> dict[str, float]:
        return {e["acc"]: e["t"] for e in self.events() if e["ev"] == "start" and e["t"] >= t}


def wait_for(cond: Callable[[], bool], timeout: float) -> None:
    end = time.time() + timeout
    while not cond():
        if time.time() > end:
            raise TimeoutError
        time.sleep(0.02)


def settled(agents: list[Agent], n: int) -> bool:
    counts = [len(a.live()) for a in agents]
    return sum(counts) == n and max(counts) - min(counts) <= 1


def series(args: argparse.Namespace, sig: int) -> list[float]:
    work = Path(tempfile.mkdtemp(prefix="bench-leases-"))
    db = work / "store.db"
    agents = [Agent(work, db, n, args.lease, args.accounts) for n in ("a", "b", "c")]
    wait_for(lambda: settled(agents, args.accounts), 30)
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

            wait_for(moved, 30)
            started: dict[str, float] = {}
            for a in others:
                started.update({k: v for k, v in a.started_after(t0).items() if k in orphans})
            times += [(started[acc] - t0) / args.lease for acc in orphans]
            agents[agents.index(victim)] = Agent(work, db, victim.name, args.lease, args.accounts)
            wait_for(lambda: settled(agents, args.accounts), 30)
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
