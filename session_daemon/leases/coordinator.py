"""One daemon's side of the lease protocol: heartbeat, renew, plan, hand over, acquire.

`tick()` runs every lease/3 (synchronously: call it off the event loop). Each tick:

1. refreshes this instance's heartbeat (another process under our id: stop everything);
2. renews every held lease in one transaction; a lease found taken, or not renewed by its local
   deadline (store unreachable, contention, the process was paused), is **lost**: the session is
   stopped at once and the fence (epoch + token) already refuses its sends in the store;
3. reads all leases and live instances, and plans (`balance.plan`);
4. hands over what it holds and is planned elsewhere, *after* its session has stopped (one
   session never runs twice), keeping the lease renewed while the stop takes;
5. acquires what is planned to it and free (or handed to it), then starts the session.

A dead daemon's leases lapse `lease_seconds` after its last renewal and its heartbeat goes stale
at the same time, so survivors take its accounts within lease + lease/3 (plus the session
start). `hand_over_all()` is the SIGTERM path: mark "stopping" (others stop planning accounts
onto us), stop every session, give each lease to its planned new owner.

Sessions are driven through `SessionControl`: `start`/`stop` are requests (non-blocking),
`running` stays True until a session has fully stopped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from session_daemon.leases.balance import AccountSlot, DaemonSlot, plan
from session_daemon.leases.engine import Acquired, Busy, Held, LeaseEngine
from session_daemon.leases.instances import Instance, InstanceRegistry, Superseded
from session_daemon.leases.record import Fence

log = logging.getLogger(__name__)


class SessionControl(Protocol):
    def start(self, account_id: str, fence: Fence) -> None: ...
    def stop(self, account_id: str) -> None: ...
    def running(self, account_id: str) -> bool: ...
    def adopt(self, account_id: str) -> None:
        """A session the daemon starts itself (a new account's pairing) now counts as running."""


# The accounts that should run somewhere (not deleted), each with "is it pairing now".
AccountSource = Callable[[], Sequence[tuple[str, bool]]]


@dataclass
class LeaseCounters:
    acquired: int = 0
    takeovers: int = 0  # from a holder that stopped renewing (dead, paused) or a corrupt lease
    handovers_in: int = 0
    handovers_out: int = 0
    released: int = 0
    lost: int = 0  # leases this daemon had and lost (taken, or not renewed in time)
    contended: int = 0
    tick_errors: int = 0


@dataclass
class TickReport:
    started: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    handed_over: list[str] = field(default_factory=list)


class LeaseCoordinator:
    def __init__(
        self,
        engine: LeaseEngine,
        registry: InstanceRegistry,
        control: SessionControl,
        accounts: AccountSource,
        *,
        max_pairings: int = 3,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.registry = registry
        self.control = control
        self.accounts = accounts
        self.max_pairings = max_pairings
        self.monotonic = monotonic
        self.instance_id = engine.instance_id
        self.held: dict[str, Held] = {}
        self.since: dict[str, float] = {}  # account -> wall time (epoch s) it was acquired
        self.counters = LeaseCounters()
        self.stopping = False
        self.superseded = False
        # the last plan gave us an account another daemon still holds (it hands it over when
        # its session stopped): the runtime then ticks sooner, to take it as soon as it is ours
        self.awaiting_handover = False
        self._instances: list[Instance] = []
        # `held` is changed by the tick (a worker thread) and by expire_local (the event loop):
        # this lock guards each change, never a store call
        self._lock = threading.Lock()

    # -- queries (any thread)

    def holds(self, account_id: str) -> bool:
        held = self.held.get(account_id)
        return held is not None and self.monotonic() < held.deadline

    def fence(self, account_id: str) -> Fence | None:
        """The fence to carry into a send or action on the account; None when not ours."""
        held = self.held.get(account_id)
        if held is None or self.monotonic() >= held.deadline:
            return None
        return held.lease.fence

    def soonest_expiry_seconds(self) -> float | None:
        now = self.monotonic()
        left = [h.deadline - now for h in list(self.held.values())]
        return round(max(min(left), 0.0), 3) if left else None

    def instance_address(self, instance_id: str) -> str | None:
        for inst in self._instances:
            if inst.instance_id == instance_id:
                return inst.address
        return None

    def status(self) -> dict[str, Any]:
        now = self.monotonic()
        return {
            "instanceId": self.instance_id,
            "leaseSeconds": self.engine.lease_seconds,
            "held": {
                acc: {
                    "epoch": h.lease.epoch,
                    "since": self.since.get(acc),
                    "trustedForSeconds": round(max(h.deadline - now, 0.0), 3),
                }
                for acc, h in sorted(self.held.items())
            },
            "liveInstances": [i.instance_id for i in self._instances],
            "counters": asdict(self.counters),
            "stopping": self.stopping,
            "superseded": self.superseded,
        }

    # -- the protocol

    def register(self, *, trusted_local: bool = False) -> None:
        """Claim the instance id (raises InstanceIdInUse) before anything else."""
        self.registry.register(trusted_local=trusted_local)

    def _drop(self, account_id: str, report: TickReport, *, lost: bool) -> None:
        with self._lock:
            if self.held.pop(account_id, None) is None:
                return  # dropped meanwhile by the other path
            self.since.pop(account_id, None)
        self.control.stop(account_id)
        report.stopped.append(account_id)
        if lost:
            self.counters.lost += 1
            report.lost.append(account_id)
            log.warning("lost the lease of %s: its session is stopped", account_id)

    def tick(self) -> TickReport:
        """One round of the protocol. Store failures never skip the local deadline check: a
        daemon that cannot reach the store stops its sessions when its leases may lapse."""
        report = TickReport()
        if self.superseded:
            return report
        store_ok = True
        try:
            self.registry.heartbeat("stopping" if self.stopping else "running")
        except Superseded:
            log.error("instance %s superseded: stopping every session", self.instance_id)
            self.superseded = True
            for account_id in list(self.held):
                self._drop(account_id, report, lost=True)
            return report
        except Exception:
            log.exception("lease heartbeat failed")
            self.counters.tick_errors += 1
            store_ok = False
        self._renew(report)
        if self.stopping or not store_ok:
            return report
        try:
            self._rebalance(report)
        except Exception:
            log.exception("lease planning failed")
            self.counters.tick_errors += 1
        return report

    def _rebalance(self, report: TickReport) -> None:
        now = self.engine.clock()
        leases = self.engine.read_all()
        self._instances = self.registry.live_instances()
        wanted = {acc: pairing for acc, pairing in self.accounts()}
        slots = []
        for acc, pairing in wanted.items():
            lease = leases.get(acc)
            holder = lease.holder if lease is not None and lease.live(now) else None
            slots.append(AccountSlot(acc, holder, pairing))
        daemons = [
            DaemonSlot(i.instance_id, i.max_pairings or self.max_pairings) for i in self._instances
        ]
        if self.instance_id not in {d.instance_id for d in daemons}:
            daemons.append(DaemonSlot(self.instance_id, self.max_pairings))
        target = plan(slots, daemons)
        awaiting = False
        for acc in list(self.held):
            owner = target.get(acc)
            if owner != self.instance_id:
                self._give(acc, owner, report)
        for acc, owner in target.items():
            if owner == self.instance_id and acc not in self.held:
                lease = leases.get(acc)
                if lease is not None and lease.live(now) and lease.holder != self.instance_id:
                    awaiting = True
                    continue  # still someone else's: it hands it over, or it lapses
                self._take(acc, report)
        self.awaiting_handover = awaiting

    def _renew(self, report: TickReport) -> None:
        renewed: dict[str, Held | None] = {}
        if self.held:
            try:
                renewed = self.engine.renew(list(self.held.values()))
            except Exception:  # store unreachable: only the deadlines below decide
                log.exception("lease renewal failed")
                self.counters.tick_errors += 1
            for acc, held in renewed.items():
                if held is None:
                    self._drop(acc, report, lost=True)
                    continue
                with self._lock:  # only if nobody dropped it while the renewal ran
                    mine = self.held.get(acc)
                    if mine is not None and mine.lease.token == held.lease.token:
                        self.held[acc] = held
        now = self.monotonic()
        for acc, held in list(self.held.items()):
            if now >= held.deadline:  # not renewed in time: somebody may take it any moment
                self._drop(acc, report, lost=True)

    def expire_local(self) -> list[str]:
        """Stop the sessions whose lease this process no longer trusts (local deadline passed),
        without touching the store: cheap enough to run every few hundred milliseconds, so a
        daemon resumed after a pause (SIGCONT) or cut off from the store stops at once instead
        of at its next tick."""
        report = TickReport()
        now = self.monotonic()
        for acc, held in list(self.held.items()):
            if now >= held.deadline:
                self._drop(acc, report, lost=True)
        return report.lost

    def _give(self, account_id: str, owner: str | None, report: TickReport) -> None:
        if self.control.running(account_id):
            self.control.stop(account_id)  # hand over once it has stopped (a later tick)
            return
        with self._lock:
            held = self.held.pop(account_id, None)
            self.since.pop(account_id, None)
        if held is None:
            return
        if owner is None:
            ok = self.engine.release(held)
            self.counters.released += ok
        else:
            ok = self.engine.hand_over(held, owner, to_address=self.instance_address(owner))
            self.counters.handovers_out += ok
            if ok:
                report.handed_over.append(account_id)
        if not ok:
            log.warning("could not give up the lease of %s: it was no longer ours", account_id)

    def _take(self, account_id: str, report: TickReport) -> None:
        if self.control.running(account_id):
            return  # a session of a lost lease is still stopping: never two at once
        outcome = self.engine.acquire(account_id)
        if isinstance(outcome, Acquired):
            with self._lock:
                self.held[account_id] = outcome.held
                self.since[account_id] = outcome.held.lease.acquired_at.timestamp()
            self.counters.acquired += 1
            if outcome.kind in ("takeover", "corrupt"):
                self.counters.takeovers += 1
            elif outcome.kind == "handover":
                self.counters.handovers_in += 1
            log.info(
                "acquired the lease of %s (%s, epoch %d, from %s)",
                account_id,
                outcome.kind,
                outcome.held.lease.epoch,
                outcome.previous_holder or "nobody",
            )
            self.control.start(account_id, outcome.held.lease.fence)
            report.started.append(account_id)
        elif not isinstance(outcome, Busy):
            self.counters.contended += 1

    def claim_now(self, account_id: str) -> bool:
        """Take a free account's lease at once, for a session this daemon is about to start
        itself (a newly added account's pairing). True when this daemon holds it now."""
        if self.holds(account_id):
            return True
        if self.stopping or self.superseded or self.control.running(account_id):
            return False
        outcome = self.engine.acquire(account_id)
        if not isinstance(outcome, Acquired):
            return False
        with self._lock:
            self.held[account_id] = outcome.held
            self.since[account_id] = outcome.held.lease.acquired_at.timestamp()
        self.counters.acquired += 1
        self.control.adopt(account_id)
        return True

    def hand_over_all(
        self,
        *,
        timeout: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> TickReport:
        """SIGTERM: stop taking accounts, stop every session, hand each lease to the daemon the
        plan gives it without us (or release it when no other daemon lives), then say stopped."""
        report = TickReport()
        self.stopping = True
        self.registry.heartbeat("stopping")
        for acc in list(self.held):
            self.control.stop(acc)
        deadline = self.monotonic() + timeout
        last_renew = self.monotonic()
        while any(self.control.running(acc) for acc in self.held):
            if self.monotonic() >= deadline:
                break
            if self.monotonic() - last_renew >= self.engine.lease_seconds / 3:
                self._renew(report)  # a slow stop must not let the lease lapse meanwhile
                last_renew = self.monotonic()
            sleep(0.02)
        now = self.engine.clock()
        others = [i for i in self.registry.live_instances() if i.instance_id != self.instance_id]
        self._instances = others
        leases = self.engine.read_all()
        slots = []
        for acc, pairing in self.accounts():
            lease = leases.get(acc)
            holder = lease.holder if lease is not None and lease.live(now) else None
            slots.append(AccountSlot(acc, holder, pairing))
        target = plan(
            slots, [DaemonSlot(i.instance_id, i.max_pairings or self.max_pairings) for i in others]
        )
        for acc in list(self.held):
            if self.control.running(acc):
                log.error("session %s did not stop in time: its lease is left to lapse", acc)
                with self._lock:
                    self.held.pop(acc, None)
                continue
            self._give(acc, target.get(acc), report)
        self.registry.heartbeat("stopped")
        return report
