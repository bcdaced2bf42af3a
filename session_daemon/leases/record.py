"""The lease document of one account (`accountLeases/{accountId}`), read and built without I/O.

A lease says which daemon instance may run the account's session: `holder`, a monotonically
growing `epoch`, a `token` that is new on every acquisition, and `expiresAt`. The pair
(epoch, token) is the fence: a write or send that carries it is accepted only while the stored
lease still has both and has not expired.

Documents are read defensively. A lease edited by hand, half-written by an older version, or
with a type Firestore's console let someone change, is **corrupt**, and a corrupt lease counts
as expired: an account must never be locked forever by a document nobody can renew. Corrupt
includes an expiry that does not equal `renewedAt + leaseSeconds` (we always write both
together) and an expiry further ahead than any daemon may ask for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from shared.paths import is_id
from shared.timeutil import ensure_utc

# WHATSAPP_LEASE_SECONDS may be at most this; an expiry further ahead is a corrupt document.
MAX_LEASE_SECONDS: Final = 600.0
MIN_LEASE_SECONDS: Final = 1.0
# Tolerated difference between the clocks of two daemons, and rounding of stored timestamps
# (Firestore keeps microseconds, the SQLite store microseconds too).
CLOCK_TOLERANCE: Final = timedelta(seconds=1)
_CONSISTENCY: Final = timedelta(milliseconds=5)


@dataclass(frozen=True)
class Fence:
    """What a daemon must still hold for a write or send on `account_id` to be accepted."""

    account_id: str
    holder: str
    epoch: int
    token: str


@dataclass(frozen=True)
class Lease:
    account_id: str
    holder: str
    epoch: int
    token: str
    acquired_at: datetime
    renewed_at: datetime
    expires_at: datetime
    lease_seconds: float
    holder_address: str | None = None

    def live(self, now: datetime) -> bool:
        return now < self.expires_at

    def expires_in(self, now: datetime) -> float:
        return (self.expires_at - now).total_seconds()

    @property
    def fence(self) -> Fence:
        return Fence(self.account_id, self.holder, self.epoch, self.token)


def lease_doc(lease: Lease, *, now: datetime, previous_holder: str | None = None) -> dict[str, Any]:
    """The stored form (camelCase, like every document of CONTRACT.md)."""
    doc: dict[str, Any] = {
        "accountId": lease.account_id,
        "holder": lease.holder,
        "epoch": lease.epoch,
        "token": lease.token,
        "acquiredAt": lease.acquired_at,
        "renewedAt": lease.renewed_at,
        "expiresAt": lease.expires_at,
        "leaseSeconds": lease.lease_seconds,
        "holderAddress": lease.holder_address,
        "updatedAt": now,
    }
    if previous_holder is not None:
        doc["previousHolder"] = previous_holder
    return doc


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _when(value: object) -> datetime | None:
    return ensure_utc(value) if isinstance(value, datetime) else None


def parse_lease(account_id: str, data: object, *, now: datetime) -> Lease | None:
    """The lease in `data`, or None when there is none or it cannot be trusted (corrupt).
    None and an expired lease mean the same thing to every caller: the account is free."""
    if not isinstance(data, dict):
        return None
    holder, token = data.get("holder"), data.get("token")
    epoch = data.get("epoch")
    seconds = _number(data.get("leaseSeconds"))
    acquired, renewed = _when(data.get("acquiredAt")), _when(data.get("renewedAt"))
    expires = _when(data.get("expiresAt"))
    address = data.get("holderAddress")
    if not (isinstance(holder, str) and is_id(holder)):
        return None
    if not (isinstance(token, str) and token):
        return None
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 1:
        return None
    if seconds is None or not (MIN_LEASE_SECONDS <= seconds <= MAX_LEASE_SECONDS):
        return None
    if acquired is None or renewed is None or expires is None:
        return None
    if data.get("accountId") != account_id:
        return None  # copied from another account's lease
    if abs(expires - (renewed + timedelta(seconds=seconds))) > _CONSISTENCY:
        return None  # one of the two edited alone
    if renewed > now + CLOCK_TOLERANCE:
        return None  # renewed in the future: no daemon wrote this
    if address is not None and not isinstance(address, str):
        address = None  # only used to forward requests: drop it, keep the lease
    return Lease(
        account_id, holder, epoch, token, acquired, renewed, expires, seconds, address or None
    )


def last_epoch(data: object) -> int:
    """The epoch to count on from, also for a corrupt document (0 when it has none), so epochs
    keep growing across a corruption as far as the document still tells."""
    if isinstance(data, dict):
        epoch = data.get("epoch")
        if isinstance(epoch, int) and not isinstance(epoch, bool) and epoch > 0:
            return epoch
    return 0


def fence_holds(data: object, fence: Fence, *, now: datetime) -> bool:
    """Whether the stored lease `data` still is the one `fence` was given for, unexpired."""
    lease = parse_lease(fence.account_id, data, now=now)
    return (
        lease is not None
        and lease.holder == fence.holder
        and lease.epoch == fence.epoch
        and lease.token == fence.token
        and lease.live(now)
    )
