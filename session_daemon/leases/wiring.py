"""Account leases inside the daemon: its identity, its own journal, and the runtime around the
session manager (`session_daemon.app` calls these; nothing here is needed by tests that build
a manager alone).

- `claim_identity(settings)`: the instance id (explicit, or the data folder's first free slot)
  and the daemon's own inbound journal: `INBOUND_JOURNAL_PATH`, else the first journal of the
  data folder no running daemon holds (`inbound-journal.db`, `inbound-journal.1.db`, ...; the
  daemon's own slot first), locked for the process's lifetime, so two daemons never share one.
- `build_runtime(...)`: the coordinator over the store, driving the manager through
  `ManagedSessions`, with the accounts of the store as the set to spread.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

from session_daemon.config import ConfigError, Settings
from session_daemon.leases.coordinator import LeaseCoordinator
from session_daemon.leases.engine import LeaseEngine
from session_daemon.leases.identity import IdentityError, InstanceIdentity, resolve_identity
from session_daemon.leases.instances import InstanceIdInUse, InstanceRegistry
from session_daemon.leases.record import Fence
from session_daemon.leases.runtime import AsyncSessionControl, LeaseRuntime
from session_daemon.sessions.manager import SessionManager
from shared.paths import ACCOUNTS, account_path
from shared.store.port import DocumentStore, query
from shared.timeutil import utc_now


@dataclass
class Identity:
    settings: Settings
    identity: InstanceIdentity
    journal_lock: int

    def close(self) -> None:
        os.close(self.journal_lock)
        self.identity.close()


def claim_identity(settings: Settings) -> Identity:
    try:
        ident = resolve_identity(
            settings.instance_id if settings.instance_id_explicit else None, settings.data_dir
        )
    except (IdentityError, OSError, ValueError) as exc:
        raise ConfigError(f"cannot claim an instance id in {settings.data_dir}: {exc}") from None
    if settings.journal_path is not None:  # given explicitly: it must be free
        fd = _lock(settings.journal_path)
        if fd is None:
            ident.close()
            raise ConfigError(
                f"the inbound journal {settings.journal_path} is used by another running "
                "daemon; give each daemon its own INBOUND_JOURNAL_PATH (or WHATSAPP_DATA_PATH)"
            )
        return Identity(replace(settings, instance_id=ident.instance_id), ident, fd)
    # the first journal of the data folder no running daemon has: a daemon's own slot first,
    # so a restarted daemon replays what it journaled itself (any journal replays safely:
    # message creates are idempotent)
    first = ident.slot or 0
    for n in [first, *(k for k in range(_MAX_JOURNALS) if k != first)]:
        journal = settings.data_dir / (
            "inbound-journal.db" if n == 0 else f"inbound-journal.{n}.db"
        )
        fd = _lock(journal)
        if fd is not None:
            settings = replace(settings, instance_id=ident.instance_id, journal_path=journal)
            break
    else:
        ident.close()
        raise ConfigError(f"all {_MAX_JOURNALS} inbound journals of {settings.data_dir} are in use")
    return Identity(settings, ident, fd)


_MAX_JOURNALS = 64


def _lock(journal: Path) -> int | None:
    """Lock `<journal>.lock` for this process's lifetime; None when another process has it."""
    path = journal.with_name(journal.name + ".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


class ManagedSessions:
    """The session manager as the coordinator sees it: start what this daemon now owns (as a
    start-up restore would), release what it gave up or lost."""

    def __init__(self, manager: SessionManager, store: DocumentStore) -> None:
        self.manager = manager
        self.store = store

    async def start_owned(self, account_id: str, fence: Fence) -> None:
        snap = await asyncio.to_thread(self.store.get, account_path(account_id))
        if snap is not None:
            await self.manager.restore_one(account_id, snap.data)

    async def stop_owned(self, account_id: str) -> None:
        await self.manager.release(account_id)


def _host_watch(manager: SessionManager) -> Callable[[str, float, float], None] | None:
    """The session hosts' lease watchdog feed (`HostedTransport.lease_valid_for`), also behind a
    transport that dispatches by account kind (`linked`); None for in-process sessions."""
    transport: Any = manager.transport
    for candidate in (transport, getattr(transport, "linked", None)):
        watch = getattr(candidate, "lease_valid_for", None)
        if callable(watch):
            return cast(Callable[[str, float, float], None], watch)
    return None


def build_runtime(
    settings: Settings,
    store: DocumentStore,
    manager: SessionManager,
    *,
    trusted_local: bool,
) -> LeaseRuntime:
    loop = asyncio.get_running_loop()

    def accounts() -> Sequence[tuple[str, bool]]:
        out = []
        for snap in store.query(query(ACCOUNTS)):
            status = snap.data.get("status")
            if status == "deleted":
                continue
            out.append((snap.id, status == "qr_ready" or manager.is_pairing(snap.id)))
        return out

    engine = LeaseEngine(
        store, settings.instance_id, lease_seconds=settings.lease_seconds, address=settings.address
    )
    registry = InstanceRegistry(
        store,
        settings.instance_id,
        lease_seconds=settings.lease_seconds,
        address=settings.address,
        max_pairings=settings.max_concurrent_pairings,
        clock=utc_now,
    )
    control = AsyncSessionControl(ManagedSessions(manager, store), loop)
    coordinator = LeaseCoordinator(
        engine, registry, control, accounts, max_pairings=settings.max_concurrent_pairings
    )
    runtime = LeaseRuntime(coordinator, trusted_local=trusted_local, watch=_host_watch(manager))
    control.on_stopped = runtime.wake

    async def claim(account_id: str) -> bool:
        return await asyncio.to_thread(coordinator.claim_now, account_id)

    manager.restore_all = False
    manager.claim = claim
    manager.owns = coordinator.holds
    return runtime


async def register(runtime: LeaseRuntime) -> None:
    """Claim the instance id in the store; a live daemon with it is a ConfigError."""
    try:
        await asyncio.to_thread(runtime.coordinator.register, trusted_local=runtime.trusted_local)
    except InstanceIdInUse as exc:
        raise ConfigError(str(exc)) from None
