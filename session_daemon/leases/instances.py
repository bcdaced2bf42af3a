"""Daemon instances: a heartbeat document per instance (`daemonInstances/{instanceId}`).

The heartbeat says which daemons are alive (the balance planner spreads accounts over them),
where each one answers (`address`, for routes that must reach an account's owner), and which
process currently runs under an instance id. Two processes must never share an id: leases are
held by instance id, so they would both believe they own the same sessions. `register` therefore
refuses an id whose heartbeat is fresh and belongs to another process, unless that process is
provably dead (same machine and boot, its pid gone): a restarted daemon takes its id back at
once, a second daemon started by mistake with a live one's id stops with a clear error.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from session_daemon.leases.record import CLOCK_TOLERANCE, MAX_LEASE_SECONDS, MIN_LEASE_SECONDS
from shared.paths import DAEMON_INSTANCES, check_id, daemon_instance_path, is_id
from shared.store.port import DocumentStore, Transaction, query

InstanceState = Literal["running", "stopping", "stopped"]


class InstanceIdInUse(Exception):
    """Another live process runs under this instance id."""


class Superseded(Exception):
    """Another process registered under our instance id (we were paused past our heartbeat):
    this process must stop acting for every account at once."""


@dataclass(frozen=True)
class ProcessMark:
    """Who this process is, as written into its heartbeat."""

    token: str
    pid: int
    host: str
    boot_id: str | None

    @classmethod
    def current(cls) -> ProcessMark:
        return cls(uuid.uuid4().hex, os.getpid(), socket.gethostname(), read_boot_id())


def read_boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


@dataclass(frozen=True)
class Instance:
    instance_id: str
    state: InstanceState
    heartbeat_at: datetime
    lease_seconds: float
    address: str | None
    process_token: str
    pid: int | None
    host: str | None
    boot_id: str | None
    started_at: datetime | None
    max_pairings: int | None

    def fresh(self, now: datetime) -> bool:
        return now < self.heartbeat_at + timedelta(seconds=self.lease_seconds)

    def live(self, now: datetime) -> bool:
        """Alive and taking accounts: heartbeat fresh and not stopping."""
        return self.state == "running" and self.fresh(now)


def parse_instance(instance_id: str, data: object, *, now: datetime) -> Instance | None:
    """The heartbeat in `data`, or None when it cannot be trusted (then it counts as dead)."""
    if not isinstance(data, dict) or not is_id(instance_id):
        return None
    state, beat = data.get("state"), data.get("heartbeatAt")
    seconds, token = data.get("leaseSeconds"), data.get("processToken")
    if state not in ("running", "stopping", "stopped") or not isinstance(beat, datetime):
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        return None
    if not (MIN_LEASE_SECONDS <= seconds <= MAX_LEASE_SECONDS) or not isinstance(token, str):
        return None
    if beat > now + CLOCK_TOLERANCE:
        return None  # a heartbeat from the future would keep a dead id alive forever
    pid, pairings = data.get("pid"), data.get("maxPairings")
    address, host, boot = data.get("address"), data.get("host"), data.get("bootId")
    started = data.get("startedAt")
    return Instance(
        instance_id=instance_id,
        state=state,
        heartbeat_at=beat,
        lease_seconds=float(seconds),
        address=address if isinstance(address, str) and address else None,
        process_token=token,
        pid=pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
        host=host if isinstance(host, str) else None,
        boot_id=boot if isinstance(boot, str) else None,
        started_at=started if isinstance(started, datetime) else None,
        max_pairings=(
            pairings if isinstance(pairings, int) and not isinstance(pairings, bool) else None
        ),
    )


def _provably_dead(other: Instance, me: ProcessMark, alive: Callable[[int], bool]) -> bool:
    """The other process ran on this very machine, in this boot, and its pid is gone."""
    return (
        other.host == me.host
        and other.boot_id is not None
        and other.boot_id == me.boot_id
        and other.pid is not None
        and not alive(other.pid)
    )


class InstanceRegistry:
    def __init__(
        self,
        store: DocumentStore,
        instance_id: str,
        *,
        lease_seconds: float,
        address: str | None,
        max_pairings: int,
        clock: Callable[[], datetime],
        mark: ProcessMark | None = None,
        alive: Callable[[int], bool] = pid_alive,
    ) -> None:
        self.store = store
        self.instance_id = check_id(instance_id, "instanceId")
        self.lease_seconds = lease_seconds
        self.address = address
        self.max_pairings = max_pairings
        self.clock = clock
        self.mark = mark or ProcessMark.current()
        self._alive = alive
        self._started: datetime | None = None

    def _doc(self, now: datetime, state: InstanceState, started: datetime) -> dict[str, Any]:
        return {
            "instanceId": self.instance_id,
            "state": state,
            "heartbeatAt": now,
            "startedAt": started,
            "leaseSeconds": self.lease_seconds,
            "address": self.address,
            "processToken": self.mark.token,
            "pid": self.mark.pid,
            "host": self.mark.host,
            "bootId": self.mark.boot_id,
            "maxPairings": self.max_pairings,
        }

    def register(self, *, trusted_local: bool = False) -> Instance | None:
        """Claim the instance id for this process. `trusted_local`: the id comes from a slot of
        the data folder that this process has locked, so no other local process holds it.
        Returns the previous life's heartbeat (None if there was none or it was unreadable).
        Raises InstanceIdInUse when a live process has the id."""
        path = daemon_instance_path(self.instance_id)
        now = self.clock()
        self._started = now

        def run(tx: Transaction) -> Instance | None:
            snap = tx.get(path)
            previous = parse_instance(self.instance_id, snap.data if snap else None, now=now)
            if (
                previous is not None
                and previous.process_token != self.mark.token
                and previous.state != "stopped"
                and previous.fresh(now)
                and not (trusted_local and previous.host == self.mark.host)
                and not _provably_dead(previous, self.mark, self._alive)
            ):
                age = (now - previous.heartbeat_at).total_seconds()
                raise InstanceIdInUse(
                    f"instance id {self.instance_id!r} is in use by a live daemon (pid "
                    f"{previous.pid} on {previous.host}, heartbeat {age:.1f} s ago, answering at "
                    f"{previous.address or 'an unknown address'}); give this daemon another "
                    "WHATSAPP_INSTANCE_ID, or stop that one first. It counts as dead "
                    f"{previous.lease_seconds:g} s after its last heartbeat."
                )
            tx.set(path, self._doc(now, "running", now))
            return previous

        return self.store.transaction(run)

    def heartbeat(self, state: InstanceState = "running") -> None:
        """Refresh the heartbeat; raise Superseded when another process took the id over."""
        path = daemon_instance_path(self.instance_id)
        now = self.clock()

        def run(tx: Transaction) -> None:
            snap = tx.get(path)
            token = snap.data.get("processToken") if snap is not None else None
            if snap is not None and token != self.mark.token:
                raise Superseded(
                    f"instance id {self.instance_id!r} was taken over by another process "
                    "while this one did not renew its heartbeat"
                )
            tx.set(path, self._doc(now, state, self._started or now))

        self.store.transaction(run)

    def live_instances(self) -> list[Instance]:
        """Instances with a fresh heartbeat that are not stopping, sorted by id."""
        now = self.clock()
        found = []
        for snap in self.store.query(query(DAEMON_INSTANCES)):
            inst = parse_instance(snap.id, snap.data, now=now)
            if inst is not None and inst.live(now):
                found.append(inst)
        return sorted(found, key=lambda i: i.instance_id)
