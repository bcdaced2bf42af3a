"""Open handles, memory (PSS) and threads of a process and all its descendants, from /proc.

PSS (proportional set size, `/proc/PID/smaps_rollup`) charges shared pages (the Go library, the
interpreter) to each process in proportion, so the sum over a tree is what the tree really costs;
RSS would count the shared library once per session host.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")


@dataclass(frozen=True)
class TreeUsage:
    processes: int
    fds: int
    pss_kb: int
    threads: int

    @property
    def pss_mb(self) -> float:
        return self.pss_kb / 1024


def children_of(pid: int) -> list[int]:
    """Direct children, from every thread's `children` list (Linux 3.5+)."""
    out: list[int] = []
    with contextlib.suppress(OSError):
        for task in (_PROC / str(pid) / "task").iterdir():
            with contextlib.suppress(OSError):
                out.extend(int(x) for x in (task / "children").read_text().split())
    return out


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it."""
    seen: list[int] = []
    stack = [pid]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.append(current)
        stack.extend(children_of(current))
    return seen


def pss_kb(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in (_PROC / str(pid) / "smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def fd_count(pid: int) -> int:
    try:
        return len(os.listdir(_PROC / str(pid) / "fd"))
    except OSError:
        return 0


def thread_count(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in (_PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return 0


def tree_usage(pid: int | None = None) -> TreeUsage:
    pids = descendants(os.getpid() if pid is None else pid)
    return TreeUsage(
        processes=len(pids),
        fds=sum(fd_count(p) for p in pids),
        pss_kb=sum(pss_kb(p) for p in pids),
        threads=sum(thread_count(p) for p in pids),
    )


def usage_of(pids: list[int]) -> TreeUsage:
    """The same sums over the given processes only (a test measures itself and its zygote,
    not whatever else its runner started)."""
    unique = list(dict.fromkeys(pids))
    return TreeUsage(
        processes=len(unique),
        fds=sum(fd_count(p) for p in unique),
        pss_kb=sum(pss_kb(p) for p in unique),
        threads=sum(thread_count(p) for p in unique),
    )
