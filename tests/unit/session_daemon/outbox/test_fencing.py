"""Fencing in the outbox claim (which also writes the send marker): a daemon whose lease on the
account is gone claims nothing, even when its own memory still shows the old lease. Real
SqliteStore, real lease engine, two real outbox workers and the simulated transport."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from session_daemon.leases.engine import Acquired, LeaseEngine
from session_daemon.leases.record import Fence
from session_daemon.outbox import items
from session_daemon.outbox.config import OutboxConfig
from session_daemon.outbox.worker import OutboxWorker
from session_daemon.transport.simulated import SimulatedTransport
from shared.ids import thread_id
from shared.jids import phone_jid
from shared.outbox import enqueue_send
from shared.paths import account_path, outbox_path, thread_path
from shared.store.sqlite import SqliteStore
from shared.timeutil import utc_now

FAST = OutboxConfig.unpaced(poll_interval_s=0.2, lease_s=5.0)
LEASE = 1.0
CLIENT = "+40722000001"


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[SqliteStore, SimulatedTransport]]:
    store = SqliteStore(tmp_path / "store.db")
    transport = SimulatedTransport(qr_interval=60)
    await transport.start_session("acc1", tmp_path / "acc1.db", lambda event: None)
    transport.pair("acc1", "+40700000001")
    store.set(account_path("acc1"), {"name": "acc1", "status": "connected"})
    tid = thread_id("acc1", phone_jid(CLIENT))
    store.create(thread_path(tid), {"accountId": "acc1", "clientJid": phone_jid(CLIENT)})
    yield store, transport
    await transport.close()
    store.close()


def enqueue(store: SqliteStore, text: str) -> str:
    return enqueue_send(
        store,
        thread_id=thread_id("acc1", phone_jid(CLIENT)),
        account_id="acc1",
        to_jid=phone_jid(CLIENT),
        text=text,
        uid="staff-1",
        client_message_id=text,
    ).request_id


def held_fence(engine: LeaseEngine) -> Fence:
    got = engine.acquire("acc1")
    assert isinstance(got, Acquired)
    return got.held.lease.fence


def test_a_fenced_claim_touches_nothing(
    world: tuple[SqliteStore, SimulatedTransport],
) -> None:
    store, _ = world
    fence = held_fence(LeaseEngine(store, "a", lease_seconds=LEASE))
    rid = enqueue(store, "one")

    def claim(f: Fence) -> items.ClaimOutcome:
        return items.claim(
            store, rid, instance_id=f.holder, now=utc_now(), lease_s=5, max_attempts=3,
            verdict=items.ACCOUNT_OK, backoff_s=1, fence=f,
        )  # fmt: skip

    time.sleep(LEASE)
    held_fence(LeaseEngine(store, "b", lease_seconds=LEASE))  # b takes the account over
    before = store.get(outbox_path(rid))
    assert claim(fence) == items.Skipped("fenced")
    assert store.get(outbox_path(rid)) == before  # no attempt counted, no send marker
    assert before is not None and before.data["status"] == "queued"
    other = Fence("acc2", fence.holder, fence.epoch, fence.token)  # another account's fence
    assert claim(other) == items.Skipped("fenced")


def statuses(store: SqliteStore, rids: list[str]) -> set[str]:
    return {
        s.data["status"] if s else "missing" for s in store.get_many([outbox_path(r) for r in rids])
    }


async def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(predicate):
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_only_the_lease_holder_sends(world: tuple[SqliteStore, SimulatedTransport]) -> None:
    store, transport = world
    stale = held_fence(LeaseEngine(store, "a", lease_seconds=LEASE))
    fences: dict[str, Fence | None] = {"a": stale, "b": None}

    def fences_of(name: str) -> Callable[[str], Fence | None]:
        return lambda account_id: fences[name]

    workers = [
        OutboxWorker(store, transport, instance_id=n, config=FAST, fences=fences_of(n))
        for n in ("a", "b")
    ]
    for w in workers:
        await w.start()
    try:
        first = [enqueue(store, f"before {i}") for i in range(3)]
        await wait_for(lambda: statuses(store, first) == {"sent"})
        await asyncio.sleep(LEASE)
        b_fence = held_fence(LeaseEngine(store, "b", lease_seconds=LEASE))
        # a still believes it holds the lease (a paused process that just woke up): its claims
        # reach the store, which refuses them; b is told it owns the account only afterwards
        later = [enqueue(store, f"after {i}") for i in range(3)]
        await wait_for(lambda: workers[0].counters.fenced >= 1)
        assert statuses(store, later) == {"queued"}
        fences["b"] = b_fence
        await wait_for(lambda: statuses(store, later) == {"sent"})
    finally:
        for w in workers:
            await w.stop()
    epochs = {
        s.id: s.data.get("accountLeaseEpoch")
        for s in store.get_many([outbox_path(r) for r in first + later])
        if s
    }
    assert {epochs[r] for r in first} == {stale.epoch} and {epochs[r] for r in later} == {
        b_fence.epoch
    }
    claimed = {
        s.id: s.data["claimedBy"]
        for s in store.get_many([outbox_path(r) for r in first + later])
        if s
    }
    assert {claimed[r] for r in first} == {"a"} and {claimed[r] for r in later} == {"b"}
    assert workers[0].counters.fenced >= 1  # a tried, and the store refused it
    assert workers[1].counters.not_owner >= 1  # b left a's items alone before the takeover
    texts = [m.text for m in transport.received_by(CLIENT)]
    assert sorted(texts) == sorted(f"{w} {i}" for w in ("before", "after") for i in range(3))
