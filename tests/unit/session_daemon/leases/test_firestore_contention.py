"""The lease engine on the Firestore adapter under contention, against the suite's aborting gRPC
fake (the npm emulator never aborts a transaction): an acquire whose commits abort a few times
is retried and wins; one that keeps aborting reports contention and claims nothing; a holder
whose renewals keep aborting keeps its session until its local deadline, then stops it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.cloud.firestore_v1 import types

from session_daemon.leases.coordinator import LeaseCoordinator
from session_daemon.leases.engine import Acquired, Contended, Held, LeaseEngine, local_margin
from session_daemon.leases.instances import InstanceRegistry, ProcessMark
from session_daemon.leases.record import Fence, Lease
from shared.store.firestore import FirestoreStore
from tests.support.aborting_firestore import AbortingFirestore, serve_store

LEASE = 2.0
T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


class AbortsThenCommits(AbortingFirestore):
    """Aborts the first `aborts` commits, then commits (every read still finds nothing)."""

    def __init__(self, aborts: int) -> None:
        super().__init__("commit")
        self.aborts = aborts
        self.committed: list[Any] = []

    def commit(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._count("commit")
        if self.calls["commit"] <= self.aborts:
            context.abort(grpc.StatusCode.ABORTED, "contention on commit")
        self.committed.append(request)
        now = datetime.now(UTC)
        return types.CommitResponse(
            write_results=[types.WriteResult(update_time=now) for _ in request.writes],
            commit_time=now,
        )


@pytest.fixture
def fake_store(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[AbortsThenCommits, FirestoreStore]]:
    fake = AbortsThenCommits(request.param)
    with serve_store(fake, "lease-contention", monkeypatch) as store:
        yield fake, store


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def wall(self) -> datetime:
        return T0 + timedelta(seconds=self.t)

    def mono(self) -> float:
        return self.t


@pytest.mark.parametrize("fake_store", [2], indirect=True)
def test_an_acquire_whose_commits_abort_is_retried_and_wins(fake_store: Any) -> None:
    fake, store = fake_store
    got = LeaseEngine(store, "a", lease_seconds=LEASE).acquire("wa_1")
    assert isinstance(got, Acquired) and got.kind == "fresh"
    assert fake.calls["commit"] == 3 and len(fake.committed) == 1
    (write,) = fake.committed[0].writes
    assert write.update.name.endswith("/documents/accountLeases/wa_1")
    assert write.update.fields["holder"].string_value == "a"


@pytest.mark.parametrize("fake_store", [10_000], indirect=True)
def test_an_acquire_that_keeps_aborting_claims_nothing(fake_store: Any) -> None:
    fake, store = fake_store
    assert isinstance(LeaseEngine(store, "a", lease_seconds=LEASE).acquire("wa_1"), Contended)
    assert fake.calls["commit"] == 10 and fake.committed == []


class Sessions:
    def __init__(self) -> None:
        self.live: set[str] = set()

    def start(self, account_id: str, fence: Fence) -> None:
        self.live.add(account_id)

    def stop(self, account_id: str) -> None:
        self.live.discard(account_id)

    def adopt(self, account_id: str) -> None:
        raise AssertionError("not used here")

    def running(self, account_id: str) -> bool:
        return account_id in self.live


@pytest.mark.parametrize("fake_store", [10_000], indirect=True)
def test_a_holder_that_cannot_renew_stops_at_its_local_deadline(fake_store: Any) -> None:
    fake, store = fake_store
    clock = Clock()
    engine = LeaseEngine(store, "a", lease_seconds=LEASE, clock=clock.wall, monotonic=clock.mono)
    registry = InstanceRegistry(
        store,
        "a",
        lease_seconds=LEASE,
        address=None,
        max_pairings=3,
        clock=clock.wall,
        mark=ProcessMark("p", 1, "h", None),
    )
    sessions = Sessions()
    coordinator = LeaseCoordinator(
        engine, registry, sessions, lambda: [("wa_1", False)], monotonic=clock.mono
    )
    now = clock.wall()
    lease = Lease("wa_1", "a", 1, "tok", now, now, now + timedelta(seconds=LEASE), LEASE)
    coordinator.held["wa_1"] = Held(lease, LEASE - local_margin(LEASE))
    sessions.live.add("wa_1")
    clock.t = LEASE / 3
    coordinator.tick()  # heartbeat and renewal abort: the lease is still trusted for now
    assert coordinator.holds("wa_1") and sessions.live == {"wa_1"}
    assert coordinator.counters.tick_errors == 1
    clock.t = LEASE - local_margin(LEASE)  # the deadline, before the stored expiry
    assert not coordinator.holds("wa_1")
    report = coordinator.tick()
    assert report.lost == ["wa_1"] and sessions.live == set()
    assert fake.committed == []
