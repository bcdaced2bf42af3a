"""Sends running broadcasts, one recipient at a time, on the daemon that holds the account.

For each recipient in order: queue its outbox item (the outbox worker paces it like any send),
wait until the item is `sent` or `failed`, then wait the broadcast gap before the next one.
A failed item whose account is now logged out, banned or deleted (or, on the Cloud API, whose
token or number was refused) stops the broadcast, also while an item waits: the recipients not
yet queued become `skipped`. Any other failure is that recipient's alone.

Restart and failover: a recipient already `queued` is waited for, never queued again (its
request id is derived from the broadcast id and its index); the gap is waited again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from session_daemon.autoreply.broadcast import (
    FINAL,
    queue_recipient,
    stop_reason,
    update_recipient,
)
from shared.outbox import SendRejected
from shared.paths import BROADCASTS, account_path, broadcast_path, outbox_path
from shared.store.port import DocumentStore, query

log = logging.getLogger(__name__)


class BroadcastRunner:
    def __init__(
        self,
        store: DocumentStore,
        *,
        owns: Callable[[str], bool],
        wake: Callable[[], None],
        poll_s: float = 0.5,
        scan_s: float = 10.0,
    ) -> None:
        self.store = store
        self.owns = owns
        self.wake = wake
        self.poll_s = poll_s
        self.scan_s = scan_s
        self._tasks: dict[str, asyncio.Task[None]] = {}  # account id -> its running broadcast
        self._kick: asyncio.Event | None = None
        self._main: asyncio.Task[None] | None = None
        self._stopping = False

    async def _db(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(fn, *args, **kwargs)

    def start(self) -> None:
        self._kick = asyncio.Event()
        self._main = asyncio.create_task(self._scan_loop(), name="broadcasts")

    def kick(self) -> None:
        """A broadcast was created: look now (call on the event loop)."""
        if self._kick is not None:
            self._kick.set()

    async def stop(self) -> None:
        self._stopping = True
        tasks = [t for t in [self._main, *self._tasks.values()] if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def stats(self) -> dict[str, Any]:
        return {"running": sorted(self._tasks)}

    async def _scan_loop(self) -> None:
        assert self._kick is not None
        while not self._stopping:
            try:
                await self.scan()
            except Exception:
                log.exception("broadcast scan failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), self.scan_s)
            self._kick.clear()

    async def scan(self) -> None:
        """Start the first running broadcast of every account this daemon holds and that has
        none in progress here."""
        running = await self._db(
            self.store.query, query(BROADCASTS, where=[("status", "==", "running")])
        )
        for snap in sorted(running, key=lambda s: (s.data.get("createdAtMs") or 0, s.id)):
            account = str(snap.data.get("accountId") or "")
            if not account or account in self._tasks or not self.owns(account):
                continue
            task = asyncio.create_task(self._run_guarded(account, snap.id), name=f"bc-{snap.id}")
            self._tasks[account] = task

    async def _run_guarded(self, account: str, broadcast_id: str) -> None:
        try:
            await self.run(broadcast_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("broadcast %s failed; retried on the next scan", broadcast_id)
        finally:
            self._tasks.pop(account, None)
            if not self._stopping:
                self.kick()  # the account's next broadcast, if any

    async def run(self, broadcast_id: str) -> None:
        first = True
        while not self._stopping:
            snap = await self._db(self.store.get, broadcast_path(broadcast_id))
            if snap is None or snap.data.get("status") != "running":
                return
            doc = snap.data
            account = str(doc["accountId"])
            if not self.owns(account):
                return  # the lease moved: the new holder carries on
            recipients = doc.get("recipients") or []
            index = next((i for i, r in enumerate(recipients) if r.get("status") not in FINAL), -1)
            if index < 0:
                await self._db(update_recipient, self.store, broadcast_id, -1, {})
                return
            r = recipients[index]
            rid = r.get("requestId")
            if r.get("status") == "pending":
                if not first:
                    await asyncio.sleep(float(doc.get("gapSeconds") or 0))
                try:
                    rid = await self._db(queue_recipient, self.store, broadcast_id, doc, index)
                except SendRejected as exc:
                    await self._db(
                        update_recipient,
                        self.store,
                        broadcast_id,
                        index,
                        {"status": "failed", "error": exc.code},
                    )
                    first = False
                    continue
                await self._db(
                    update_recipient,
                    self.store,
                    broadcast_id,
                    index,
                    {"status": "queued", "requestId": rid},
                )
                self.wake()
            first = False
            outcome, error = await self._wait(account, str(rid))
            if outcome == "dead":
                await self._db(
                    update_recipient, self.store, broadcast_id, index, {}, stop_reason=error
                )
                log.warning("broadcast %s stopped: %s", broadcast_id, error)
                return
            if outcome == "lost":
                return
            stop = None
            if outcome == "failed":
                stop = await self._dead_reason(account)
            await self._db(
                update_recipient,
                self.store,
                broadcast_id,
                index,
                {"status": outcome, "error": error},
                stop_reason=stop,
            )
            if stop is not None:
                log.warning("broadcast %s stopped: %s", broadcast_id, stop)
                return

    async def _dead_reason(self, account: str) -> str | None:
        snap = await self._db(self.store.get, account_path(account))
        return stop_reason(snap.data if snap else None)

    async def _wait(self, account: str, rid: str) -> tuple[str, str | None]:
        """`sent`/`failed` with the item's error, `dead` when the account can no longer send
        while the item waits, `lost` when the lease moved."""
        while not self._stopping:
            item = await self._db(self.store.get, outbox_path(rid))
            status = item.data.get("status") if item else None
            if status == "sent":
                return "sent", None
            if status == "failed":
                return "failed", str(item.data.get("lastError") or "failed") if item else None
            dead = await self._dead_reason(account)
            if dead is not None:
                return "dead", dead
            if not self.owns(account):
                return "lost", None
            await asyncio.sleep(self.poll_s)
        return "lost", None
