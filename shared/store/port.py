"""The document store port: the few operations the domain needs, and no more.

Paths are Firestore paths (`collection/doc/collection/doc`). Both adapters (SQLite and Firestore)
implement exactly these semantics, checked by one contract test suite.

Values are JSON-like: None, bool, int, float, str, list, dict, and timezone-aware `datetime`
(Firestore Timestamps). Writes may contain the sentinels of `shared.store.sentinels`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

T = TypeVar("T")

Op = Literal["==", "!=", "<", "<=", ">", ">=", "in", "array_contains"]
Direction = Literal["asc", "desc"]


class StoreError(Exception):
    """Base of every store error."""


class AlreadyExists(StoreError):
    """`create` found a document at the path: the dedup primitive lost the race."""


class NotFound(StoreError):
    """`update` of a document that does not exist."""


class Contention(StoreError):
    """A transaction kept conflicting after every retry."""


class InvalidPath(StoreError, ValueError):
    """A path that is not a document (or collection) path."""


@dataclass(frozen=True)
class Snapshot:
    """One document as read: its full path and its data (a fresh dict the caller may keep)."""

    path: str
    data: dict[str, Any]

    @property
    def id(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def collection(self) -> str:
        return self.path.rsplit("/", 1)[0]

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)


@dataclass(frozen=True)
class Filter:
    field: str
    op: Op
    value: Any


@dataclass(frozen=True)
class Order:
    field: str
    direction: Direction = "asc"


@dataclass(frozen=True)
class Query:
    """A query over one collection (path like `threads/T/messages`) or, with `group=True`,
    over every collection with that id (`messages`) anywhere in the tree."""

    collection: str
    where: tuple[Filter, ...] = ()
    order_by: tuple[Order, ...] = ()
    limit: int | None = None
    start_after: tuple[Any, ...] | None = None  # values of the order_by fields, in order
    group: bool = False


@dataclass(frozen=True)
class Change:
    """One document written in a watched collection. `data` is None when it was removed."""

    path: str
    data: dict[str, Any] | None


class WriteBatch(Protocol):
    """Writes applied atomically by `commit()` (all or none)."""

    def create(self, path: str, data: dict[str, Any]) -> None: ...
    def set(self, path: str, data: dict[str, Any], *, merge: bool = False) -> None: ...
    def update(self, path: str, data: dict[str, Any]) -> None: ...
    def commit(self) -> None: ...


class Transaction(Protocol):
    """Reads first, then writes; the whole function is retried on contention."""

    def get(self, path: str) -> Snapshot | None: ...
    def query(self, query: Query) -> list[Snapshot]: ...
    def create(self, path: str, data: dict[str, Any]) -> None: ...
    def set(self, path: str, data: dict[str, Any], *, merge: bool = False) -> None: ...
    def update(self, path: str, data: dict[str, Any]) -> None: ...


class Unsubscribe(Protocol):
    def __call__(self) -> None: ...


class DocumentStore(Protocol):
    """The port. `update` takes dotted field paths (`"a.b": 1`) like Firestore; `set(merge=True)`
    merges maps deeply. A batch fails whole if any `create` finds an existing document."""

    def get(self, path: str) -> Snapshot | None: ...
    def get_many(self, paths: Sequence[str]) -> list[Snapshot | None]: ...
    def create(self, path: str, data: dict[str, Any]) -> None: ...
    def set(self, path: str, data: dict[str, Any], *, merge: bool = False) -> None: ...
    def update(self, path: str, data: dict[str, Any]) -> None: ...
    def batch(self) -> WriteBatch: ...
    def transaction(self, fn: Callable[[Transaction], T], *, max_attempts: int = 10) -> T: ...
    def query(self, query: Query) -> list[Snapshot]: ...
    def watch(self, collection: str, callback: Callable[[list[Change]], None]) -> Unsubscribe: ...
    def ping(self) -> bool: ...
    def close(self) -> None: ...


def query(
    collection: str,
    *,
    where: Iterable[tuple[str, Op, Any]] = (),
    order_by: Iterable[tuple[str, Direction] | str] = (),
    limit: int | None = None,
    start_after: Sequence[Any] | None = None,
    group: bool = False,
) -> Query:
    """Build a `Query` from plain tuples: `query("threads", where=[("accountId", "==", a)],
    order_by=[("lastMessageAt", "desc")], limit=100)`."""
    orders = tuple(Order(o) if isinstance(o, str) else Order(o[0], o[1]) for o in order_by)
    return Query(
        collection=collection,
        where=tuple(Filter(f, op, v) for f, op, v in where),
        order_by=orders,
        limit=limit,
        start_after=tuple(start_after) if start_after is not None else None,
        group=group,
    )


def split_path(path: str) -> list[str]:
    """Segments of a document path; raises InvalidPath unless it names a document."""
    parts = path.split("/")
    if len(parts) < 2 or len(parts) % 2 or any(not p or p in (".", "..") for p in parts):
        raise InvalidPath(f"not a document path: {path!r}")
    return parts


def collection_of(path: str) -> str:
    return path.rsplit("/", 1)[0]


__all__ = [
    "AlreadyExists",
    "Change",
    "Contention",
    "DocumentStore",
    "Filter",
    "InvalidPath",
    "NotFound",
    "Order",
    "Query",
    "Snapshot",
    "StoreError",
    "Transaction",
    "Unsubscribe",
    "WriteBatch",
    "collection_of",
    "query",
    "split_path",
]
