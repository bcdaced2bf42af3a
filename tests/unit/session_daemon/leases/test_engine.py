"""The lease engine on the real embedded store with a hand-driven clock: acquire, renew, expiry,
hand-over, release, corrupt documents (taken over at once, epochs keep growing) and the fence
check inside another transaction (nothing it wrote commits once the lease is gone)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from session_daemon.leases.engine import Acquired, Busy, LeaseEngine
from session_daemon.leases.fencing import Fenced, check_fence
from session_daemon.leases.record import Fence, lease_doc, parse_lease
from shared.paths import account_lease_path, outbox_path
from shared.store.sqlite import SqliteStore

LEASE = 2.0
T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


class Clock:
    """Wall and monotonic time that move only when told."""

    def __init__(self) -> None:
        self.t = 0.0

    def wall(self) -> datetime:
        return T0 + timedelta(seconds=self.t)

    def mono(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "store.db")
    yield s
    s.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def engine(store: SqliteStore, clock: Clock, name: str) -> LeaseEngine:
    return LeaseEngine(
        store,
        name,
        lease_seconds=LEASE,
        address=f"http://{name}",
        clock=clock.wall,
        monotonic=clock.mono,
    )


def acquired(outcome: object) -> Acquired:
    assert isinstance(outcome, Acquired), outcome
    return outcome


def test_acquire_renew_and_busy(store: SqliteStore, clock: Clock) -> None:
    a, b = engine(store, clock, "a"), engine(store, clock, "b")
    got = acquired(a.acquire("wa_1"))
    assert (got.kind, got.held.lease.epoch, got.held.lease.holder) == ("fresh", 1, "a")
    assert got.held.deadline < LEASE  # trusted a margin less than the stored expiry
    busy = b.acquire("wa_1")
    assert isinstance(busy, Busy) and busy.holder == "a" and busy.expires_in == LEASE
    clock.advance(1.5)
    renewed = a.renew([got.held])["wa_1"]
    assert renewed is not None and renewed.lease.token == got.held.lease.token
    clock.advance(1.5)  # past the first expiry, within the renewed one
    assert isinstance(b.acquire("wa_1"), Busy)
    stored = store.get(account_lease_path("wa_1"))
    assert stored is not None and stored.data["holderAddress"] == "http://a"


def test_expired_lease_is_taken_over_and_the_old_holder_loses_it(
    store: SqliteStore, clock: Clock
) -> None:
    a, b = engine(store, clock, "a"), engine(store, clock, "b")
    old = acquired(a.acquire("wa_1")).held
    clock.advance(LEASE)  # exactly at expiry: free
    new = acquired(b.acquire("wa_1"))
    assert (new.kind, new.previous_holder, new.held.lease.epoch) == ("takeover", "a", 2)
    assert a.renew([old]) == {"wa_1": None}  # lost: the caller stops that session
    assert not a.release(old) and not a.hand_over(old, "c")


def test_hand_over_then_adopt_with_a_new_epoch(store: SqliteStore, clock: Clock) -> None:
    a, b, c = (engine(store, clock, n) for n in "abc")
    held = acquired(a.acquire("wa_1")).held
    assert a.hand_over(held, "b", to_address="http://b")
    assert isinstance(c.acquire("wa_1"), Busy)  # nobody else slips in meanwhile
    got = acquired(b.acquire("wa_1"))
    assert (got.kind, got.previous_holder, got.held.lease.epoch) == ("handover", "b", 3)
    assert a.renew([held]) == {"wa_1": None}


def test_release_frees_at_once(store: SqliteStore, clock: Clock) -> None:
    a, b = engine(store, clock, "a"), engine(store, clock, "b")
    held = acquired(a.acquire("wa_1")).held
    assert a.release(held)
    got = acquired(b.acquire("wa_1"))
    assert got.kind == "fresh" and got.held.lease.epoch == 2


def test_a_restarted_instance_reclaims_its_own_lease_with_a_new_token(
    store: SqliteStore, clock: Clock
) -> None:
    first = acquired(engine(store, clock, "a").acquire("wa_1")).held
    again = acquired(engine(store, clock, "a").acquire("wa_1"))  # new process, same id
    assert again.kind == "reclaim" and again.held.lease.token != first.lease.token
    assert engine(store, clock, "a").renew([first]) == {"wa_1": None}


def _valid(clock: Clock) -> dict[str, Any]:
    now = clock.wall()
    from session_daemon.leases.record import Lease

    lease = Lease("wa_1", "a", 7, "tok", now, now, now + timedelta(seconds=LEASE), LEASE)
    return lease_doc(lease, now=now)


CORRUPTIONS = {
    "expiry a year ahead": {"expiresAt": T0 + timedelta(days=365)},
    "expiry edited alone": {"expiresAt": T0 + timedelta(seconds=LEASE + 30)},
    "expiry a string": {"expiresAt": "2999-01-01T00:00:00Z"},
    "no expiry": {"expiresAt": None},
    "lease seconds huge": {
        "leaseSeconds": 1e9,
        "expiresAt": T0 + timedelta(seconds=1e9),
    },
    "renewed in the future": {
        "renewedAt": T0 + timedelta(days=1),
        "expiresAt": T0 + timedelta(days=1, seconds=LEASE),
    },
    "holder not an id": {"holder": "a/b"},
    "holder a number": {"holder": 5},
    "token empty": {"token": ""},
    "epoch a string": {"epoch": "7"},
    "epoch a bool": {"epoch": True},
    "another account's lease": {"accountId": "wa_2"},
}


@pytest.mark.parametrize("patch", list(CORRUPTIONS.values()), ids=list(CORRUPTIONS))
def test_a_hand_corrupted_lease_counts_as_expired(
    store: SqliteStore, clock: Clock, patch: dict[str, Any]
) -> None:
    doc = {**_valid(clock), **patch}
    store.set(account_lease_path("wa_1"), doc)
    assert parse_lease("wa_1", doc, now=clock.wall()) is None
    got = acquired(engine(store, clock, "b").acquire("wa_1"))  # no waiting at all
    assert got.kind == "corrupt"
    epoch = patch.get("epoch", 7)
    expected = 8 if isinstance(epoch, int) and not isinstance(epoch, bool) else 1
    assert got.held.lease.epoch == expected  # counts on from what the document still says


def test_an_untouched_valid_lease_is_not_corrupt(store: SqliteStore, clock: Clock) -> None:
    """The corruption cases fail for their edit, not for the base document."""
    store.set(account_lease_path("wa_1"), _valid(clock))
    assert isinstance(engine(store, clock, "b").acquire("wa_1"), Busy)
    garbage: object
    for garbage in (None, [], "x", {"holder": "a"}):
        assert parse_lease("wa_1", garbage, now=clock.wall()) is None


def _claim(store: SqliteStore, fence: Fence, now: datetime) -> None:
    """Stands for the outbox claim: the fence is checked in the transaction that writes."""

    def run(tx: Any) -> None:
        tx.set(outbox_path("r1"), {"status": "processing", "epoch": fence.epoch})
        check_fence(tx, fence, now=now)

    store.transaction(run)


def test_the_fence_refuses_a_claim_after_takeover_and_rolls_it_back(
    store: SqliteStore, clock: Clock
) -> None:
    a, b = engine(store, clock, "a"), engine(store, clock, "b")
    held = acquired(a.acquire("wa_1")).held
    _claim(store, held.lease.fence, clock.wall())
    assert store.get(outbox_path("r1")) is not None
    store.set(outbox_path("r1"), {"status": "queued"})
    clock.advance(LEASE + 0.1)
    with pytest.raises(Fenced):  # expired, even before anybody took it
        _claim(store, held.lease.fence, clock.wall())
    acquired(b.acquire("wa_1"))
    with pytest.raises(Fenced, match="no longer held by a"):
        _claim(store, held.lease.fence, clock.wall())
    snap = store.get(outbox_path("r1"))
    assert snap is not None and snap.data == {"status": "queued"}  # nothing committed
