"""Coalesce inbound messages into one push per thread per short window, off the inbound path.

`offer` is what the inbound writer calls after it created a message document: it is O(1),
never blocks, never raises, and may be called from any thread (the writer runs in one). It
keeps only what a push needs: the newest text per thread and a count. When a thread's window
ends, one delivery task reads the audience (cached), sends one FCM message per device, and
drops the tokens FCM reports dead.

Never pushed: messages from history sync (`source != "live"`), journal replays after a restart
(the message was already pushed, or is old news), the owner's own messages typed on the phone.
A burst beyond `max_threads` waiting threads is dropped and counted rather than grow memory
while FCM is down.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

from session_daemon.push.audience import Audience
from session_daemon.push.fcm import SendOutcome
from session_daemon.push.payload import ThreadPush, fcm_message
from session_daemon.push.tokens import drop_dead_token
from shared.store.port import DocumentStore

__all__ = ["InboundNotice", "PushNotifier", "PushSender"]

log = logging.getLogger(__name__)


class PushSender(Protocol):
    async def send(self, message: dict[str, Any]) -> SendOutcome: ...


@dataclass(frozen=True)
class InboundNotice:
    account_id: str
    thread_id: str
    client_jid: str
    title: str  # the thread's name: displayName, groupSubject, or the phone
    text: str  # what the inbox shows for the message (body or a media placeholder)
    ts_ms: int
    source: Literal["live", "history"] = "live"
    replay: bool = False
    from_me: bool = False


@dataclass
class NotifierStats:
    offered: int = 0
    coalesced: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    pushes: int = 0
    sent: int = 0
    failed: int = 0
    dead_tokens_removed: int = 0
    dropped_overflow: int = 0


@dataclass
class _Pending:
    push: ThreadPush
    newest_ms: int


class PushNotifier:
    def __init__(
        self,
        sender: PushSender,
        audience: Audience,
        store: DocumentStore,
        *,
        window_seconds: float = 3.0,
        max_threads: int = 2000,
        concurrency: int = 4,
        on_token_dropped: Callable[[str], None] | None = None,
    ) -> None:
        self._sender = sender
        self._audience = audience
        self._store = store
        self._window = window_seconds
        self._max_threads = max_threads
        self._slots = asyncio.Semaphore(concurrency)
        self._on_token_dropped = on_token_dropped
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._pending: dict[str, _Pending] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.stats = NotifierStats()

    def start(self) -> None:
        """Bind to the running loop (call from it)."""
        self._loop = asyncio.get_running_loop()

    def _skip(self, why: str) -> None:
        self.stats.skipped[why] = self.stats.skipped.get(why, 0) + 1

    def offer(self, notice: InboundNotice) -> bool:
        """Take a created message into its thread's next push; False when it never pushes."""
        try:
            return self._offer(notice)
        except Exception:  # a push is never worth failing the inbound writer
            log.exception("push offer failed")
            return False

    def _offer(self, notice: InboundNotice) -> bool:
        with self._lock:
            self.stats.offered += 1
            if notice.source != "live":
                self._skip("history")
                return False
            if notice.replay:
                self._skip("replay")
                return False
            if notice.from_me:
                self._skip("from_me")
                return False
            if self._loop is None or self._loop.is_closed():
                self._skip("not_started")
                return False
            current = self._pending.get(notice.thread_id)
            if current is None:
                if len(self._pending) >= self._max_threads:
                    self.stats.dropped_overflow += 1
                    return False
                push = ThreadPush(
                    notice.account_id,
                    notice.thread_id,
                    notice.client_jid,
                    notice.title,
                    notice.text,
                )
                self._pending[notice.thread_id] = _Pending(push, notice.ts_ms)
                first = True
            else:
                self.stats.coalesced += 1
                newer = notice.ts_ms >= current.newest_ms
                current.push = replace(
                    current.push,
                    count=current.push.count + 1,
                    text=notice.text if newer else current.push.text,
                    title=notice.title or current.push.title,
                )
                current.newest_ms = max(current.newest_ms, notice.ts_ms)
                first = False
        if first:
            self._loop.call_soon_threadsafe(self._arm, notice.thread_id)
        return True

    def _arm(self, thread_id: str) -> None:
        assert self._loop is not None
        self._timers[thread_id] = self._loop.call_later(self._window, self._due, thread_id)

    def _due(self, thread_id: str) -> None:
        self._timers.pop(thread_id, None)
        with self._lock:
            pending = self._pending.pop(thread_id, None)
        if pending is None:
            return
        task = asyncio.get_running_loop().create_task(self._deliver(pending.push))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, push: ThreadPush) -> None:
        async with self._slots:
            try:
                recipients = await asyncio.to_thread(self._audience, push.account_id)
            except Exception as exc:
                log.warning("push audience unavailable: %s", type(exc).__name__)
                self.stats.failed += 1
                return
            self.stats.pushes += 1
            for recipient in recipients:
                outcome = await self._sender.send(fcm_message(push, recipient.token))
                if outcome.status == "sent":
                    self.stats.sent += 1
                elif outcome.status == "dead_token":
                    await self._drop(recipient.uid, recipient.token)
                else:
                    self.stats.failed += 1

    async def _drop(self, uid: str, token: str) -> None:
        try:
            removed = await asyncio.to_thread(drop_dead_token, self._store, uid, token)
        except Exception as exc:
            log.warning("dead FCM token not removed: %s", type(exc).__name__)
            return
        if removed:
            self.stats.dead_tokens_removed += 1
        if self._on_token_dropped is not None:
            self._on_token_dropped(uid)

    async def flush(self) -> None:
        """Deliver everything waiting now (tests, and a stopping daemon) and wait for it."""
        for timer in list(self._timers.values()):
            timer.cancel()
        self._timers.clear()
        with self._lock:
            waiting = list(self._pending)  # a timer may not be armed yet: take them all
        for thread_id in waiting:
            self._due(thread_id)
        await self.wait_idle()

    async def wait_idle(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self, timeout: float = 5.0) -> None:
        """Send what is waiting (for at most `timeout` seconds), then stop taking offers."""
        try:
            await asyncio.wait_for(self.flush(), timeout)
        except TimeoutError:
            for task in list(self._tasks):
                task.cancel()
        self._loop = None

    def waiting(self) -> int:
        with self._lock:
            return len(self._pending)
