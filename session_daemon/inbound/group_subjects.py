"""Group subjects from the library's group info: fetched when a group thread has none (the
first messages of a group carry no subject with neonize) and refreshed at most daily, so a
renamed group shows its new name.

A listener of the inbound pipeline's created messages, like the media service: it schedules a
task on the event loop and returns at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Final

from session_daemon.inbound.groups import group_thread_patch
from session_daemon.inbound.pipeline import CreatedMessage
from shared.paths import thread_path
from shared.store.port import DocumentStore
from shared.timeutil import ensure_utc, utc_now

__all__ = ["GroupSubjects"]

log = logging.getLogger(__name__)

REFRESH_EVERY: Final = timedelta(days=1)
SubjectLookup = Callable[[str, str], Any]  # (account id, group JID) -> awaitable str | None


def subject_due(thread: dict[str, Any], now: datetime) -> bool:
    if not thread.get("isGroup") and not str(thread.get("clientJid") or "").endswith("@g.us"):
        return False
    checked = thread.get("groupSubjectCheckedAt")
    if not thread.get("groupSubject") or not isinstance(checked, datetime):
        return True
    return ensure_utc(now) - ensure_utc(checked) >= REFRESH_EVERY


class GroupSubjects:
    def __init__(self, store: DocumentStore, lookup: SubjectLookup | None) -> None:
        self._store = store
        self._lookup = lookup
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inflight: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._loop = None

    def on_created(self, created: list[CreatedMessage]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed() or self._lookup is None:
            return
        for item in created:
            if subject_due(item.thread, utc_now()):
                loop.call_soon_threadsafe(self._schedule, item)

    def _schedule(self, item: CreatedMessage) -> None:
        if item.thread_id in self._inflight:
            return
        self._inflight.add(item.thread_id)
        task = asyncio.get_running_loop().create_task(self._refresh(item))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _refresh(self, item: CreatedMessage) -> None:
        assert self._lookup is not None
        group_jid = str(item.thread.get("clientJid") or "")
        try:
            subject = await self._lookup(item.record.account_id, group_jid)
        except Exception as exc:  # tried again with the next message
            log.info("group subject not fetched: %s", type(exc).__name__)
            return
        finally:
            self._inflight.discard(item.thread_id)
        path = thread_path(item.thread_id)
        current = await asyncio.to_thread(self._store.get, path)
        patch = group_thread_patch(current.data if current else None, group_jid, subject) or {}
        patch.pop("clientJid", None)
        patch["groupSubjectCheckedAt"] = utc_now()
        await asyncio.to_thread(self._store.update, path, patch)
