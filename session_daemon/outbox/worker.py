"""The outbox worker: sends queued items, one lane per account, paced, never twice.

Shape:
- a *scheduler* task reads due `queued` items (`status == queued order by nextAttemptAt`) and
  hands each to its account's *lane*. It runs when the change stream reports a queued item, when
  `wake()` is called (the wake route), when the earliest retry falls due, and every
  `poll_interval_s` as a fallback; the same pass settles claims whose lease expired.
- each *lane* is one task per account: it sends its items one at a time in thread order,
  waiting for the account's pacing gap and recipient cap. Lanes run side by side, so one busy or
  slow account never delays another.
- each send is: claim (transaction: lease + `sendStartedAt`) → `transport.send_text` (lease
  renewed meanwhile) → record (`sent`, ids, receipts that raced ahead) or requeue/fail.

Store calls are synchronous and run in worker threads; nothing blocks the event loop.
See `items.py` for the per-item transactions and docs/outbound-guarantees.md for what is promised.

Size (over 600 lines, on purpose): the scheduler, the lanes and one send share the worker's state
(lanes, wake-up, stats, leases); the per-item transactions already live in `items.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

import session_daemon.outbox.items as items
from session_daemon.leases.record import Fence
from session_daemon.logs import bind
from session_daemon.outbox.config import OutboxConfig
from session_daemon.outbox.items import (
    ACCOUNT_OK,
    AccountVerdict,
    Claimed,
    ClaimOutcome,
    Deferred,
    Failed,
    Skipped,
)
from session_daemon.outbox.pacing import AccountPacer
from session_daemon.outbox.send_kinds import send_item
from session_daemon.sessions.backoff import backoff_delay
from session_daemon.transport.port import (
    NotConnected,
    SendResult,
    TransportError,
    WhatsAppTransport,
)
from shared import paths
from shared.store.port import Change, DocumentStore, Snapshot, query
from shared.timeutil import ensure_utc, utc_now

log = logging.getLogger(__name__)

DEAD_ACCOUNT_STATUSES = {"logged_out": "is logged out of WhatsApp", "deleted": "was deleted"}
RECORD_RETRIES = 5
FETCH_PAGES = 10
PARK_MIN_S = 0.25


T = TypeVar("T")


def _is_single_writer(store: DocumentStore) -> bool:
    return type(store).__name__ == "SqliteStore"


class AccountDirectory(Protocol):
    """Which accounts this daemon runs (the session manager): None = not run here."""

    def status_of(self, account_id: str) -> str | None: ...


@dataclass
class _Lane:
    account_id: str
    pacer: AccountPacer
    items: dict[str, Snapshot] = field(default_factory=dict)
    signal: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    busy: bool = False
    current: str | None = None  # the item being sent


@dataclass
class OutboxStats:
    sent: int = 0
    failed: int = 0
    requeued: int = 0
    deferred: int = 0
    blocked: int = 0
    lost_claims: int = 0
    not_owner: int = 0  # items left to the daemon that holds their account's lease
    fenced: int = 0  # claims refused because the lease was lost between check and claim
    recovered_failed: int = 0
    recovered_requeued: int = 0
    passes: int = 0


class OutboxWorker:
    def __init__(
        self,
        store: DocumentStore,
        transport: WhatsAppTransport,
        *,
        instance_id: str,
        config: OutboxConfig | None = None,
        accounts: AccountDirectory | None = None,
        clock: Callable[[], datetime] = utc_now,
        rand: Callable[[], float] = random.random,
        fences: Callable[[str], Fence | None] | None = None,
    ) -> None:
        self.store = store
        self.transport = transport
        self.instance_id = instance_id
        self.config = (config or OutboxConfig()).validate()
        self.accounts = accounts
        # with account leases: the fence of an account this daemon owns, None for the others
        # (their owner sends them); every claim then carries it into its transaction
        self.fences = fences
        self._clock = clock
        self._rand = rand
        self.counters = OutboxStats()
        # told of each item's final outcome, (accountId, "sent" | "failed"): per-number metrics
        self.on_outcome: Callable[[str, str], None] | None = None
        self._lanes: dict[str, _Lane] = {}
        self._held: set[str] = set()
        self._parked: dict[str, tuple[float, str]] = {}  # requestId -> (monotonic until, thread)
        self._in_flight: set[str] = set()  # attempt ids whose transport call is running
        self._finished_at: dict[str, float] = {}  # requestId -> monotonic time a lane let go
        self._finished_wall: dict[str, datetime] = {}  # the same, wall clock
        self._timer_at: float | None = None
        self._next_forget = 0.0
        self._starved = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake_event: asyncio.Event | None = None
        self._stop_event: asyncio.Event | None = None
        self._scheduler: asyncio.Task[None] | None = None
        self._unwatch: Callable[[], None] | None = None
        self._last_pass_at: datetime | None = None
        # SQLite has one writer at a time: concurrent transactions from many threads only wait
        # on its busy handler (sleeps of up to 100 ms), so they go through one thread there.
        threads = self.config.store_threads or (1 if _is_single_writer(store) else 8)
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="outbox-db")

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake_event = asyncio.Event()
        self._stop_event = asyncio.Event()
        try:
            self._unwatch = await asyncio.to_thread(
                self.store.watch, paths.OUTBOX, self._on_changes
            )
        except Exception:  # polling (and the wake route) still deliver every item
            log.exception("outbox change stream unavailable; polling every %ss",
                          self.config.poll_interval_s)  # fmt: skip
        self._scheduler = asyncio.create_task(self._run_scheduler(), name="outbox-scheduler")
        log.info("outbox worker %s started", self.instance_id)

    async def _db(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run a synchronous store call on the outbox's store threads."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    async def stop(self) -> None:
        """Stop taking items; let sends in flight finish and be recorded (up to drain_timeout_s)."""
        if self._stop_event is None or self._stop_event.is_set():
            return
        self._stop_event.set()
        if self._unwatch is not None:
            await asyncio.to_thread(self._unwatch)
        tasks = [t for t in [self._scheduler, *(lane.task for lane in self._lanes.values())] if t]
        for lane in self._lanes.values():
            lane.signal.set()
        self.wake()
        _, pending = await asyncio.wait(tasks, timeout=self.config.drain_timeout_s)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._executor.shutdown(wait=False)

    def wake(self) -> None:
        """Look for due items now. Safe from any thread."""
        loop, event = self._loop, self._wake_event
        if loop is None or event is None:
            return
        try:
            if asyncio.get_running_loop() is loop:
                event.set()
                return
        except RuntimeError:
            pass
        with contextlib.suppress(RuntimeError):  # loop closed: nothing to wake
            loop.call_soon_threadsafe(event.set)

    @property
    def stopping(self) -> bool:
        return self._stop_event is not None and self._stop_event.is_set()

    def _count(self, account_id: str, outcome: str) -> None:
        setattr(self.counters, outcome, getattr(self.counters, outcome) + 1)
        if self.on_outcome is not None:
            self.on_outcome(account_id, outcome)

    def stats(self) -> dict[str, Any]:
        now = time.monotonic()
        return {
            "instanceId": self.instance_id,
            "running": self._scheduler is not None and not self.stopping,
            "inFlight": len(self._in_flight),
            "held": len(self._held),
            "parked": len(self._parked),
            "lastPassAt": self._last_pass_at.isoformat() if self._last_pass_at else None,
            "counters": dict(vars(self.counters)),
            "lanes": {
                acc: {
                    "queued": len(lane.items),
                    "busy": lane.busy,
                    "nextSendInSeconds": round(lane.pacer.wait_for_gap(now), 3),
                }
                for acc, lane in sorted(self._lanes.items())
            },
            "config": {
                "maxAttempts": self.config.max_attempts,
                "paceMinGapSeconds": self.config.pace_min_gap_s,
                "paceJitterSeconds": self.config.pace_jitter_s,
                "recipientMax": self.config.recipient_max,
                "recipientWindowSeconds": self.config.recipient_window_s,
                "typing": self.config.typing,
                "leaseSeconds": self.config.lease_s,
            },
        }

    # ---- change stream ---------------------------------------------------------------------

    def _on_changes(self, changes: list[Change]) -> None:
        """Runs on the store's watch thread. A queued item arrives with its data, so it goes
        straight to its lane (no query); finished items unblock their thread's later items."""
        offers: list[Snapshot] = []
        finished: set[str] = set()
        for change in changes:
            data = change.data or {}
            status = data.get("status")
            if status == "queued":
                offers.append(Snapshot(change.path, data))
            elif status in ("sent", "failed") and data.get("threadId"):
                finished.add(str(data["threadId"]))
        if (offers or finished) and self._loop is not None:
            with contextlib.suppress(RuntimeError):  # loop closed
                self._loop.call_soon_threadsafe(self._on_changes_in_loop, offers, finished)

    def _on_changes_in_loop(self, offers: list[Snapshot], finished: set[str]) -> None:
        if self.stopping:
            return
        released = [rid for rid, (_, tid) in self._parked.items() if tid in finished]
        for rid in released:
            del self._parked[rid]
        now, mono = self._clock(), time.monotonic()
        for snap in offers:
            settled = self._finished_at.get(snap.id)
            updated = snap.data.get("updatedAt")
            if (
                settled is not None
                and isinstance(updated, datetime)
                and ensure_utc(updated) <= self._finished_wall.get(snap.id, now)
            ):
                # This change predates our own handling of the item (stale); a requeue that
                # came with it is found by a full pass when it falls due.
                due = snap.data.get("nextAttemptAt")
                if isinstance(due, datetime):
                    self._wake_later(max(0.0, (ensure_utc(due) - now).total_seconds()))
                continue
            wait = self._offer(snap, now, mono)
            if wait is not None:
                self._wake_later(wait)
        if released:
            self.wake()

    def _wake_at(self, when: datetime | None) -> None:
        if when is not None:
            self._wake_later(max(0.0, (when - self._clock()).total_seconds()))

    def _wake_later(self, seconds: float) -> None:
        assert self._loop is not None
        when = time.monotonic() + seconds
        if self._timer_at is not None and self._timer_at <= when:
            return  # an earlier pass is already scheduled
        self._timer_at = when
        self._loop.call_later(seconds, self.wake)

    # ---- scheduler -------------------------------------------------------------------------

    async def _run_scheduler(self) -> None:
        assert self._wake_event is not None
        next_sweep = 0.0
        while not self.stopping:
            self._wake_event.clear()
            timeout = self.config.poll_interval_s
            try:
                if time.monotonic() >= next_sweep:
                    await self._sweep_expired()
                    next_sweep = time.monotonic() + self.config.poll_interval_s
                timeout = min(timeout, await self._dispatch())
            except Exception:
                log.exception("outbox scheduler pass failed; retrying")
            self.counters.passes += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake_event.wait(), timeout=max(timeout, 0.001))

    def _fetch_queued(self) -> list[Snapshot]:
        """Due queued items (oldest retry first, paged), plus the first one not yet due, whose
        time sets the next pass. Not-due items are never read in bulk: an offline account's
        backlog costs one indexed lookup per pass, not a scan."""
        batch = self.config.fetch_batch
        now = self._clock()
        out: list[Snapshot] = []
        cursor: tuple[Any, ...] | None = None
        for _ in range(FETCH_PAGES):
            page = self.store.query(
                query(
                    paths.OUTBOX,
                    where=[("status", "==", "queued"), ("nextAttemptAt", "<=", now)],
                    order_by=["nextAttemptAt"],
                    limit=batch,
                    start_after=cursor,
                )
            )
            out.extend(page)
            if len(page) < batch:
                break
            cursor = (page[-1].data.get("nextAttemptAt"),)
        out.extend(
            self.store.query(
                query(
                    paths.OUTBOX,
                    where=[("status", "==", "queued"), ("nextAttemptAt", ">", now)],
                    order_by=["nextAttemptAt"],
                    limit=1,
                )
            )
        )
        return out

    def _offer(self, snap: Snapshot, now: datetime, mono: float) -> float | None:
        """Give one queued item to its lane unless held, parked or not due; returns seconds until
        it may be due (not due or parked), else None."""
        due = snap.data.get("nextAttemptAt")
        if isinstance(due, datetime) and ensure_utc(due) > now:
            return (ensure_utc(due) - now).total_seconds()
        rid = snap.id
        if rid in self._held:
            return None
        parked = self._parked.get(rid)
        if parked is not None:
            if parked[0] > mono:
                return parked[0] - mono
            del self._parked[rid]
        lane = self._lane(str(snap.data.get("accountId") or ""))
        if len(lane.items) >= self.config.lane_capacity and not self._make_room(lane, snap):
            self._starved = True
            return None
        lane.items[rid] = snap
        self._held.add(rid)
        lane.signal.set()
        return None

    def _make_room(self, lane: _Lane, snap: Snapshot) -> bool:
        """A full lane takes `snap` when its thread holds at least two items fewer than the
        thread holding the most: that thread's newest item goes back to the store (still
        `queued`, read again once there is room). So one client's backlog, stuck behind its
        recipient cap or not, never keeps the account's other chats out of the lane. The swap
        never reverses (the counts only get closer), and the item being sent is never let go."""
        per_thread: dict[str, list[Snapshot]] = {}
        for held in lane.items.values():
            per_thread.setdefault(str(held.data.get("threadId")), []).append(held)
        mine = len(per_thread.get(str(snap.data.get("threadId")), ()))
        crowded = max(per_thread.values(), key=len, default=[])
        if len(crowded) < mine + 2:
            return False
        victim = max(crowded, key=items.order_key)
        if victim.id == lane.current:
            return False
        del lane.items[victim.id]
        self._held.discard(victim.id)
        self._starved = True  # read it again when the lane has room
        return True

    async def _dispatch(self) -> float:
        """Read due items and hand them to lanes; returns seconds until something may fall due."""
        fetch_started = time.monotonic()
        self._timer_at = None
        docs = await self._db(self._fetch_queued)
        now, mono = self._clock(), time.monotonic()
        self._forget_finished(mono)
        self._last_pass_at = now
        wait = self.config.poll_interval_s
        self._starved = False
        for snap in docs:
            if self._finished_at.get(snap.id, -1.0) >= fetch_started:
                continue  # settled by a lane while this (now stale) read ran
            until = self._offer(snap, now, mono)
            if until is not None:
                wait = min(wait, until)
        return wait

    def _forget_finished(self, mono: float) -> None:
        if mono >= self._next_forget or len(self._finished_at) > 10_000:
            self._next_forget = mono + 30.0
            horizon = mono - 60.0
            self._finished_at = {k: t for k, t in self._finished_at.items() if t >= horizon}
            self._finished_wall = {k: self._finished_wall[k] for k in self._finished_at}

    async def _sweep_expired(self) -> None:
        now = self._clock()
        stuck = await self._db(
            items.expired_claims,
            self.store,
            now=now,
            instance_id=self.instance_id,
            in_flight=set(self._in_flight),
        )
        for snap in stuck:
            outcome = await self._db(
                items.resolve_expired,
                self.store,
                snap.id,
                now=now,
                instance_id=self.instance_id,
                in_flight=set(self._in_flight),
            )
            if outcome == "failed":
                self.counters.recovered_failed += 1
                log.warning(
                    "outbox item %s (claimed by %s) was left mid-send: marked failed, not resent",
                    snap.id,
                    snap.data.get("claimedBy"),
                )
            elif outcome == "queued":
                self.counters.recovered_requeued += 1

    # ---- lanes -----------------------------------------------------------------------------

    def _lane(self, account_id: str) -> _Lane:
        lane = self._lanes.get(account_id)
        if lane is None:
            lane = _Lane(account_id, AccountPacer(self.config, self._rand))
            self._lanes[account_id] = lane
            lane.task = asyncio.create_task(self._run_lane(lane), name=f"outbox-lane:{account_id}")
        return lane

    def _pick(self, lane: _Lane, mono: float) -> tuple[Snapshot | None, float | None]:
        """The earliest item (thread order) whose recipient is under its cap, or the wait."""
        wait: float | None = None
        blocked_threads: set[str] = set()
        for snap in sorted(lane.items.values(), key=items.order_key):
            thread = str(snap.data.get("threadId"))
            if thread in blocked_threads:
                continue
            delay = lane.pacer.recipient_wait(str(snap.data.get("toJid")), mono)
            if delay <= 0:
                return snap, None
            blocked_threads.add(thread)  # keep the thread's order behind its capped head
            wait = delay if wait is None else min(wait, delay)
        return None, wait

    async def _sleep(self, seconds: float) -> None:
        assert self._stop_event is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop_event.wait(), timeout=seconds)

    async def _run_lane(self, lane: _Lane) -> None:
        while not self.stopping:
            snap, wait = self._pick(lane, time.monotonic())
            if snap is None:
                lane.signal.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lane.signal.wait(), timeout=wait)
                continue
            gap = lane.pacer.wait_for_gap(time.monotonic())
            if gap > 0:
                await self._sleep(gap)
                continue
            lane.busy, lane.current = True, snap.id
            ids = {
                "account": lane.account_id,
                "threadId": snap.data.get("threadId"),
                "requestId": snap.id,
            }
            try:
                with bind(**ids):  # on every log line about this item (JSON logs)
                    await self._process(lane, snap)
            except Exception:
                log.exception("outbox item %s: unexpected error", snap.id, extra=ids)
            finally:
                lane.busy, lane.current = False, None
                lane.items.pop(snap.id, None)
                self._held.discard(snap.id)
                self._finished_at[snap.id] = time.monotonic()
                self._finished_wall[snap.id] = self._clock()
                if self._starved:
                    self.wake()

    # ---- one item --------------------------------------------------------------------------

    async def _verdict(self, account_id: str) -> AccountVerdict:
        if not account_id:
            return AccountVerdict("fail", "the outbox item has no accountId")
        if self.transport.is_connected(account_id):
            return ACCOUNT_OK
        if self.accounts is not None and not getattr(self.accounts, "started", True):
            return AccountVerdict("wait", "sessions are still being restored")
        doc = await self._db(self.store.get, paths.account_path(account_id))
        if doc is None:
            return AccountVerdict("fail", f"unknown account {account_id}: no such WhatsApp account")
        status = str(doc.data.get("status") or "unknown")
        if status in DEAD_ACCOUNT_STATUSES:
            return AccountVerdict(
                "fail",
                f"account {account_id} {DEAD_ACCOUNT_STATUSES[status]}; pair it again to send",
            )
        if self.accounts is not None and self.accounts.status_of(account_id) is None:
            return AccountVerdict("defer", f"account {account_id} is not running on this daemon")
        return AccountVerdict("defer", f"account {account_id} is not connected (status {status})")

    def _backoff(self, attempt: int) -> float:
        return backoff_delay(
            attempt,
            initial=self.config.backoff_initial_s,
            maximum=self.config.backoff_max_s,
            rand=self._rand,
        )

    def _park(self, rid: str, thread_id: str, retry_at: datetime | None) -> None:
        """Leave an item alone until `retry_at` (its blocker's retry or lease end), at least
        PARK_MIN_S so a blocker that is due but held elsewhere cannot cause a hot loop, at most
        one poll interval. The change stream unparks it as soon as its thread's blocker settles."""
        seconds = self.config.poll_interval_s
        if retry_at is not None:
            until = (retry_at - self._clock()).total_seconds()
            seconds = min(seconds, max(PARK_MIN_S, until))
        self._parked[rid] = (time.monotonic() + seconds, thread_id)

    async def _process(self, lane: _Lane, snap: Snapshot) -> None:
        rid = snap.id
        data = snap.data
        to_jid = str(data.get("toJid") or "")
        text = str(data.get("body") or (data.get("payload") or {}).get("text") or "")
        verdict = await self._verdict(lane.account_id)
        fence = None
        if self.fences is not None and verdict.kind != "fail":
            # failing an item of an unknown or logged-out account sends nothing: any daemon
            # may; sending, or counting an attempt, is for the lease holder alone
            fence = self.fences(lane.account_id)
            if fence is None:  # not ours: the owner sends it; no attempt is used here
                self.counters.not_owner += 1
                self._park(rid, str(data.get("threadId")), None)
                return
        if verdict.kind == "wait":  # the daemon is starting: try again soon, no attempt used
            self._park(rid, str(data.get("threadId")), self._clock() + timedelta(seconds=1))
            return
        typing = lane.pacer.typing_seconds(text) if verdict.kind == "ok" else 0.0
        if typing > 0:
            await self._presence(lane.account_id, to_jid, True)
            await self._sleep(typing)
            if self.stopping:
                return
        attempt_next = int(data.get("attemptCount") or 0) + 1
        attempt_id = uuid.uuid4().hex
        self._in_flight.add(attempt_id)
        outcome: ClaimOutcome | None = None
        try:
            outcome = await self._db(
                items.claim,
                self.store,
                rid,
                instance_id=self.instance_id,
                now=self._clock(),
                lease_s=self.config.lease_s,
                max_attempts=self.config.max_attempts,
                verdict=verdict,
                backoff_s=self._backoff(attempt_next),
                attempt_id=attempt_id,
                fence=fence,
            )
        finally:
            if not isinstance(outcome, Claimed):
                self._in_flight.discard(attempt_id)
        if isinstance(outcome, Skipped):
            if outcome.reason == "gone":
                self.counters.lost_claims += 1
            elif outcome.reason == "fenced":
                self.counters.fenced += 1
                self._park(rid, str(data.get("threadId")), None)
            else:
                self.counters.blocked += 1
                self._park(rid, str(data.get("threadId")), outcome.retry_at)
            return
        if isinstance(outcome, Failed):
            self._count(lane.account_id, "failed")
            log.warning("outbox item %s failed: %s", rid, outcome.error)
            return
        if isinstance(outcome, Deferred):
            if outcome.failed:
                self._count(lane.account_id, "failed")
            else:
                self.counters.deferred += 1
                self._wake_at(outcome.next_attempt_at)
            return
        assert isinstance(outcome, Claimed)
        await self._send(lane, outcome, to_jid, text, data)
        if typing > 0:
            await self._presence(lane.account_id, to_jid, False)

    async def _presence(self, account_id: str, to_jid: str, composing: bool) -> None:
        try:
            await self.transport.send_presence(account_id, to_jid, composing)
        except Exception as exc:  # best effort: a typing indicator never blocks a send
            log.debug("presence for %s failed: %s", account_id, exc)

    async def _send(
        self, lane: _Lane, claimed: Claimed, to_jid: str, text: str, item: Any = None
    ) -> None:
        rid, attempt_id = claimed.request_id, claimed.attempt_id
        lane.pacer.record_send(to_jid, time.monotonic())
        renew = asyncio.create_task(self._renew_lease(rid, attempt_id))
        try:
            try:
                result = await send_item(self.transport, lane.account_id, to_jid, text, item or {})
            except TransportError as exc:
                if items.is_ambiguous_send_error(exc):
                    error = f"{items.UNKNOWN_STATE_ERROR} ({exc})"
                    await self._db(
                        items.fail_unknown_state, self.store, rid, attempt_id, error,
                        now=self._clock(),
                    )  # fmt: skip
                    self._count(lane.account_id, "failed")
                    return
                retryable = exc.retryable or isinstance(exc, NotConnected)
                code = getattr(exc, "code", None)  # Cloud API sends: the stable code leads
                lead = isinstance(code, str) and str(exc).startswith(code)
                error = str(exc) if lead else f"{type(exc).__name__}: {exc}"
                await self._requeue(claimed, error, retryable, code if lead else None)
                return
            except asyncio.CancelledError:
                raise  # the lease lapses; the sweep marks it failed (never resent)
            except Exception as exc:
                log.exception("outbox item %s: transport raised unexpectedly", rid)
                error = f"{items.UNKNOWN_STATE_ERROR} ({type(exc).__name__})"
                await self._db(
                    items.fail_unknown_state, self.store, rid, attempt_id, error, now=self._clock()
                )
                self._count(lane.account_id, "failed")
                return
            await self._record(lane.account_id, rid, attempt_id, result)
        finally:
            renew.cancel()
            self._in_flight.discard(attempt_id)

    async def _requeue(
        self, claimed: Claimed, error: str, retryable: bool, code: str | None = None
    ) -> None:
        backoff = self._backoff(claimed.attempt)
        failed = await self._db(
            items.requeue_after_error,
            self.store,
            claimed.request_id,
            claimed.attempt_id,
            error,
            now=self._clock(),
            retryable=retryable,
            max_attempts=self.config.max_attempts,
            backoff_s=backoff,
            error_code=code,
        )
        if failed:
            self._count(str(claimed.data.get("accountId") or ""), "failed")
            log.warning("outbox item %s failed: %s", claimed.request_id, error)
        else:
            self.counters.requeued += 1
            self._wake_later(backoff)

    async def _record(self, account_id: str, rid: str, attempt_id: str, result: SendResult) -> None:
        for attempt in range(RECORD_RETRIES):
            try:
                await self._db(
                    items.record_sent, self.store, rid, attempt_id, result, now=self._clock()
                )
                self._count(account_id, "sent")
                log.info("outbox item sent")  # its ids are the line's fields (bound per item)
                return
            except Exception:
                log.exception("outbox item %s sent but not recorded (try %d)", rid, attempt + 1)
                await asyncio.sleep(0.2 * 2**attempt)
        # Sent, yet unrecorded: the lease lapses and the sweep marks it failed; never resent.

    async def _renew_lease(self, rid: str, attempt_id: str) -> None:
        interval = self.config.lease_s / 3
        while True:
            await asyncio.sleep(interval)
            try:
                ok = await self._db(
                    items.renew_lease,
                    self.store,
                    rid,
                    attempt_id,
                    now=self._clock(),
                    lease_s=self.config.lease_s,
                )
            except Exception:
                log.exception("outbox item %s: lease renewal failed", rid)
                continue
            if not ok:
                log.warning("outbox item %s: lease lost while sending", rid)
                return
