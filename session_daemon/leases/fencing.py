"""Fencing: a daemon that lost an account's lease may no longer send or act for it.

`check_fence(tx, fence, now)` is called inside the transaction that commits an effect (the
outbox claim that sets the send marker, a session action recorded in the store): it reads the
account's lease in that same transaction, so the effect commits only if the lease is still the
one the caller was given (holder, epoch and token) and unexpired. A paused daemon that wakes up
after another took its accounts over therefore cannot claim a message, whatever its own memory
says. Message *creates* are not fenced: they are idempotent (one document per WhatsApp id), so
what a dead daemon journaled is safely replayed by it later.
"""

from __future__ import annotations

from datetime import datetime

from session_daemon.leases.record import Fence, fence_holds
from shared.paths import account_lease_path
from shared.store.port import Transaction


class Fenced(Exception):
    """The caller's lease on the account is gone (taken over, expired, released or corrupt)."""

    def __init__(self, fence: Fence) -> None:
        super().__init__(
            f"lease on {fence.account_id} (epoch {fence.epoch}) is no longer held by "
            f"{fence.holder}: refusing to act for it"
        )
        self.fence = fence


def check_fence(tx: Transaction, fence: Fence, *, now: datetime) -> None:
    """Raise Fenced unless the lease read in `tx` is still `fence`, unexpired at `now`. Raising
    inside a store transaction rolls the whole transaction back: nothing it wrote commits."""
    snap = tx.get(account_lease_path(fence.account_id))
    if not fence_holds(snap.data if snap is not None else None, fence, now=now):
        raise Fenced(fence)


def fence_is_held(tx: Transaction, fence: Fence, *, now: datetime) -> bool:
    """`check_fence` as a boolean, for transactions that record an outcome instead of failing."""
    snap = tx.get(account_lease_path(fence.account_id))
    return fence_holds(snap.data if snap is not None else None, fence, now=now)
