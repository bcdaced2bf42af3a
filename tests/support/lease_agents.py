"""Starting lease agent processes (tests/support/lease_agent.py) and reading their logs, for the
agents' integration test (tests/integration/session_daemon/leases/test_agents.py) and
bench/leases.py, so both drive the same processes the same way."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Self

AGENT = Path(__file__).resolve().parent / "lease_agent.py"


@dataclass
class LeaseAgent:
    """One agent process and its JSON-lines log."""

    name: str
    log: Path
    proc: subprocess.Popen[bytes]

    @classmethod
    def launch(
        cls,
        db: Path,
        name: str,
        log: Path,
        *,
        lease: float,
        accounts: int,
        stderr: IO[bytes] | int = subprocess.DEVNULL,
        ready_within: float = 20.0,
    ) -> Self:
        """Start an agent on the SQLite file `db` and wait until it has registered."""
        cmd = [sys.executable, str(AGENT), "--db", str(db), "--name", name, "--lease", str(lease)]
        cmd += ["--accounts", str(accounts), "--log", str(log)]
        agent = cls(name, log, subprocess.Popen(cmd, stderr=stderr))
        wait_for(lambda: any(e["ev"] == "ready" for e in agent.events()), ready_within, "ready")
        return agent

    def events(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        lines = self.log.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.endswith("}")]  # skip a torn last line

    def live(self) -> set[str]:
        """The accounts whose session the agent runs, by its log."""
        now: set[str] = set()
        for ev in self.events():
            if ev["ev"] == "start":
                now.add(ev["acc"])
            elif ev["ev"] == "stop":
                now.discard(ev["acc"])
        return now


def wait_for(cond: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll `cond` until true; the seconds it took. The agents are other processes writing
    files: polling their logs is the only signal there is."""
    start = time.time()
    while not cond():
        if time.time() - start > timeout:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.05)
    return time.time() - start
