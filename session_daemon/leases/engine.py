"""Acquire, renew, release and hand over account leases, each in one store transaction.

Synchronous (run it off the event loop). The clocks are injected so the rules can be tested
without sleeping: `clock` is wall time (written into the documents, compared across daemons),
`monotonic` is this process's own time, used for the local deadline after which the daemon
stops trusting a lease it could not renew (a paused or partitioned daemon gives up first,
before anyone else may take the lease: the deadline is a margin earlier than the stored expiry).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from session_daemon.leases.record import Lease, last_epoch, lease_doc, parse_lease
from shared.paths import ACCOUNT_LEASES, account_lease_path, check_id
from shared.store.port import Contention, DocumentStore, Transaction, query
from shared.timeutil import utc_now

log = logging.getLogger(__name__)

AcquireKind = Literal["fresh", "takeover", "corrupt", "handover", "reclaim"]


@dataclass(frozen=True)
class Held:
    """A lease this process holds, and when (monotonic) it stops trusting it."""

    lease: Lease
    deadline: float

    @property
    def account_id(self) -> str:
        return self.lease.account_id


@dataclass(frozen=True)
class Acquired:
    held: Held
    kind: AcquireKind  # takeover/corrupt: from a holder that stopped renewing
    previous_holder: str | None


@dataclass(frozen=True)
class Busy:
    holder: str
    expires_in: float


@dataclass(frozen=True)
class Contended:
    """The transaction kept conflicting: nothing is known, try on the next tick."""


AcquireOutcome = Acquired | Busy | Contended


def local_margin(lease_seconds: float) -> float:
    """How much earlier than the stored expiry a holder stops trusting its lease."""
    return min(0.2 * lease_seconds, 3.0)


class LeaseEngine:
    def __init__(
        self,
        store: DocumentStore,
        instance_id: str,
        *,
        lease_seconds: float,
        address: str | None = None,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.instance_id = check_id(instance_id, "instanceId")
        self.lease_seconds = lease_seconds
        self.address = address
        self.clock = clock
        self.monotonic = monotonic

    # -- reads

    def read_all(self) -> dict[str, Lease | None]:
        """Every lease document: account id -> its lease, None when expired-equivalent (corrupt).
        Expired leases are returned as they are; callers compare with the time."""
        now = self.clock()
        return {
            snap.id: parse_lease(snap.id, snap.data, now=now)
            for snap in self.store.query(query(ACCOUNT_LEASES))
        }

    # -- writes

    def _new_lease(self, account_id: str, epoch: int, now: datetime, holder: str) -> Lease:
        return Lease(
            account_id=account_id,
            holder=holder,
            epoch=epoch,
            token=uuid.uuid4().hex,
            acquired_at=now,
            renewed_at=now,
            expires_at=now + timedelta(seconds=self.lease_seconds),
            lease_seconds=self.lease_seconds,
            holder_address=self.address if holder == self.instance_id else None,
        )

    def _held(self, lease: Lease, started: float) -> Held:
        return Held(lease, started + self.lease_seconds - local_margin(self.lease_seconds))

    def acquire(self, account_id: str) -> AcquireOutcome:
        """Take the lease when it is free (missing, expired, released, corrupt) or already names
        this instance (handed over to it, or held by its previous life): always a new epoch and
        token, so whatever an earlier holder still carries is fenced out."""
        path = account_lease_path(account_id)
        started, now = self.monotonic(), self.clock()

        def run(tx: Transaction) -> AcquireOutcome | tuple[Lease, AcquireKind, str | None]:
            snap = tx.get(path)
            raw = snap.data if snap is not None else None
            current = parse_lease(account_id, raw, now=now)
            if current is not None and current.live(now) and current.holder != self.instance_id:
                return Busy(current.holder, current.expires_in(now))
            kind: AcquireKind
            if snap is None:
                kind = "fresh"
            elif current is None:
                kind = "corrupt"
            elif current.holder == self.instance_id:
                kind = "handover" if raw and raw.get("handoverFrom") else "reclaim"
            elif raw and raw.get("releasedAt") is not None:
                kind = "fresh"  # released on purpose (SIGTERM with nobody to hand over to)
            else:
                kind = "takeover"
            previous = current.holder if current is not None else None
            lease = self._new_lease(account_id, last_epoch(raw) + 1, now, self.instance_id)
            tx.set(path, lease_doc(lease, now=now, previous_holder=previous))
            return lease, kind, previous

        try:
            result = self.store.transaction(run)
        except Contention:
            return Contended()
        if isinstance(result, tuple):
            lease, kind, previous = result
            return Acquired(self._held(lease, started), kind, previous)
        return result

    def renew(self, held: Iterable[Held]) -> dict[str, Held | None]:
        """Renew every lease in `held` in one transaction. Each account maps to its renewed
        `Held`, or None when the lease is no longer ours (lost: stop that session). On contention
        nothing is renewed and nothing is known lost: the returned map is empty, and each lease
        lapses at its own local deadline unless a later renewal succeeds."""
        items = {h.account_id: h for h in held}
        if not items:
            return {}
        started, now = self.monotonic(), self.clock()

        def run(tx: Transaction) -> dict[str, Lease | None]:
            out: dict[str, Lease | None] = {}
            for account_id, h in items.items():
                path = account_lease_path(account_id)
                snap = tx.get(path)
                current = parse_lease(account_id, snap.data if snap else None, now=now)
                if (
                    current is None
                    or current.token != h.lease.token
                    or current.holder != self.instance_id
                    or not current.live(now)
                ):
                    out[account_id] = None
                    continue
                renewed = replace(
                    current,
                    renewed_at=now,
                    expires_at=now + timedelta(seconds=self.lease_seconds),
                    lease_seconds=self.lease_seconds,
                    holder_address=self.address,
                )
                out[account_id] = renewed
            for account_id, lease in out.items():  # writes after every read (Firestore's rule)
                if lease is not None:
                    tx.set(account_lease_path(account_id), lease_doc(lease, now=now))
            return out

        try:
            renewed = self.store.transaction(run)
        except Contention:
            log.warning("lease renewal of %d accounts hit contention; retrying", len(items))
            return {}
        return {
            account_id: (self._held(lease, started) if lease is not None else None)
            for account_id, lease in renewed.items()
        }

    def release(self, held: Held) -> bool:
        """Give the lease up now (stopping with nobody to hand over to): anyone may take it at
        once. False when it was no longer ours."""
        return self._give_up(held, to=None, to_address=None)

    def hand_over(self, held: Held, to: str, *, to_address: str | None = None) -> bool:
        """Give the lease to instance `to`: a fresh lease in its name, so nobody else takes it
        meanwhile and `to` adopts it on its next tick with its own epoch and token. The caller
        stops the session first. False when it was no longer ours."""
        return self._give_up(held, to=check_id(to, "instanceId"), to_address=to_address)

    def _give_up(self, held: Held, *, to: str | None, to_address: str | None) -> bool:
        path = account_lease_path(held.account_id)
        now = self.clock()

        def run(tx: Transaction) -> bool:
            snap = tx.get(path)
            raw = snap.data if snap is not None else None
            current = parse_lease(held.account_id, raw, now=now)
            if current is None or current.token != held.lease.token:
                return False
            if to is None:
                gone = replace(
                    current,
                    renewed_at=now - timedelta(seconds=current.lease_seconds),
                    expires_at=now,
                )
                doc = lease_doc(gone, now=now)
                doc["releasedAt"] = now
            else:
                given = replace(
                    self._new_lease(held.account_id, current.epoch + 1, now, to),
                    holder_address=to_address,
                )
                doc = lease_doc(given, now=now, previous_holder=self.instance_id)
                doc["handoverFrom"] = self.instance_id
            tx.set(path, doc)
            return True

        try:
            return self.store.transaction(run)
        except Contention:
            return False


def owners(store: DocumentStore, now: datetime) -> dict[str, tuple[str, datetime]]:
    """Who runs each account now, and since when (its live leases), for the dashboard."""
    out = {}
    for snap in store.query(query(ACCOUNT_LEASES)):
        lease = parse_lease(snap.id, snap.data, now=now)
        if lease is not None and lease.live(now):
            out[snap.id] = (lease.holder, lease.acquired_at)
    return out
