"""The store reads behind `recipients.select_recipients`, cached for a short while.

One query (`users where notificationsEnabled == true`), the staff profiles of those users, the
admin-only list, and (only when some account is admin-only) the Auth lookup of super-admins.
A push is coalesced per thread, but 30 busy numbers still make many pushes a minute: the
audience is read at most once per `ttl_seconds`, so a user who turns notifications on or off
is honoured within that time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from session_daemon.push.recipients import AdminDirectory, Recipient, select_recipients
from shared import paths
from shared.identity import admin_only_account_ids
from shared.store.port import DocumentStore, query

__all__ = ["Audience", "StoreAudience"]

Audience = Callable[[str], list[Recipient]]
"""account id → recipients (blocking)."""


@dataclass(frozen=True)
class _Snapshot:
    users: Mapping[str, Mapping[str, Any]]
    staff: frozenset[str]
    admins: frozenset[str]
    admin_only: frozenset[str]
    read_at: float


class StoreAudience:
    def __init__(
        self,
        store: DocumentStore,
        directory: AdminDirectory | None,
        *,
        ttl_seconds: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._directory = directory
        self._ttl = ttl_seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None

    def _read(self) -> _Snapshot:
        users = {
            paths.doc_id(snap.path): snap.data
            for snap in self._store.query(
                query(paths.USERS, where=[("notificationsEnabled", "==", True)])
            )
        }
        uids = sorted(users)
        profiles = self._store.get_many([paths.staff_profile_path(uid) for uid in uids])
        staff = frozenset(uid for uid, snap in zip(uids, profiles, strict=True) if snap)
        admin_only = admin_only_account_ids(self._store)  # the rule's one copy
        # Auth is asked only when it matters: some account is admin-only, or a token holder
        # has no staff profile (a super-admin by email or claim may have none).
        needs_auth = bool(admin_only) or any(uid not in staff for uid in uids)
        admins: frozenset[str] = frozenset()
        if self._directory is not None and needs_auth and uids:
            admins = self._directory.super_admins(uids)
        return _Snapshot(users, staff, admins, admin_only, self._monotonic())

    def __call__(self, account_id: str) -> list[Recipient]:
        with self._lock:
            snap = self._snapshot
            if snap is None or self._monotonic() - snap.read_at >= self._ttl:
                snap = self._snapshot = self._read()
        return select_recipients(
            account_id,
            users=snap.users,
            staff_uids=snap.staff,
            super_admin_uids=snap.admins,
            admin_only_account_ids=snap.admin_only,
        )

    def forget(self, uid: str) -> None:
        """Drop the cached audience after a token was removed, so it is not pushed to again."""
        with self._lock:
            if self._snapshot is not None and uid in self._snapshot.users:
                self._snapshot = None
