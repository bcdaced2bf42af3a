"""The inbound pipeline on both store adapters: SqliteStore and FirestoreStore (emulator).

Covers what depends on the store's semantics: dedup by `create`, the get_many pre-check, the
AlreadyExists fallback when another writer wins the race, merged thread summaries with
Increment and server timestamps, and Timestamp round trips.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from session_daemon.inbound.pipeline import InboundPipeline
from session_daemon.transport.port import HistorySyncChunk, MessageReceived, WireMessage
from shared.store.port import DocumentStore, Snapshot, query
from shared.store.sqlite import SqliteStore
from tests.conftest import unique_project_id

ACC = "acc1"
JID = "40733111222@s.whatsapp.net"
TID = f"{ACC}__{JID}"
T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "firestore"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DocumentStore]:
    if request.param == "sqlite":
        sqlite = SqliteStore(tmp_path / "store.db")
        yield sqlite
        sqlite.close()
        return
    host = request.getfixturevalue("firestore_emulator")
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", host)
    from shared.store.firestore import FirestoreStore

    firestore = FirestoreStore(unique_project_id("inbound"))
    yield firestore
    firestore.close()


class RacingStore:
    """Hides some documents from `get_many`, as if another writer created them just after our
    pre-check: the batch `create` then meets AlreadyExists."""

    def __init__(self, inner: DocumentStore, hidden: set[str]) -> None:
        self.inner = inner
        self.hidden = hidden

    def get_many(self, paths: Sequence[str]) -> list[Snapshot | None]:
        found = self.inner.get_many(paths)
        return [None if p in self.hidden else s for p, s in zip(paths, found, strict=True)]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def wire(i: int, *, live_name: str | None = "Ion") -> WireMessage:
    return WireMessage(
        id=f"3EB0{i:016X}",
        chat_jid=JID,
        sender_jid=JID,
        from_me=i % 5 == 4,
        timestamp=T0 + timedelta(minutes=i),
        text=f"mesaj {i}",
        push_name=None if i % 5 == 4 else live_name,
    )


async def run(store: Any, tmp_path: Path, *events: Any) -> InboundPipeline:
    pipeline = InboundPipeline(store, tmp_path / "journal", flush_interval=0.01)
    await pipeline.start()
    for event in events:
        pipeline.submit(event)
    assert await pipeline.drain(20)
    await pipeline.stop()
    return pipeline


async def test_history_overlap_and_redelivery(store: DocumentStore, tmp_path: Path) -> None:
    live = [MessageReceived(ACC, wire(i)) for i in range(20, 25)]
    await run(store, tmp_path, *live, *live)
    chunk = HistorySyncChunk(ACC, tuple(wire(i) for i in range(25)))
    pipeline = await run(store, tmp_path, chunk)
    docs = store.query(query(f"threads/{TID}/messages", order_by=["tsClient"]))
    assert [d.data["waMessageId"] for d in docs] == [wire(i).id for i in range(25)]
    assert docs[0].data["tsClient"] == T0  # a real Timestamp round trip
    assert [d.data["direction"] for d in docs[:5]] == ["inbound"] * 4 + ["outbound"]
    thread = store.get(f"threads/{TID}")
    assert thread is not None
    assert thread.data["lastMessageAt"] == T0 + timedelta(minutes=24)
    assert thread.data["unreadCount"] == 0  # the owner answered last, from the phone
    assert thread.data["displayName"] == "Ion"
    assert isinstance(thread.data["updatedAt"], datetime)
    assert pipeline.stats()["duplicatesSkipped"] == 5


async def test_another_writer_winning_the_race(store: DocumentStore, tmp_path: Path) -> None:
    won_by_other = f"threads/{TID}/messages/{wire(1).id}"
    store.create(won_by_other, {"accountId": ACC, "body": "written by someone else"})
    racing = RacingStore(store, {won_by_other})
    pipeline = await run(racing, tmp_path, HistorySyncChunk(ACC, tuple(wire(i) for i in range(3))))
    docs = store.query(query(f"threads/{TID}/messages"))
    assert len(docs) == 3
    other = store.get(won_by_other)
    assert other is not None and other.data["body"] == "written by someone else"  # untouched
    stats = pipeline.stats()
    assert stats["messagesStored"] + stats["duplicatesSkipped"] == 3
    if isinstance(store, SqliteStore):
        # The npm Firestore emulator applies a failing batch's earlier writes (real Firestore
        # and SQLite do not), so there the fallback finds one more "duplicate".
        assert stats["messagesStored"] == 2
    thread = store.get(f"threads/{TID}")
    assert thread is not None and thread.data["lastMessageText"] == "mesaj 2"
