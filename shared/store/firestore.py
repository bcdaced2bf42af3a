"""`FirestoreStore`: the production `DocumentStore` on Cloud Firestore (`google-cloud-firestore`).

It honours FIRESTORE_EMULATOR_HOST (the client then uses anonymous credentials by itself).
Semantics follow the port and `SqliteStore`; the differences that remain are Firestore's own:

- a query with `order_by` breaks ties by document name in the direction of the last order
  (SQLite always breaks them ascending), and range/inequality filters and orders may need
  composite indexes (`firestore.indexes.json`);
- `in` takes at most 30 values in an ordered or limited query (an unordered one is split);
- `watch` is a real-time listener (`on_snapshot`); changes that arrive together are reported in
  update-time order. Its initial snapshot reads the whole collection once (billed reads), so
  watch collections that stay small or add a filtered watch to the port when one grows;
- `set(merge=True)` with an empty map value replaces an existing map with `{}` (SQLite keeps it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.field_path import FieldPath

from shared.store import sentinels, values
from shared.store.port import (
    AlreadyExists,
    Change,
    Contention,
    Filter,
    InvalidPath,
    NotFound,
    Query,
    Snapshot,
    StoreError,
    split_path,
)

T = TypeVar("T")

log = logging.getLogger(__name__)

# The port's operators are Firestore's own names.
_OPS = frozenset({"==", "!=", "<", "<=", ">", ">=", "in", "array_contains"})
_MAX_IN_VALUES = 30
_WATCH_START_TIMEOUT_S = 30.0
_PING_PATH = "_health/ping"
_PING_TIMEOUT_S = 5.0
_TX_BACKOFF_INITIAL_S = 0.05
_TX_BACKOFF_MAX_S = 1.0


# ---- errors -------------------------------------------------------------------------------------


@contextmanager
def _mapped_errors(path: str = "", *, keep_aborted: bool = False) -> Iterator[None]:
    """Translate the client's exceptions into the port's. `keep_aborted`: inside a transaction,
    where Aborted must reach the retry loop as it is."""
    try:
        yield
    except gexc.AlreadyExists as exc:
        raise AlreadyExists(path or str(exc.message)) from exc
    except gexc.NotFound as exc:
        raise NotFound(path or str(exc.message)) from exc
    except gexc.Aborted as exc:
        if keep_aborted:
            raise
        raise Contention(str(exc.message)) from exc
    except gexc.GoogleAPICallError as exc:
        raise StoreError(f"firestore: {exc}") from exc


# ---- values -------------------------------------------------------------------------------------


def _to_firestore(value: Any, *, drop_deletes: bool = False) -> Any:
    """Our values and sentinels → the client's. `drop_deletes`: create/set without merge, where
    Firestore rejects DELETE_FIELD and the port treats it as "absent"."""
    if value is sentinels.SERVER_TIMESTAMP:
        return firestore.SERVER_TIMESTAMP
    if value is sentinels.DELETE_FIELD:
        return firestore.DELETE_FIELD
    if isinstance(value, sentinels.Increment):
        return firestore.Increment(value.amount)
    if isinstance(value, sentinels.ArrayUnion):
        return firestore.ArrayUnion([_to_firestore(v) for v in value.values])
    if isinstance(value, sentinels.ArrayRemove):
        return firestore.ArrayRemove([_to_firestore(v) for v in value.values])
    if isinstance(value, Mapping):
        return {
            k: _to_firestore(v, drop_deletes=drop_deletes)
            for k, v in value.items()
            if not (drop_deletes and v is sentinels.DELETE_FIELD)
        }
    if isinstance(value, list | tuple):
        return [_to_firestore(v) for v in value]
    return value


def _from_firestore(value: Any) -> Any:
    """The client's values → ours: plain tz-aware `datetime` (not DatetimeWithNanoseconds)."""
    if isinstance(value, datetime):
        tz = value.tzinfo or UTC
        return datetime(
            value.year,
            value.month,
            value.day,
            value.hour,
            value.minute,
            value.second,
            value.microsecond,
            tzinfo=tz,
        ).astimezone(UTC)
    if isinstance(value, dict):
        return {k: _from_firestore(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_firestore(v) for v in value]
    return value


def _checked(path: str, data: dict[str, Any], *, dotted: bool = False) -> None:
    split_path(path)
    if not isinstance(data, dict):
        raise values.InvalidValue("document data must be a map")
    values.validate(data)
    if dotted:
        for key in data:
            values.split_field_path(key)


def _field_path(dotted: str) -> str:
    """Our dotted field path → Firestore's quoted form (so `+4072...` keys are safe)."""
    return FieldPath(*values.split_field_path(dotted)).to_api_repr()


def _update_data(data: dict[str, Any]) -> dict[str, Any]:
    # `update` keys are dotted paths; the client splits them on "." itself.
    return {key: _to_firestore(value) for key, value in data.items()}


def _snapshot(doc: Any) -> Snapshot | None:
    if not doc.exists:
        return None
    return Snapshot(doc.reference.path, _from_firestore(doc.to_dict() or {}))


# ---- batch and transaction handles ---------------------------------------------------------------


class _Batch:
    """An atomic batch (Firestore commits it whole or not at all)."""

    def __init__(self, store: FirestoreStore) -> None:
        self._store = store
        self._batch = store.client.batch()
        self._committed = False

    def create(self, path: str, data: dict[str, Any]) -> None:
        _checked(path, data)
        self._batch.create(self._store._doc(path), _to_firestore(data, drop_deletes=True))

    def set(self, path: str, data: dict[str, Any], *, merge: bool = False) -> None:
        _checked(path, data)
        self._batch.set(
            self._store._doc(path), _to_firestore(data, drop_deletes=not merge), merge=merge
        )

    def update(self, path: str, data: dict[str, Any]) -> None:
        _checked(path, data, dotted=True)
        self._batch.update(self._store._doc(path), _update_data(data))

    def commit(self) -> None:
        if self._committed:
            raise StoreError("batch already committed")
        self._committed = True
        if len(self._batch) == 0:
            return
        with _mapped_errors():
            self._batch.commit()


class _Tx:
    """The port's transaction over a client transaction: reads first, then buffered writes."""

    def __init__(self, store: FirestoreStore, transaction: Any) -> None:
        self._store = store
        self._tx = transaction

    def get(self, path: str) -> Snapshot | None:
        split_path(path)
        with _mapped_errors(path, keep_aborted=True):
            return _snapshot(self._store._doc(path).get(transaction=self._tx))

    def query(self, query: Query) -> list[Snapshot]:
        return self._store._run_query(query, transaction=self._tx)

    def create(self, path: str, data: dict[str, Any]) -> None:
        _checked(path, data)
        self._tx.create(self._store._doc(path), _to_firestore(data, drop_deletes=True))

    def set(self, path: str, data: dict[str, Any], *, merge: bool = False) -> None:
        _checked(path, data)
        self._tx.set(
            self._store._doc(path), _to_firestore(data, drop_deletes=not merge), merge=merge
        )

    def update(self, path: str, data: dict[str, Any]) -> None:
        _checked(path, data, dotted=True)
        self._tx.update(self._store._doc(path), _update_data(data))


# ---- the store ----------------------------------------------------------------------------------


class FirestoreStore:
    """The production `DocumentStore`. Thread-safe (the client is)."""

    def __init__(self, project: str, database: str | None = None, client: Any = None) -> None:
        if client is None:
            kwargs: dict[str, Any] = {"project": project}
            if database:
                kwargs["database"] = database
            client = firestore.Client(**kwargs)
        self.client = client
        self._watches: list[Any] = []
        self._watches_lock = threading.Lock()

    def _doc(self, path: str) -> Any:
        return self.client.document(path)

    # -- reads

    def get(self, path: str) -> Snapshot | None:
        split_path(path)
        with _mapped_errors(path):
            return _snapshot(self._doc(path).get())

    def get_many(self, paths: Sequence[str]) -> list[Snapshot | None]:
        for p in paths:
            split_path(p)
        unique = list(dict.fromkeys(paths))
        found: dict[str, Snapshot] = {}
        with _mapped_errors():
            for doc in self.client.get_all([self._doc(p) for p in unique]):
                snap = _snapshot(doc)
                if snap is not None:
                    found[snap.path] = snap
        return [found.get(p) for p in paths]

    def query(self, query: Query) -> list[Snapshot]:
        return self._run_query(query)

    def _run_query(self, q: Query, transaction: Any = None) -> list[Snapshot]:
        chunks = _split_long_in(q)
        if chunks is not None:
            # Firestore caps `in` at 30 values; an unordered, unlimited query can be run in
            # parts and merged (in document-path order, as a single query would return them).
            merged: dict[str, Snapshot] = {}
            for part in chunks:
                for snap in self._run_query(part, transaction):
                    merged[snap.path] = snap
            return [merged[path] for path in sorted(merged)]
        built = self._build_query(q)
        if built is None:
            return []
        with _mapped_errors(keep_aborted=transaction is not None):
            docs = built.get(transaction=transaction) if transaction else built.get()
        return [s for s in (_snapshot(d) for d in docs) if s is not None]

    def _build_query(self, q: Query) -> Any:
        """The client query for `q`, or None when it can match nothing (an empty `in`)."""
        built: Any
        if q.group:
            if "/" in q.collection:
                raise InvalidPath("a collection group is named by its id alone")
            built = self.client.collection_group(q.collection)
        else:
            if not q.collection or len(q.collection.split("/")) % 2 != 1:
                raise InvalidPath(f"not a collection path: {q.collection!r}")
            built = self.client.collection(q.collection)
        for f in q.where:
            if f.op not in _OPS:
                raise StoreError(f"unsupported operator {f.op!r}")
            value = f.value
            if f.op == "in":
                value = [_to_firestore(v) for v in f.value]
                if not value:
                    return None
                if len(value) > _MAX_IN_VALUES:
                    raise StoreError(
                        f"'in' takes at most {_MAX_IN_VALUES} values in an ordered or limited query"
                    )
            built = built.where(filter=firestore.FieldFilter(_field_path(f.field), f.op, value))
        for o in q.order_by:
            direction = (
                firestore.Query.DESCENDING if o.direction == "desc" else firestore.Query.ASCENDING
            )
            built = built.order_by(_field_path(o.field), direction=direction)
        if q.start_after is not None:
            if not q.start_after or len(q.start_after) > len(q.order_by):
                raise StoreError("start_after needs one value per order_by field")
            built = built.start_after(list(q.start_after))
        if q.limit is not None:
            if q.limit < 0:
                raise StoreError("limit must not be negative")
            if q.limit == 0:
                return None
            built = built.limit(q.limit)
        return built

    # -- writes

    def create(self, path: str, data: dict[str, Any]) -> None:
        _checked(path, data)
        with _mapped_errors(path):
            self._doc(path).create(_to_firestore(data, drop_deletes=True))

    def set(self, path: str, data: dict[str, Any], *, merge: bool = False) -> None:
        _checked(path, data)
        with _mapped_errors(path):
            self._doc(path).set(_to_firestore(data, drop_deletes=not merge), merge=merge)

    def update(self, path: str, data: dict[str, Any]) -> None:
        _checked(path, data, dotted=True)
        if not data:
            # Firestore rejects an empty update; the port's meaning is "must exist".
            if self.get(path) is None:
                raise NotFound(path)
            return
        with _mapped_errors(path):
            self._doc(path).update(_update_data(data))

    def batch(self) -> _Batch:
        return _Batch(self)

    def transaction(self, fn: Callable[[_Tx], T], *, max_attempts: int = 10) -> T:
        """Runs `fn` in a Firestore transaction, again on contention (Aborted), `max_attempts`
        times in all; then raises Contention. The client retries an aborted commit itself
        (keeping the transaction's place in line); a read aborted under contention is retried
        here, after a short backoff."""
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

        @firestore.transactional
        def run(transaction: Any) -> T:
            return fn(_Tx(self, transaction))

        remaining = max_attempts
        delay = _TX_BACKOFF_INITIAL_S
        while True:
            try:
                with _mapped_errors(keep_aborted=True):
                    return run(self.client.transaction(max_attempts=remaining))
            except gexc.Aborted as exc:  # raised by a read inside `fn`
                remaining -= 1
                if remaining <= 0:
                    raise Contention(f"transaction aborted {max_attempts} times") from exc
                time.sleep(delay)
                delay = min(delay * 2, _TX_BACKOFF_MAX_S)
            except ValueError as exc:  # the client's "failed to commit in N attempts"
                if isinstance(exc.__cause__, gexc.Aborted):
                    raise Contention(f"transaction failed after {max_attempts} attempts") from exc
                raise

    # -- change stream

    def watch(
        self, collection: str, callback: Callable[[list[Change]], None]
    ) -> Callable[[], None]:
        """Calls `callback` (on the listener's thread) with the documents of `collection` written
        after this call. Returns once the listener is live, so no later write is missed."""
        if not collection or len(collection.split("/")) % 2 != 1:
            raise InvalidPath(f"not a collection path: {collection!r}")
        started = threading.Event()
        stopped = threading.Event()

        def on_snapshot(_docs: Any, changes: Iterable[Any], _read_time: Any) -> None:
            if not started.is_set():
                started.set()  # the initial snapshot: documents written before the call
                return
            if stopped.is_set():
                return
            try:
                batch = _changes_in_write_order(changes)
                if batch:
                    callback(batch)
            except Exception:  # a watcher's bug must not kill the stream
                log.exception("watch callback failed")

        watch = self.client.collection(collection).on_snapshot(on_snapshot)
        if not started.wait(_WATCH_START_TIMEOUT_S):
            watch.unsubscribe()
            raise StoreError(f"watch on {collection!r} did not start")
        with self._watches_lock:
            self._watches.append(watch)

        def unsubscribe() -> None:
            stopped.set()
            watch.unsubscribe()
            with self._watches_lock:
                if watch in self._watches:
                    self._watches.remove(watch)

        return unsubscribe

    # -- lifecycle

    def ping(self) -> bool:
        try:
            # No retry: a health check must answer within its timeout, not back off for minutes.
            self._doc(_PING_PATH).get(retry=None, timeout=_PING_TIMEOUT_S)
            return True
        except Exception:  # any failure means "not healthy"; the caller reports it
            log.warning("firestore ping failed", exc_info=True)
            return False

    def close(self) -> None:
        with self._watches_lock:
            watches, self._watches = self._watches, []
        for watch in watches:
            watch.unsubscribe()
        self.client.close()


def _split_long_in(q: Query) -> list[Query] | None:
    """`q` as several queries of at most 30 `in` values each, when it has a longer `in` and
    neither order, limit nor cursor (which a merge of parts could not honour)."""
    long_in = [i for i, f in enumerate(q.where) if f.op == "in" and len(f.value) > _MAX_IN_VALUES]
    if len(long_in) != 1 or q.order_by or q.limit is not None or q.start_after is not None:
        return None
    index = long_in[0]
    f = q.where[index]
    items = list(f.value)
    parts = []
    for start in range(0, len(items), _MAX_IN_VALUES):
        where = list(q.where)
        where[index] = Filter(f.field, "in", items[start : start + _MAX_IN_VALUES])
        parts.append(replace(q, where=tuple(where)))
    return parts


def _changes_in_write_order(changes: Iterable[Any]) -> list[Change]:
    keyed: list[tuple[datetime, str, Change]] = []
    for change in changes:
        doc = change.document
        path = doc.reference.path
        removed = change.type.name == "REMOVED"
        data = None if removed else _from_firestore(doc.to_dict() or {})
        when = doc.update_time or doc.read_time or datetime.min.replace(tzinfo=UTC)
        keyed.append((_from_firestore(when), path, Change(path, data)))
    keyed.sort(key=lambda item: (item[0], item[1]))
    return [c for _, _, c in keyed]


__all__ = ["FirestoreStore"]
