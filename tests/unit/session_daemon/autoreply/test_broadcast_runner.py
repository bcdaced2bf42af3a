"""The broadcast runner in-process on SQLite, with a stand-in for the outbox worker that records
when each item was queued: one recipient at a time, the gap between them, a restart that
carries on without queueing anyone twice, and only the lease holder sending."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import pytest

from session_daemon.autoreply.broadcast import create_broadcast, resolve_recipients, stop_reason
from session_daemon.autoreply.broadcast_runner import BroadcastRunner
from session_daemon.http.routes_autoreply import broadcast_gap_from_env
from shared.store.port import query
from shared.store.sqlite import SqliteStore

ACC = "acc1"
PHONES = ["+40733000001", "+40733000002", "+40733000003"]


async def fake_worker(
    store: SqliteStore, seen: list[tuple[float, int]], stop: asyncio.Event
) -> None:
    """Sends whatever is queued, noting how many items were queued at once."""
    while not stop.is_set():
        queued = [s for s in store.query(query("outbox")) if s.data["status"] == "queued"]
        for snap in queued:
            seen.append((time.monotonic(), len(queued)))
            store.update(f"outbox/{snap.id}", {"status": "sent"})
        await asyncio.sleep(0.005)


def new_broadcast(store: SqliteStore, gap: float) -> str:
    store.set(f"accounts/{ACC}", {"status": "connected"})
    targets = resolve_recipients(store, ACC, PHONES)
    create_broadcast(
        store,
        broadcast_id="b1",
        account_id=ACC,
        text="Salut",
        template=None,
        targets=targets,
        uid="u-admin",
        gap_s=gap,
    )
    return "b1"


async def test_one_by_one_with_the_gap_then_done(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    bid = new_broadcast(store, gap=0.15)
    seen: list[tuple[float, int]] = []
    stop = asyncio.Event()
    worker = asyncio.create_task(fake_worker(store, seen, stop))
    runner = BroadcastRunner(store, owns=lambda _a: True, wake=lambda: None, poll_s=0.01)
    await asyncio.wait_for(runner.run(bid), 5)
    stop.set()
    await worker
    doc = store.get(f"broadcasts/{bid}").data  # type: ignore[union-attr]
    assert doc["status"] == "done"
    assert [r["status"] for r in doc["recipients"]] == ["sent"] * 3
    assert [n for _, n in seen] == [1, 1, 1]  # never two recipients queued at once
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(seen)]
    assert min(gaps) >= 0.15
    items = [s.data for s in store.query(query("outbox"))]
    assert {i["createdByUid"] for i in items} == {"broadcast"}
    threads = {s.data["ownerUid"] for s in store.query(query("threads"))}
    assert threads == {None}
    store.close()


async def test_a_restart_carries_on_without_queueing_twice(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    bid = new_broadcast(store, gap=0)
    # the first daemon queued recipient 0 and died before it was sent (maybe even before the
    # broadcast noted it: the item's id comes from the broadcast and the index, so queueing it
    # again finds it)
    first = BroadcastRunner(store, owns=lambda _a: True, wake=lambda: None, poll_s=0.01)
    task = asyncio.create_task(first.run(bid))
    while not store.query(query("outbox")):
        await asyncio.sleep(0.005)
    task.cancel()
    doc = store.get(f"broadcasts/{bid}").data  # type: ignore[union-attr]
    assert doc["recipients"][0]["status"] in ("pending", "queued")
    # not the lease holder: nothing happens
    other = BroadcastRunner(store, owns=lambda _a: False, wake=lambda: None, poll_s=0.01)
    await other.scan()
    assert other.stats() == {"running": []}
    # the restarted daemon waits for the queued item, then sends the rest
    seen: list[tuple[float, int]] = []
    stop = asyncio.Event()
    worker = asyncio.create_task(fake_worker(store, seen, stop))
    restarted = BroadcastRunner(store, owns=lambda _a: True, wake=lambda: None, poll_s=0.01)
    await asyncio.wait_for(restarted.run(bid), 5)
    stop.set()
    await worker
    assert len(store.query(query("outbox"))) == 3
    doc = store.get(f"broadcasts/{bid}").data  # type: ignore[union-attr]
    assert doc["status"] == "done"
    store.close()


def test_the_gap_defaults_to_five_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WHATSAPP_BROADCAST_GAP_SECONDS", raising=False)
    assert broadcast_gap_from_env() == 5.0
    monkeypatch.setenv("WHATSAPP_BROADCAST_GAP_SECONDS", "0.5")
    assert broadcast_gap_from_env() == 0.5


def test_what_stops_a_broadcast() -> None:
    assert stop_reason({"status": "connected"}) is None
    assert stop_reason({"status": "disconnected", "lastError": "wifi"}) is None
    assert stop_reason({"status": "logged_out"}) == "account_logged_out"
    assert stop_reason({"status": "temporarily_banned"}) == "account_temporarily_banned"
    assert stop_reason(None) == "account_deleted"
    cloud = {"status": "disconnected", "lastError": "token_expired: the token expired"}
    assert stop_reason(cloud) == "account_token_expired"
    assert stop_reason({**cloud, "status": "connected"}) is None
