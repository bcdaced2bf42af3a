"""`FirestoreStore` behaviour beyond the shared contract suite, against the npm emulator:
value conversion, project isolation, the change stream's start and error handling, edge queries."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.cloud import firestore
from google.cloud.firestore_v1.types import StructuredQuery

from shared.store import sentinels
from shared.store.firestore import FirestoreStore, _from_firestore, _to_firestore
from shared.store.port import Change, InvalidPath, NotFound, StoreError, query
from tests.conftest import unique_project_id

T0 = datetime(2026, 1, 14, 9, 12, 3, 456789, tzinfo=UTC)


def _open(host: str, monkeypatch: pytest.MonkeyPatch, project: str | None = None) -> Any:
    with monkeypatch.context() as env:
        env.setenv("FIRESTORE_EMULATOR_HOST", host)
        return FirestoreStore(project or unique_project_id("platform"))


@pytest.fixture
def store(firestore_emulator: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    s = _open(firestore_emulator, monkeypatch)
    yield s
    s.close()


def test_timestamps_come_back_as_plain_utc_datetimes(store: Any) -> None:
    store.create("c/d", {"at": T0, "nested": {"list": [T0]}})
    data = store.get("c/d").data
    for value in (data["at"], data["nested"]["list"][0]):
        assert type(value) is datetime
        assert value == T0 and value.tzinfo is not None
        assert value.utcoffset() == timedelta(0)
        assert value < T0 + timedelta(microseconds=1)


def test_sentinels_map_to_the_clients_own() -> None:
    out = _to_firestore(
        {
            "at": sentinels.SERVER_TIMESTAMP,
            "gone": sentinels.DELETE_FIELD,
            "n": sentinels.Increment(2),
            "tags": sentinels.ArrayUnion(["a"]),
            "untag": sentinels.ArrayRemove(("b",)),
            "map": {"inner": sentinels.Increment(1.5)},
            "tuple": (1, 2),
        }
    )
    assert out["at"] is firestore.SERVER_TIMESTAMP
    assert out["gone"] is firestore.DELETE_FIELD
    assert isinstance(out["n"], firestore.Increment) and out["n"].value == 2
    assert isinstance(out["tags"], firestore.ArrayUnion) and out["tags"].values == ["a"]
    assert isinstance(out["untag"], firestore.ArrayRemove) and out["untag"].values == ["b"]
    assert isinstance(out["map"]["inner"], firestore.Increment)
    assert out["tuple"] == [1, 2]


def test_create_and_plain_set_drop_delete_field_like_sqlite() -> None:
    data = {"keep": 1, "gone": sentinels.DELETE_FIELD, "m": {"gone": sentinels.DELETE_FIELD}}
    assert _to_firestore(data, drop_deletes=True) == {"keep": 1, "m": {}}


def test_conversion_back_keeps_other_values() -> None:
    raw = {"s": "x", "i": 1, "f": 1.5, "b": False, "n": None, "l": [{"a": 1}]}
    assert _from_firestore(raw) == raw


def test_projects_on_one_emulator_are_isolated(
    firestore_emulator: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _open(firestore_emulator, monkeypatch)
    second = _open(firestore_emulator, monkeypatch)
    try:
        first.create("threads/a", {"owner": "first"})
        assert second.get("threads/a") is None
        second.create("threads/a", {"owner": "second"})
        assert first.get("threads/a").data == {"owner": "first"}
    finally:
        first.close()
        second.close()


def test_watch_reports_only_later_writes_including_updates(store: Any) -> None:
    store.create("outbox/old", {"status": "queued"})
    received: list[Change] = []
    seen_update = threading.Event()

    def on_change(changes: list[Change]) -> None:
        received.extend(changes)
        if any(c.path == "outbox/old" and c.data == {"status": "sent"} for c in changes):
            seen_update.set()

    unsubscribe = store.watch("outbox", on_change)
    try:
        store.create("outbox/new", {"status": "queued"})
        store.update("outbox/old", {"status": "sent"})
        assert seen_update.wait(10)
    finally:
        unsubscribe()
    paths = [c.path for c in received]
    assert "outbox/new" in paths
    # The document that existed before the call shows up only for its later update.
    assert all(c.data == {"status": "sent"} for c in received if c.path == "outbox/old")


def test_watch_survives_a_failing_callback(store: Any) -> None:
    calls: list[list[str]] = []
    second = threading.Event()

    def flaky(changes: list[Change]) -> None:
        calls.append([c.path for c in changes])
        if len(calls) == 1:
            raise RuntimeError("bug in a watcher")
        second.set()

    unsubscribe = store.watch("outbox", flaky)
    try:
        store.create("outbox/a", {"n": 1})
        deadline = time.monotonic() + 10
        while not calls and time.monotonic() < deadline:
            time.sleep(0.02)
        store.create("outbox/b", {"n": 2})
        assert second.wait(10)
    finally:
        unsubscribe()


def test_watch_stops_after_unsubscribe(store: Any) -> None:
    received: list[Change] = []
    unsubscribe = store.watch("outbox", received.extend)
    unsubscribe()
    store.create("outbox/late", {"n": 1})
    time.sleep(0.5)
    assert received == []


def test_watch_rejects_a_document_path(store: Any) -> None:
    with pytest.raises(InvalidPath):
        store.watch("outbox/doc", lambda changes: None)


def test_edge_queries(store: Any) -> None:
    store.create("threads/a", {"n": 1})
    assert store.query(query("threads", where=[("n", "in", [])])) == []
    assert store.query(query("threads", limit=0)) == []
    with pytest.raises(StoreError, match="at most 30"):
        store.query(query("threads", where=[("n", "in", list(range(31)))], order_by=["n"]))
    with pytest.raises(InvalidPath):
        store.query(query("threads/a"))
    with pytest.raises(InvalidPath):
        store.query(query("threads/a/messages", group=True))


def test_long_in_lists_are_split_and_merged_in_path_order(store: Any) -> None:
    for i in range(70):
        store.create(f"threads/t{i:02d}", {"n": i, "kind": "odd" if i % 2 else "even"})
    wanted = list(range(0, 70, 3)) + list(range(100, 140))  # 64 values, 24 of them present
    got = store.query(query("threads", where=[("n", "in", wanted), ("kind", "==", "even")]))
    assert [s.path for s in got] == [f"threads/t{i:02d}" for i in range(0, 70, 6)]


def test_empty_update_still_requires_the_document(store: Any) -> None:
    store.create("c/a", {"v": 1})
    store.update("c/a", {})
    with pytest.raises(NotFound):
        store.update("c/missing", {})


def test_transaction_rejects_zero_attempts(store: Any) -> None:
    with pytest.raises(ValueError):
        store.transaction(lambda tx: None, max_attempts=0)


def test_ping_is_true_on_the_emulator_and_false_quickly_without_a_server(
    store: Any, monkeypatch: pytest.MonkeyPatch, get_free_port: Any
) -> None:
    assert store.ping() is True
    dead = _open(f"127.0.0.1:{get_free_port()}", monkeypatch)
    try:
        started = time.monotonic()
        assert dead.ping() is False
        assert time.monotonic() - started < 6
    finally:
        dead.close()


# The emulator ignores unary filters and cursors (see tests/contract/conftest.py), so the requests
# this store builds for them are checked here, on the client's own protobufs.


def _structured(store: Any, q: Any) -> Any:
    return store._build_query(q)._to_protobuf()


def test_null_equality_becomes_an_is_null_filter(store: Any) -> None:
    pb = _structured(store, query("outbox", where=[("claimedBy", "==", None)]))
    assert pb.where.unary_filter.op == pb.where.unary_filter.Operator.IS_NULL
    assert pb.where.unary_filter.field.field_path == "claimedBy"


def test_start_after_becomes_an_exclusive_cursor_on_the_order_fields(store: Any) -> None:
    q = query(
        "threads",
        order_by=[("lastMessageAt", "desc"), ("unreadCount", "asc")],
        start_after=(T0, 3),
        limit=4,
    )
    pb = _structured(store, q)
    assert [o.field.field_path for o in pb.order_by] == ["lastMessageAt", "unreadCount"]
    assert pb.order_by[0].direction == StructuredQuery.Direction.DESCENDING
    assert pb.start_at.before is False  # start *after*: the cursor row itself is excluded
    assert pb.start_at.values[0].timestamp_value == T0
    assert pb.start_at.values[1].integer_value == 3
    assert pb.limit == 4


def test_field_paths_with_odd_characters_are_quoted(store: Any) -> None:
    pb = _structured(store, query("clients", where=[("ledger.+40722.total", ">", 0)]))
    assert pb.where.field_filter.field.field_path == "ledger.`+40722`.total"


def test_collection_group_queries_span_all_descendants(store: Any) -> None:
    pb = _structured(store, query("messages", where=[("waMessageId", "==", "W")], group=True))
    assert pb.from_[0].collection_id == "messages" and pb.from_[0].all_descendants is True
