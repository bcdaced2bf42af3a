"""Instance ids: stable per data folder and unique per process (slot files locked by real
processes), a second live process under one id refused with a clear error, a dead previous
self's id taken back, and a process whose id was taken over told so on its next heartbeat."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from session_daemon.leases.identity import claim_default_identity, resolve_identity
from session_daemon.leases.instances import (
    InstanceIdInUse,
    InstanceRegistry,
    ProcessMark,
    Superseded,
)
from shared.paths import InvalidId, daemon_instance_path
from shared.store.sqlite import SqliteStore

LEASE = 2.0
T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)

_HOLD = """
import sys, time
from pathlib import Path
from session_daemon.leases.identity import claim_default_identity
ident = claim_default_identity(Path(sys.argv[1]))
print(ident.instance_id, ident.slot, flush=True)
time.sleep(60)
"""


def _holder(data: Path) -> tuple[subprocess.Popen[str], str, int]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(data)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    name, slot = proc.stdout.readline().split()
    return proc, name, int(slot)


def test_default_id_is_stable_per_folder_and_unique_per_process(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first, id_a, slot_a = _holder(data)
    second, id_b, slot_b = _holder(data)
    try:
        assert (slot_a, slot_b) == (0, 1) and id_a != id_b
        first.send_signal(signal.SIGKILL)  # the kernel frees its lock
        first.wait()
        again, id_again, slot_again = _holder(data)
        again.kill()
        again.wait()
        assert (id_again, slot_again) == (id_a, 0)  # came back as itself
    finally:
        second.kill()
        second.wait()
    other = claim_default_identity(tmp_path / "elsewhere")
    other.close()
    assert other.instance_id not in (id_a, id_b)


def test_explicit_id_is_checked(tmp_path: Path) -> None:
    assert resolve_identity("vm-a", tmp_path).instance_id == "vm-a"
    with pytest.raises(InvalidId):
        resolve_identity("a/b", tmp_path)


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def wall(self) -> datetime:
        return T0 + timedelta(seconds=self.t)


def _registry(
    store: SqliteStore, clock: Clock, mark: ProcessMark, *, alive: bool = True
) -> InstanceRegistry:
    return InstanceRegistry(
        store,
        "vm-a",
        lease_seconds=LEASE,
        address="http://127.0.0.1:1",
        max_pairings=3,
        clock=clock.wall,
        mark=mark,
        alive=lambda pid: alive,
    )


def test_a_second_live_process_with_the_same_id_is_refused(tmp_path: Path) -> None:
    store, clock = SqliteStore(tmp_path / "s.db"), Clock()
    live = _registry(store, clock, ProcessMark("p1", 101, "host-1", "boot-1"))
    live.register()
    clock.t = 1.5  # heartbeat 1.5 s old, lease 2 s: fresh
    intruder = _registry(store, clock, ProcessMark("p2", 202, "host-2", "boot-2"))
    with pytest.raises(InstanceIdInUse, match=r"'vm-a' is in use by a live daemon \(pid 101"):
        intruder.register()
    live.heartbeat()  # the live one is untouched
    # same machine and boot but the pid still runs: still refused
    local = _registry(store, clock, ProcessMark("p3", 303, "host-1", "boot-1"), alive=True)
    with pytest.raises(InstanceIdInUse):
        local.register()


def test_a_dead_previous_self_gives_its_id_back(tmp_path: Path) -> None:
    store, clock = SqliteStore(tmp_path / "s.db"), Clock()
    _registry(store, clock, ProcessMark("p1", 101, "host-1", "boot-1")).register()
    clock.t = 0.5
    # killed and restarted on the same machine at once: its pid is gone, no waiting
    back = _registry(store, clock, ProcessMark("p2", 102, "host-1", "boot-1"), alive=False)
    previous = back.register()
    assert previous is not None and previous.pid == 101
    # elsewhere: only once the heartbeat is stale
    clock.t = 0.5 + LEASE
    third = _registry(store, clock, ProcessMark("p3", 7, "host-9", "boot-9"))
    third.register()
    with pytest.raises(Superseded):
        back.heartbeat()  # a paused process learns it was replaced and stops everything
    snap = store.get(daemon_instance_path("vm-a"))
    assert snap is not None and snap.data["processToken"] == "p3"


def test_a_stopped_or_corrupt_heartbeat_does_not_block(tmp_path: Path) -> None:
    store, clock = SqliteStore(tmp_path / "s.db"), Clock()
    reg = _registry(store, clock, ProcessMark("p1", 1, "h", "b"))
    reg.register()
    reg.heartbeat("stopped")
    _registry(store, clock, ProcessMark("p2", 2, "h2", "b2")).register()
    store.set(daemon_instance_path("vm-a"), {"state": "running", "heartbeatAt": "forever"})
    _registry(store, clock, ProcessMark("p3", 3, "h3", "b3")).register()
    future = {
        "state": "running",
        "heartbeatAt": T0 + timedelta(days=300),
        "leaseSeconds": LEASE,
        "processToken": "x",
    }
    store.set(daemon_instance_path("vm-a"), future)
    _registry(store, clock, ProcessMark("p4", 4, "h4", "b4")).register()


def _pid_of_dead_child() -> int:
    proc = multiprocessing.get_context("fork").Process(target=os._exit, args=(0,))
    proc.start()
    proc.join()
    assert proc.pid is not None
    return proc.pid


def test_the_real_pid_check(tmp_path: Path) -> None:
    """ProcessMark.current and pid_alive on real processes: a killed daemon's pid is dead."""
    store, clock = SqliteStore(tmp_path / "s.db"), Clock()
    me = ProcessMark.current()
    dead = ProcessMark("old", _pid_of_dead_child(), me.host, me.boot_id)

    def registry(mark: ProcessMark) -> InstanceRegistry:
        return InstanceRegistry(
            store,
            "vm-a",
            lease_seconds=LEASE,
            address=None,
            max_pairings=3,
            clock=clock.wall,
            mark=mark,
        )

    registry(dead).register()
    registry(me).register()  # its pid is gone: taken back at once
    with pytest.raises(InstanceIdInUse):  # this process is alive
        registry(ProcessMark("x", os.getppid(), me.host, me.boot_id)).register()
