"""Account lifecycle: create (or revive), delete, and history backfill of an account.

These operations own the `accounts/{accountId}` document; running a session (connecting,
pairing, status events) is the session manager's job, reached only through `SessionControl`,
so the session side can be replaced (supervised session hosts) without touching this module.
Store calls are synchronous: they run in worker threads (`asyncio.to_thread`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from session_daemon.config import Settings
from session_daemon.sessions.accounts import (
    account_id_for_phone,
    account_path,
    new_account_doc,
)
from session_daemon.sessions.errors import (
    AccountLimitReached,
    AccountNotFound,
    BackfillUnsupported,
    NotConnectedError,
)
from session_daemon.transport.port import WhatsAppTransport
from shared import paths
from shared.store.port import AlreadyExists, DocumentStore, NotFound, Transaction, query
from shared.store.sentinels import DELETE_FIELD, SERVER_TIMESTAMP
from shared.timeutil import ensure_utc

log = logging.getLogger(__name__)

BACKFILL_UNSUPPORTED = (
    "Older messages cannot be requested for this account: the WhatsApp library in use "
    "(neonize 0.5.2) has no history request. Messages arrive live and from the phone's history "
    "sync right after pairing."
)


class SessionControl(Protocol):
    """What the account lifecycle needs from whatever runs the sessions."""

    async def open_pairing(self, account_id: str) -> None:
        """Start pairing a new (or revived) account, or leave it `needs_qr` when no pairing
        slot is free."""
        ...

    async def forget(self, account_id: str) -> None:
        """Stop and log out the account's session, drop its state, wipe its session db and
        pairing secrets."""
        ...

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[Any]:
        """Run a background task that ends with the sessions (cancelled on stop)."""
        ...


@dataclass(frozen=True)
class AddResult:
    account_id: str
    data: dict[str, Any]
    created: bool


async def load_account(store: DocumentStore, account_id: str) -> dict[str, Any]:
    """The account document; AccountNotFound when it is missing or deleted."""
    snap = await asyncio.to_thread(store.get, account_path(account_id))
    if snap is None or snap.data.get("status") == "deleted":
        raise AccountNotFound(account_id)
    return snap.data


async def update_account(store: DocumentStore, account_id: str, data: dict[str, Any]) -> None:
    """Update unless the account is gone or deleted (read and write in one transaction, so
    a late session event cannot resurrect a deleted account's status)."""
    path = account_path(account_id)

    def write(tx: Transaction) -> None:
        snap = tx.get(path)
        if snap is not None and snap.data.get("status") != "deleted":
            tx.update(path, data)

    with contextlib.suppress(NotFound):
        await asyncio.to_thread(store.transaction, write)


@dataclass
class _Backfill:
    request_id: str
    task: asyncio.Task[Any]
    started_at: datetime


class AccountLifecycle:
    def __init__(
        self,
        store: DocumentStore,
        transport: WhatsAppTransport,
        settings: Settings,
        sessions: SessionControl,
    ) -> None:
        self.store = store
        self.transport = transport
        self.settings = settings
        self.sessions = sessions
        self._backfills: dict[str, _Backfill] = {}
        self._adds = asyncio.Lock()  # the account cap is checked and used in one step

    async def get_account(self, account_id: str) -> dict[str, Any]:
        return await load_account(self.store, account_id)

    async def add_account(self, name: str, phone_raw: str, phone_e164: str) -> AddResult:
        """Idempotent by phone: the same number returns the existing account (even at the
        cap). A new one beyond `max_accounts` live accounts raises AccountLimitReached."""
        async with self._adds:
            return await self._add_account(name, phone_raw, phone_e164)

    async def _live_accounts(self) -> int:
        docs = await asyncio.to_thread(self.store.query, query(paths.ACCOUNTS))
        return sum(1 for s in docs if s.data.get("status") != "deleted")

    async def _add_account(self, name: str, phone_raw: str, phone_e164: str) -> AddResult:
        existing = await asyncio.to_thread(
            self.store.query, query(paths.ACCOUNTS, where=[("phoneE164", "==", phone_e164)])
        )
        live = [s for s in existing if s.data.get("status") != "deleted"]
        if live:
            return AddResult(live[0].id, live[0].data, created=False)
        if await self._live_accounts() >= self.settings.max_accounts:
            raise AccountLimitReached(self.settings.max_accounts)
        if existing:
            account_id = existing[0].id
            revive = {
                "name": name,
                "phone": phone_raw,
                "status": "connecting",
                "lastError": None,
                "paired": False,
                "kind": DELETE_FIELD,  # added again as a linked device (it may have been cloud)
                "deletedAt": DELETE_FIELD,
                "updatedAt": SERVER_TIMESTAMP,
            }
            await asyncio.to_thread(self.store.update, account_path(account_id), revive)
        else:
            account_id = account_id_for_phone(phone_e164)
            try:
                await asyncio.to_thread(
                    self.store.create,
                    account_path(account_id),
                    new_account_doc(name, phone_raw, phone_e164),
                )
            except AlreadyExists:
                data = await self.get_account(account_id)
                return AddResult(account_id, data, created=False)
        await self.sessions.open_pairing(account_id)
        data = await self.get_account(account_id)
        return AddResult(account_id, data, created=True)

    async def delete_account(self, account_id: str) -> bool:
        """Stop and unlink the session, wipe its session db, mark the account `deleted`.
        Threads and messages are never touched. Returns False when it was already deleted."""
        snap = await asyncio.to_thread(self.store.get, account_path(account_id))
        if snap is None:
            raise AccountNotFound(account_id)
        backfill = self._backfills.pop(account_id, None)
        if backfill is not None:
            backfill.task.cancel()
        await self.sessions.forget(account_id)
        if snap.data.get("status") == "deleted":
            return False
        await asyncio.to_thread(
            self.store.update,
            account_path(account_id),
            {
                "status": "deleted",
                "paired": False,
                "lastError": None,
                "deletedAt": SERVER_TIMESTAMP,
                "updatedAt": SERVER_TIMESTAMP,
            },
        )
        return True

    async def backfill(self, account_id: str) -> tuple[str, bool]:
        """Ask the phone for older messages of the most recent threads (they arrive as history
        sync and take the inbound path). Returns (requestId, already_running).

        Idempotent: while a run is going, and for `backfill_cooldown_seconds` after it started,
        a repeat gets that run's requestId and `already_running` (never an error: the app
        retries). The last run is also read from the account document, so a restart or
        another daemon keeps the cooldown."""
        data = await self.get_account(account_id)
        # Before anything else: the app retries every non-auth error, so an account that can
        # never backfill must get the same answer whatever its state.
        if not getattr(self.transport, "supports_history_requests", True):
            raise BackfillUnsupported(BACKFILL_UNSUPPORTED)
        running = self._backfills.get(account_id)
        if running is not None and not running.task.done():
            return running.request_id, True
        recent = self._recent_backfill(running, data)
        if recent is not None:
            return recent, True
        if not self.transport.is_connected(account_id):
            raise NotConnectedError(f"account {account_id} is not connected")
        request_id = uuid.uuid4().hex
        task = self.sessions.spawn(self._run_backfill(account_id, request_id))
        self._backfills[account_id] = _Backfill(request_id, task, datetime.now(UTC))
        return request_id, False

    def _recent_backfill(self, last: _Backfill | None, data: dict[str, Any]) -> str | None:
        """The requestId of a backfill started (or, from the account document, finished) less
        than the cooldown ago, else None."""
        now = datetime.now(UTC)
        runs: list[tuple[object, object]] = [
            (data.get("lastBackfillAt"), data.get("lastBackfillRequestId"))
        ]
        if last is not None:
            runs.insert(0, (last.started_at, last.request_id))
        for at, request_id in runs:
            if (
                isinstance(at, datetime)
                and isinstance(request_id, str)
                and request_id
                and (now - ensure_utc(at)).total_seconds() < self.settings.backfill_cooldown_seconds
            ):
                return request_id
        return None

    async def _run_backfill(self, account_id: str, request_id: str) -> None:
        threads = await asyncio.to_thread(
            self.store.query,
            query(
                paths.THREADS,
                where=[("accountId", "==", account_id)],
                order_by=[("lastMessageAt", "desc")],
                limit=self.settings.backfill_threads * 2,
            ),
        )
        asked = 0
        for snap in threads:
            if asked >= self.settings.backfill_threads:
                break
            jid = snap.data.get("clientJid")
            if (
                not isinstance(jid, str)
                or snap.data.get("redirectTo")
                or "@s.whatsapp.net" not in jid
            ):
                continue
            try:
                await self.transport.request_history(account_id, jid, self.settings.backfill_count)
                asked += 1
            except Exception as exc:
                log.warning("%s: backfill of %s failed: %s", account_id, jid, exc)
        await update_account(
            self.store,
            account_id,
            {
                "lastBackfillAt": SERVER_TIMESTAMP,
                "lastBackfillRequestId": request_id,
                "lastBackfillThreads": asked,
            },
        )
