"""Keeps `phoneLastSeenAt` and `phoneOfflineWarning` on account documents (rules: phone_presence).

`seen()` is called from transport threads for every event that proves the phone was online; it
only notes the time. `check()` (hourly, and from tests with an injected clock) writes what
changed: at most one write per account per check, none when nothing changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterable
from datetime import datetime

from session_daemon.sessions.accounts import account_path
from session_daemon.sessions.phone_presence import phone_warning
from shared.store.port import DocumentStore, NotFound

CHECK_INTERVAL_SECONDS = 3600.0


class PhoneWatch:
    def __init__(self, store: DocumentStore, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: dict[str, datetime] = {}

    def seen(self, account_id: str) -> None:
        with self._lock:
            self._seen[account_id] = self._clock()

    async def check(self, account_ids: Iterable[str]) -> None:
        now = self._clock()
        with self._lock:
            seen, self._seen = self._seen, {}
        for account_id in account_ids:
            await asyncio.to_thread(self._check_one, account_id, seen.get(account_id), now)

    def _check_one(self, account_id: str, seen: datetime | None, now: datetime) -> None:
        snap = self._store.get(account_path(account_id))
        if snap is None or snap.data.get("status") == "deleted":
            return
        stored = snap.data.get("phoneLastSeenAt")
        last = stored if isinstance(stored, datetime) else None
        if seen is not None and (last is None or seen > last):
            last = seen
        warning = phone_warning(last, now)
        update: dict[str, object] = {}
        if last is not None and last != stored:
            update["phoneLastSeenAt"] = last
        if warning != snap.data.get("phoneOfflineWarning"):
            update["phoneOfflineWarning"] = warning
        if update:
            with contextlib.suppress(NotFound):
                self._store.update(account_path(account_id), update)

    async def run(self, account_ids: Callable[[], Iterable[str]]) -> None:
        while True:
            await asyncio.sleep(CHECK_INTERVAL_SECONDS)
            await self.check(list(account_ids()))
