"""The lease coordinator inside a running daemon (asyncio).

- `LeaseRuntime.start()` claims the instance id (a live duplicate: `InstanceIdInUse`, the
  daemon refuses to start), runs the first tick at once (a daemon alone takes every lease
  before its first request), then ticks every lease/3 on a worker thread and sweeps local
  deadlines every `sweep_seconds` on the event loop.
- `LeaseRuntime.stop()` is the SIGTERM path: hand every lease over, then stop ticking.
- `watch(account_id, seconds, stop_within)`, when given, hears after each renewal when each
  held account's session host must start disconnecting (`stop_within` before the daemon's local
  deadline, which is before expiry) unless renewed: a paused daemon's sessions stop before
  another daemon may take them (`session_daemon/hosts/lease_watchdog.py`).
- `ready_fields()` gives `/ready` its lease fields (CONTRACT.md section 5), `diag()` who owns
  which account and since when, `metric_values()` the counters for /metrics.

`AsyncSessionControl` adapts a session owner with async `start`/`stop` (the session manager)
to the coordinator's synchronous `SessionControl`, which is called from the tick thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any, Protocol

from session_daemon.leases.coordinator import LeaseCoordinator
from session_daemon.leases.record import Fence

log = logging.getLogger(__name__)


def host_stop_allowance(lease_seconds: float) -> float:
    """How long a session host may take to disconnect when its lease is no longer vouched for:
    it starts that long before the daemon's local deadline (which is itself before expiry)."""
    return min(0.5, lease_seconds / 10)


class AsyncSessions(Protocol):
    async def start_owned(self, account_id: str, fence: Fence) -> None: ...
    async def stop_owned(self, account_id: str) -> None: ...


class AsyncSessionControl:
    """Runs the owner's async start/stop on its event loop; `running` is True from the start
    request until the stop has completed, so the coordinator never hands over or re-acquires
    an account whose session is still shutting down."""

    def __init__(self, sessions: AsyncSessions, loop: asyncio.AbstractEventLoop) -> None:
        self.sessions = sessions
        self.loop = loop
        # called on the loop when a session has stopped (the runtime ticks at once, so a lease
        # waiting for that stop is handed over now rather than a tick later)
        self.on_stopped: Callable[[str], None] | None = None
        self._busy: dict[str, concurrent.futures.Future[None]] = {}
        self._running: set[str] = set()

    def _submit(self, account_id: str, make: Callable[[], Awaitable[None]]) -> None:
        previous = self._busy.get(account_id)

        async def run() -> None:
            if previous is not None:  # one operation at a time per account, in order
                with contextlib.suppress(Exception):
                    await asyncio.wrap_future(previous)
            await make()

        fut = asyncio.run_coroutine_threadsafe(run(), self.loop)
        self._busy[account_id] = fut

        def done(f: Any, acc: str = account_id) -> None:
            if f.exception() is not None:
                log.error("session operation on %s failed: %r", acc, f.exception())

        fut.add_done_callback(done)

    def start(self, account_id: str, fence: Fence) -> None:
        self._running.add(account_id)
        self._submit(account_id, lambda: self.sessions.start_owned(account_id, fence))

    def stop(self, account_id: str) -> None:
        if account_id not in self._running:
            return

        async def stop_then_forget() -> None:
            try:
                await self.sessions.stop_owned(account_id)
            finally:
                self._running.discard(account_id)
                if self.on_stopped is not None:
                    self.on_stopped(account_id)

        self._submit(account_id, stop_then_forget)

    def running(self, account_id: str) -> bool:
        return account_id in self._running

    def adopt(self, account_id: str) -> None:
        self._running.add(account_id)


class LeaseRuntime:
    def __init__(
        self,
        coordinator: LeaseCoordinator,
        *,
        trusted_local: bool = False,
        sweep_seconds: float = 0.2,
        handover_timeout: float = 60.0,
        watch: Callable[[str, float, float], None] | None = None,
    ) -> None:
        self.coordinator = coordinator
        self.watch = watch
        self._vouched: dict[str, float] = {}  # account -> the deadline last told to `watch`
        self.trusted_local = trusted_local
        self.sweep_seconds = sweep_seconds
        self.handover_timeout = handover_timeout
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()

    @property
    def interval(self) -> float:
        return self.coordinator.engine.lease_seconds / 3

    async def start(self, *, register: bool = True) -> None:
        if register:
            await asyncio.to_thread(self.coordinator.register, trusted_local=self.trusted_local)
        await asyncio.to_thread(self.coordinator.tick)
        self._tasks = [
            asyncio.create_task(self._ticks(), name="lease-ticks"),
            asyncio.create_task(self._sweeps(), name="lease-sweeps"),
        ]

    def wake(self, _account_id: str | None = None) -> None:
        """Tick now (on the loop): a session stopped, its lease can be handed over."""
        self._wake.set()

    async def _ticks(self) -> None:
        while not self._stop.is_set():
            # a hand-over on its way to us: look again sooner (a quarter of a tick)
            wait = self.interval / 4 if self.coordinator.awaiting_handover else self.interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken(), wait)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                await asyncio.to_thread(self.coordinator.tick)
            except Exception:  # the tick logs its own store errors; never end the loop
                log.exception("lease tick failed")

    async def _woken(self) -> None:
        stop = asyncio.ensure_future(self._stop.wait())
        wake = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({stop, wake}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            wake.cancel()

    async def _sweeps(self) -> None:
        while not self._stop.is_set():
            self.coordinator.expire_local()
            self.vouch()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.sweep_seconds)

    def vouch(self) -> None:
        """Tell `watch` the new deadline of every lease renewed since the last sweep (on the
        event loop, like the session stops: a paused loop vouches for nothing)."""
        if self.watch is None:
            return
        c = self.coordinator
        now = c.monotonic()
        # the host must be disconnected by the local deadline: it starts that much earlier
        allowance = host_stop_allowance(c.engine.lease_seconds)
        held = {acc: h.deadline - allowance for acc, h in list(c.held.items())}
        for acc in list(self._vouched):
            if acc not in held:
                del self._vouched[acc]
        for acc, deadline in held.items():
            if self._vouched.get(acc) != deadline and deadline > now:
                self._vouched[acc] = deadline
                try:
                    self.watch(acc, deadline - now, allowance)
                except Exception:  # a host gone meanwhile: its supervisor reports it
                    log.exception("could not pass the lease deadline of %s on", acc)

    async def stop(self) -> None:
        """Hand every lease over (sessions stopped first), then stop the loops."""
        self._stop.set()
        self._wake.set()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        try:
            report = await asyncio.to_thread(
                self.coordinator.hand_over_all, timeout=self.handover_timeout
            )
            log.info("handed over %d leases", len(report.handed_over))
        except Exception:
            log.exception("lease hand-over failed: the leases will lapse instead")

    # -- views

    def ready_fields(self) -> dict[str, Any]:
        """CONTRACT.md section 5: held when this instance owns at least one lease, standby
        when it owns none (it waits to take accounts over); active when it runs sessions."""
        c = self.coordinator
        held = any(c.holds(acc) for acc in list(c.held))
        return {
            "mode": "active" if held else "passive",
            "instanceId": c.instance_id,
            "lockStatus": "held" if held else "standby",
            "heldBy": c.instance_id,
            "lockExpiresInSeconds": c.soonest_expiry_seconds() if held else None,
        }

    def diag(self) -> dict[str, Any]:
        return self.coordinator.status()

    def metric_values(self) -> dict[str, int]:
        return {k: int(v) for k, v in asdict(self.coordinator.counters).items()}
