"""The session manager: one WhatsApp session per account, started and stopped one at a time.

It runs sessions; account create/delete and backfill live in `account_lifecycle`
(`AccountLifecycle`), which reaches the sessions only through `SessionControl` (`open_pairing`,
`forget`, `spawn`). The manager is also the one object the HTTP layer talks to, so it forwards
those account operations to `self.accounts`.

- Status events from the transport go through one ordered queue consumed on the event loop;
  message, history and receipt events go straight to the inbound pipeline from the transport's
  thread (its `submit` returns once the event is journalled, which is the acknowledgement).
- Every session start gets a new generation number; events and stop requests of an older
  generation are ignored, so a late QR of a cancelled pairing cannot overwrite a newer state.
- Store calls are synchronous: they run in worker threads (`asyncio.to_thread`).

Per-account state lives here only (not in the HTTP layer), so lease-based ownership hooks in
here: with account leases (`session_daemon.leases`) start-up restores nothing, the coordinator
calls `restore_one` for each account it acquires and `release` for each it gives up or loses,
`claim` takes a new account's lease before its pairing, and `owns` drops late events of a lost one.

Size (over 600 lines): the per-account state machine and its lease hooks share the private state
(states, generations, per-account locks); splitting them would expose that state to another module.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from session_daemon.config import Settings
from session_daemon.logs import bind
from session_daemon.sessions.account_lifecycle import (
    AccountLifecycle,
    AddResult,
    load_account,
    update_account,
)
from session_daemon.sessions.backoff import backoff_delay
from session_daemon.sessions.errors import (
    AlreadyConnected,
    NotConnectedError,
    PairingUnavailable,
)
from session_daemon.sessions.pg_sessions import SessionServerError
from session_daemon.sessions.phone_presence import is_phone_activity
from session_daemon.sessions.phone_watch import PhoneWatch
from session_daemon.sessions.secrets import SecretsStore
from session_daemon.sessions.session_db import session_locations
from session_daemon.sessions.status import NO_AUTO_RETRY, Transition, should_restore, transition_for
from session_daemon.transport.port import (
    Connected,
    EventSink,
    HistorySyncChunk,
    MessageReceived,
    PairingCode,
    QrCode,
    QrTimeout,
    ReceiptReceived,
    TemporaryBan,
    TransportEvent,
    WhatsAppTransport,
)
from shared import paths
from shared.store.port import DocumentStore, query
from shared.store.sentinels import SERVER_TIMESTAMP

log = logging.getLogger(__name__)

INBOUND_EVENTS = (MessageReceived, HistorySyncChunk, ReceiptReceived)
PAIRING_START_ATTEMPTS = 3


class InboundSink(Protocol):
    """What the manager needs from the inbound pipeline."""

    def submit(self, event: TransportEvent) -> None: ...


@dataclass
class SessionState:
    account_id: str
    generation: int = 0
    status: str = "disconnected"
    running: bool = False
    pairing: bool = False
    pairing_started_at: datetime | None = None
    pairing_request_id: str | None = None
    last_regenerate_at: datetime | None = None
    first_qr: asyncio.Event = field(default_factory=asyncio.Event)
    start_task: asyncio.Task[None] | None = None
    timer_task: asyncio.Task[None] | None = None
    connect_attempts: int = 0
    restarts: int = 0  # restarts after a failure since the last Connected (the backoff step)


RegenerateKind = Literal["started", "reconnecting", "already_in_progress"]


@dataclass(frozen=True)
class RegenerateResult:
    kind: RegenerateKind
    request_id: str


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SessionManager:
    def __init__(
        self,
        store: DocumentStore,
        transport: WhatsAppTransport,
        settings: Settings,
        inbound: InboundSink,
        *,
        clock: Callable[[], datetime] = _utc_now,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.store = store
        self.transport = transport
        self.settings = settings
        self.inbound = inbound
        self.secrets = SecretsStore(store)
        self.sessions = session_locations(settings)  # the sessions folder, or postgres://
        self._cloud: set[str] = set()  # Cloud API accounts restored here (no session database)
        self._clock = clock
        self._rand = rand
        self._states: dict[str, SessionState] = {}
        self._generations = itertools.count(1)  # global: a re-added account never reuses one
        # One lock per account, never one for all: a start or stop can wait on the network for
        # a minute, and other accounts must not wait with it. (The in-process neonize transport
        # serialises its own Go calls; session hosts are separate processes.)
        self._account_ops: dict[str, asyncio.Lock] = {}
        self._events: asyncio.Queue[tuple[int, TransportEvent]] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._consumer: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.started = False
        # False with account leases: start-up restores nothing, the lease coordinator asks for
        # each account it owns (restore_one) and gives up the ones it loses (release)
        self.restore_all = True
        self.claim: Callable[[str], Awaitable[bool]] | None = None
        self.owns: Callable[[str], bool] | None = None
        # told each account's document before it is restored (the Cloud API's kind cache)
        self.on_restore: Callable[[str, dict[str, Any]], None] | None = None
        self.event_counts: dict[str, int] = {}
        # told of each status event this daemon applies (per-number metrics: reconnects)
        self.status_listeners: list[Callable[[TransportEvent], None]] = []
        self.accounts = AccountLifecycle(store, transport, settings, self)
        self.phones = PhoneWatch(store, clock)  # phoneLastSeenAt and the 12-day warning

    # ---- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._consumer = asyncio.create_task(self._consume(), name="session-status-events")
        self.spawn(self.phones.run(lambda: list(self._states)))
        await self._restore()
        self.started = True

    async def stop(self) -> None:
        """Stop every session (each under its own lock); threads and account documents stay."""
        self.started = False
        for state in list(self._states.values()):
            self._cancel_tasks(state)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(
            *(self._stop_for_shutdown(s) for s in list(self._states.values()) if s.running)
        )
        if self._consumer is not None:
            # let already-queued status events land before leaving
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._events.join(), timeout=5)
            self._consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._consumer

    async def _restore(self) -> None:
        if not self.restore_all:
            return  # the lease coordinator restores each account it owns (restore_one)
        docs = await asyncio.to_thread(self.store.query, query(paths.ACCOUNTS))
        for snap in docs:
            await self.restore_one(snap.id, snap.data)

    async def restore_one(
        self, account_id: str, data: dict[str, Any], *, claim: bool = False
    ) -> None:
        """Resume one account's session as at start-up (or mark an interrupted pairing).
        `claim`: take the account's free lease first (a cloud account just registered)."""
        status = data.get("status")
        if self.on_restore is not None:
            self.on_restore(account_id, data)  # the transport learns the account's kind
        if status == "deleted":
            return
        if claim:
            await self._ensure_owned(account_id)
        await asyncio.to_thread(self.secrets.clear, account_id)
        state = self._state(account_id)
        state.status = str(status)
        if data.get("kind") == "cloud":  # no session database, no QR: Meta hosts the number
            self._cloud.add(account_id)
            await self._write_status(account_id, "connecting", None)
            state.status = "connecting"
            self._launch_start(state, paired=True)
            return
        self._cloud.discard(account_id)
        stored = await asyncio.to_thread(self._stored_session, account_id)
        if should_restore(data, self._clock(), stored):
            log.info("restoring session of %s", account_id)
            await self._write_status(account_id, "connecting", None)
            state.status = "connecting"
            self._launch_start(state, paired=True)
        elif not data.get("paired") and status in ("connecting", "qr_ready"):
            await self._write_status(
                account_id, "needs_qr", "the daemon restarted during pairing; regenerate the QR"
            )
            state.status = "needs_qr"

    async def release(self, account_id: str) -> None:
        """Stop running this account here (its lease moves to another daemon): the session
        stops without logging out, late events of it are dropped, and the account is no longer
        this daemon's (`status_of` is None). Its documents and session database stay."""
        state = self._states.pop(account_id, None)
        if state is None:
            return
        self._cancel_tasks(state)
        state.generation = next(self._generations)
        if state.pairing:
            self._finish_pairing(state)
        # stopped even when not marked running: a start cancelled midway may have left one
        async with self._ops(account_id):
            await self._transport_stop(account_id, logout=False)
        state.running = False

    # ---- transport events ---------------------------------------------------------------------

    def sink_for(self, account_id: str, generation: int) -> EventSink:
        """The sink one session start hands to the transport (thread-safe)."""

        def sink(event: TransportEvent) -> None:
            name = type(event).__name__
            self.event_counts[name] = self.event_counts.get(name, 0) + 1
            if is_phone_activity(event):
                self.phones.seen(account_id)
            if isinstance(event, INBOUND_EVENTS):
                self.inbound.submit(event)  # returns once journalled: the acknowledgement
                return
            loop = self._loop
            if loop is None:
                return
            try:
                loop.call_soon_threadsafe(self._events.put_nowait, (generation, event))
            except RuntimeError:  # the loop closed: the daemon is gone, so is the session
                log.debug("dropped %s after shutdown", name)

        return sink

    async def _consume(self) -> None:
        while True:
            generation, event = await self._events.get()
            try:
                await self._apply(generation, event)
            except Exception:
                log.exception("failed to apply %s", type(event).__name__)
            finally:
                self._events.task_done()

    async def _apply(self, generation: int, event: TransportEvent) -> None:
        account_id = event.account_id
        state = self._states.get(account_id)
        if state is None or state.generation != generation:
            return  # a deleted account, or an older session of this account
        if self.owns is not None and not self.owns(account_id):
            # its lease is gone (this daemon was paused or cut off): the account's status is
            # the new owner's to write; the session is being released
            return
        for listen in self.status_listeners:
            try:
                listen(event)
            except Exception:  # a listener never holds up the account's own state
                log.exception("status listener failed on %s", type(event).__name__)
        transition = transition_for(event)
        if transition is None:
            return
        now = self._clock()
        if isinstance(event, Connected):
            state.connect_attempts = 0
            state.restarts = 0
            state.last_regenerate_at = None  # the cooldown only damps repeated failed pairings
            transition = Transition(
                status="connected",
                last_error=None,
                set_last_error=True,
                pairing_finished=state.pairing,
                fields={"paired": True, "lastConnectedAt": now},
            )
        if transition.pairing_finished:
            self._finish_pairing(state)
        # status first, then the QR: whoever sees a QR also sees `qr_ready`
        repeated_qr = transition.status == "qr_ready" == state.status
        if transition.status is not None and not repeated_qr:
            await self._write_transition(account_id, transition)
            state.status = transition.status
        if isinstance(event, QrCode):
            await asyncio.to_thread(self.secrets.set_qr, account_id, event.code, now)
            state.first_qr.set()
        elif isinstance(event, PairingCode):
            await asyncio.to_thread(self.secrets.set_pairing_code, account_id, event.code, now)
        elif transition.secrets == "clear":
            await asyncio.to_thread(self.secrets.clear, account_id)
        if transition.restart:
            self.spawn(self._restart_after_failure(state, generation))
        elif transition.stop_session:
            self.spawn(self._stop_session(state, generation))
        if isinstance(event, TemporaryBan) and event.expires_at is not None:
            self.spawn(self._reconnect_after_ban(state, generation, event.expires_at))

    async def _reconnect_after_ban(
        self, state: SessionState, generation: int, expires_at: datetime
    ) -> None:
        """A temporary ban ends by itself: reconnect a minute after its expiry."""
        await asyncio.sleep(max(0.0, (expires_at - self._clock()).total_seconds() + 60))
        if state.generation == generation and self.started and state.status == "temporarily_banned":
            self._launch_start(state, paired=True)

    async def _restart_after_failure(self, state: SessionState, generation: int) -> None:
        """Stop what is left of the session, wait a growing backoff, start it again (unless the
        account moved on meanwhile: deleted, re-paired, restarted by hand)."""
        await self._stop_session(state, generation)
        state.restarts += 1
        delay = backoff_delay(
            state.restarts,
            initial=self.settings.connect_backoff_initial,
            maximum=self.settings.connect_backoff_max,
            rand=self._rand,
        )
        retry_at = self._clock() + timedelta(seconds=delay)
        await self._update_account(state.account_id, {"nextRetryAt": retry_at})
        await asyncio.sleep(delay)
        if state.generation == generation and self.started:
            log.info("%s: restarting the session (restart %d)", state.account_id, state.restarts)
            self._launch_start(state, paired=True)

    async def _write_transition(self, account_id: str, transition: Transition) -> None:
        data: dict[str, Any] = {"status": transition.status, "updatedAt": SERVER_TIMESTAMP}
        if transition.set_last_error:
            data["lastError"] = transition.last_error
        data.update(transition.fields)
        await self._update_account(account_id, data)

    async def _write_status(self, account_id: str, status: str, last_error: str | None) -> None:
        await self._update_account(
            account_id, {"status": status, "lastError": last_error, "updatedAt": SERVER_TIMESTAMP}
        )

    async def _update_account(self, account_id: str, data: dict[str, Any]) -> None:
        await update_account(self.store, account_id, data)

    # ---- starting and stopping ----------------------------------------------------------------

    def _state(self, account_id: str) -> SessionState:
        state = self._states.get(account_id)
        if state is None:
            state = self._states[account_id] = SessionState(account_id)
        return state

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _launch_start(self, state: SessionState, *, paired: bool) -> None:
        self._cancel_tasks(state)
        state.generation = next(self._generations)
        state.connect_attempts = 0
        with bind(account=state.account_id):  # the task's log lines name the account
            state.start_task = self.spawn(self._start_with_retry(state, state.generation, paired))

    async def _stop_for_shutdown(self, state: SessionState) -> None:
        async with self._ops(state.account_id):
            await self._transport_stop(state.account_id, logout=False)
        state.running = False

    def _stored_session(self, account_id: str) -> bool:
        """Blocking. A session server that does not answer counts as "stored": the start is
        then retried with backoff, rather than a paired account sent back to pairing."""
        try:
            return self.sessions.exists(account_id)
        except SessionServerError as exc:
            log.warning("%s: cannot look up its stored session (%s)", account_id, exc)
            return True

    def _ops(self, account_id: str) -> asyncio.Lock:
        lock = self._account_ops.get(account_id)
        if lock is None:
            lock = self._account_ops[account_id] = asyncio.Lock()
        return lock

    def _cancel_tasks(self, state: SessionState) -> None:
        for task in (state.start_task, state.timer_task):
            if task is not None and not task.done():
                task.cancel()
        state.start_task = state.timer_task = None

    async def _start_with_retry(self, state: SessionState, generation: int, paired: bool) -> None:
        account_id = state.account_id
        while True:
            state.connect_attempts += 1
            try:
                async with self._ops(account_id):
                    if state.generation != generation:
                        return
                    # a postgres:// location creates the account's database here (a server
                    # that does not answer is retried like a failed connect)
                    db = (  # a cloud number has no session: no database to create for it
                        self.settings.session_db(account_id)
                        if account_id in self._cloud
                        else await asyncio.to_thread(self.sessions.location, account_id)
                    )
                    if state.running:
                        await self._transport_stop(account_id, logout=False)
                        state.running = False
                    await self.transport.start_session(
                        account_id, db, self.sink_for(account_id, generation)
                    )
                    state.running = True
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                attempt = state.connect_attempts
                delay = backoff_delay(
                    attempt,
                    initial=self.settings.connect_backoff_initial,
                    maximum=self.settings.connect_backoff_max,
                    rand=self._rand,
                )
                log.warning("%s: connect attempt %d failed: %s", account_id, attempt, exc)
                if state.generation != generation:
                    return
                message = f"connect failed (attempt {attempt}): {_short(exc)}"
                if not paired and attempt >= PAIRING_START_ATTEMPTS:
                    self._finish_pairing(state)
                    await self._write_status(account_id, "error", message)
                    state.status = "error"
                    return
                retry_at = self._clock() + timedelta(seconds=delay)
                await self._update_account(
                    account_id,
                    {
                        "status": "error",
                        "lastError": message,
                        "nextRetryAt": retry_at,
                        "updatedAt": SERVER_TIMESTAMP,
                    },
                )
                state.status = "error"
                await asyncio.sleep(delay)

    async def _stop_session(
        self, state: SessionState, generation: int | None, *, logout: bool = False
    ) -> None:
        async with self._ops(state.account_id):
            if generation is not None and state.generation != generation:
                return
            if state.running:
                await self._transport_stop(state.account_id, logout=logout)
                state.running = False

    async def _transport_stop(self, account_id: str, *, logout: bool) -> None:
        try:
            await self.transport.stop_session(account_id, logout=logout)
        except Exception as exc:
            log.warning("%s: stop_session failed: %s", account_id, exc)

    # ---- pairing -------------------------------------------------------------------------------

    def pairings_in_progress(self) -> int:
        return sum(1 for s in self._states.values() if s.pairing)

    def _finish_pairing(self, state: SessionState) -> None:
        state.pairing = False
        if state.timer_task is not None and state.timer_task is not asyncio.current_task():
            state.timer_task.cancel()
        state.timer_task = None

    def _retry_after_for_pairing_slot(self) -> int:
        now = self._clock()
        remaining = [
            self.settings.pairing_timeout_seconds - (now - s.pairing_started_at).total_seconds()
            for s in self._states.values()
            if s.pairing and s.pairing_started_at is not None
        ]
        return max(1, int(min(remaining, default=30)) + 1)

    async def _ensure_owned(self, account_id: str) -> None:
        """With account leases, a session starts only under this daemon's lease (a new account's
        free lease is taken here); one owned by another daemon is refused."""
        if self.claim is not None and not await self.claim(account_id):
            raise PairingUnavailable(f"account {account_id} runs on another daemon", 1)

    async def _begin_pairing(self, state: SessionState) -> str:
        """Fresh session db, new generation, QR timer. Caller checked the pairing limit."""
        account_id = state.account_id
        await self._ensure_owned(account_id)
        if self.on_restore is not None:  # pairing means a linked device, whatever it was before
            self.on_restore(account_id, {"status": "connecting"})
        self._cancel_tasks(state)
        async with self._ops(account_id):
            if state.running:
                await self._transport_stop(account_id, logout=False)
                state.running = False
            await asyncio.to_thread(self.sessions.wipe, account_id)
        await asyncio.to_thread(self.secrets.clear, account_id)
        now = self._clock()
        request_id = uuid.uuid4().hex
        state.pairing = True
        state.pairing_started_at = now
        state.pairing_request_id = request_id
        state.last_regenerate_at = now
        state.first_qr = asyncio.Event()
        await self._update_account(
            account_id,
            {
                "status": "connecting",
                "lastError": None,
                "paired": False,
                "pairingRequestId": request_id,
                "updatedAt": SERVER_TIMESTAMP,
            },
        )
        state.status = "connecting"
        self._launch_start(state, paired=False)
        state.timer_task = self.spawn(self._pairing_timer(state, state.generation))
        return request_id

    async def _pairing_timer(self, state: SessionState, generation: int) -> None:
        """whatsmeow never reports a QR timeout to Python: our own timer ends the pairing."""
        await asyncio.sleep(self.settings.pairing_timeout_seconds)
        if state.generation == generation and state.pairing:
            self._events.put_nowait((generation, QrTimeout(state.account_id)))

    def _check_pairing_slot(self, state: SessionState) -> None:
        if state.pairing:
            return
        if self.pairings_in_progress() >= self.settings.max_concurrent_pairings:
            raise PairingUnavailable(
                f"{self.settings.max_concurrent_pairings} pairings already in progress",
                self._retry_after_for_pairing_slot(),
            )

    async def restart_if_running(self, account_id: str) -> bool:
        """Restart a paired account's running session (a new setting such as its proxy applies
        at a session start). A pairing in progress is left alone: it would lose its QR."""
        state = self._states.get(account_id)
        if state is None or state.pairing or not (state.running or state.start_task):
            return False
        await self._write_status(account_id, "connecting", "restarting with new settings")
        state.status = "connecting"
        self._launch_start(state, paired=True)
        return True

    # ---- the seam for the account lifecycle (SessionControl) -----------------------------------

    async def open_pairing(self, account_id: str) -> None:
        state = self._state(account_id)
        try:
            self._check_pairing_slot(state)
        except PairingUnavailable as exc:
            await self._write_status(
                account_id, "needs_qr", f"{exc}; regenerate the QR in {exc.retry_after} s"
            )
            state.status = "needs_qr"
        else:
            await self._begin_pairing(state)

    async def forget(self, account_id: str) -> None:
        state = self._states.pop(account_id, None)
        if state is not None:
            self._cancel_tasks(state)
            state.generation = next(self._generations)  # drop late events of this session
            async with self._ops(account_id):
                if state.running:
                    await self._transport_stop(account_id, logout=True)
        async with self._ops(account_id):
            await asyncio.to_thread(self.sessions.wipe, account_id)
        await asyncio.to_thread(self.secrets.clear, account_id)

    # ---- operations for the HTTP API -----------------------------------------------------------

    async def get_account(self, account_id: str) -> dict[str, Any]:
        return await self.accounts.get_account(account_id)

    async def add_account(self, name: str, phone_raw: str, phone_e164: str) -> AddResult:
        return await self.accounts.add_account(name, phone_raw, phone_e164)

    async def delete_account(self, account_id: str) -> bool:
        return await self.accounts.delete_account(account_id)

    async def backfill(self, account_id: str) -> tuple[str, bool]:
        return await self.accounts.backfill(account_id)

    async def regenerate_qr(self, account_id: str) -> RegenerateResult:
        """New pairing (fresh session db), or a reconnect for a paired account that dropped.

        Raises AccountNotFound, PairingUnavailable (429), AlreadyConnected."""
        data = await load_account(self.store, account_id)
        state = self._state(account_id)
        now = self._clock()
        if state.pairing and state.pairing_request_id:
            return RegenerateResult("already_in_progress", state.pairing_request_id)
        if state.status == "connected" or (state.running and data.get("status") == "connected"):
            raise AlreadyConnected(account_id)
        if state.last_regenerate_at is not None:
            elapsed = (now - state.last_regenerate_at).total_seconds()
            if elapsed < self.settings.regenerate_cooldown_seconds:
                raise PairingUnavailable(
                    "a QR was requested moments ago",
                    max(1, int(self.settings.regenerate_cooldown_seconds - elapsed) + 1),
                )
        resumable = data.get("paired") and data.get("status") not in ("logged_out", "needs_qr")
        if resumable and await asyncio.to_thread(self._stored_session, account_id):
            await self._ensure_owned(account_id)
            state.last_regenerate_at = now
            request_id = uuid.uuid4().hex
            await self._write_status(account_id, "connecting", None)
            state.status = "connecting"
            self._launch_start(state, paired=True)
            return RegenerateResult("reconnecting", request_id)
        self._check_pairing_slot(state)
        request_id = await self._begin_pairing(state)
        return RegenerateResult("started", request_id)

    async def request_pairing_code(self, account_id: str, phone_e164: str | None) -> str:
        data = await load_account(self.store, account_id)
        state = self._state(account_id)
        if state.status == "connected":
            raise AlreadyConnected(account_id)
        if not state.pairing:
            self._check_pairing_slot(state)
            await self._begin_pairing(state)
        try:
            await asyncio.wait_for(state.first_qr.wait(), timeout=20)
        except TimeoutError as exc:
            raise NotConnectedError("the session did not reach the pairing step in time") from exc
        phone = phone_e164 or str(data.get("phoneE164") or "")
        code = await self.transport.request_pairing_code(account_id, phone)
        await asyncio.to_thread(self.secrets.set_pairing_code, account_id, code, self._clock())
        return code

    # ---- views -----------------------------------------------------------------------------------

    def status_of(self, account_id: str) -> str | None:
        state = self._states.get(account_id)
        return state.status if state else None

    def is_pairing(self, account_id: str) -> bool:
        state = self._states.get(account_id)
        return bool(state and state.pairing)

    def summary(self) -> dict[str, Any]:
        by_status: dict[str, int] = {}
        for state in self._states.values():
            by_status[state.status] = by_status.get(state.status, 0) + 1
        return {
            "sessions": len(self._states),
            "running": sum(1 for s in self._states.values() if s.running),
            "pairingsInProgress": self.pairings_in_progress(),
            "maxConcurrentPairings": self.settings.max_concurrent_pairings,
            "byStatus": by_status,
            "transportEvents": dict(self.event_counts),
            "noAutoRetryStatuses": sorted(NO_AUTO_RETRY),
        }


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."
