"""`SqliteStore`: the embedded document store (one file, WAL, transactional).

Every document is one row: its path, its parent collection path, the collection id (for
collection-group queries), its data as JSON, and a global write sequence number that drives the
change stream (which therefore also sees writes made by other processes on the same file).

Timestamps are stored as strings `"\\x01T<UTC ISO, fixed width>"`: they sort chronologically,
compare correctly in SQL, and sort before ordinary strings as Firestore's type order wants.
Writers take SQLite's write lock up front (`BEGIN IMMEDIATE`), so a transaction's reads cannot
be invalidated by another writer: there is nothing to retry except a busy timeout.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from shared.store import values
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
    collection_of,
    split_path,
)

T = TypeVar("T")

_TS_PREFIX = "\x01T"
_TS_ESCAPED = "\\u0001T"
_TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

# (collection id, fields) pairs that get an expression index: the queries the code runs.
DEFAULT_INDEXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("threads", ("accountId", "lastMessageAt")),
    ("messages", ("tsClient",)),
    ("messages", ("waMessageId",)),
    ("outbox", ("status", "nextAttemptAt")),
    ("outbox", ("accountId", "status")),
    ("evenimente", ("phoneE164", "date")),
    ("evenimente", ("isArchived", "archivedAt")),
    ("evenimente", ("clientRequestId",)),
    ("accounts", ("status",)),
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    path   TEXT PRIMARY KEY,
    parent TEXT NOT NULL,
    coll   TEXT NOT NULL,
    data   TEXT NOT NULL,
    seq    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS docs_parent_seq ON docs(parent, seq);
CREATE INDEX IF NOT EXISTS docs_coll ON docs(coll);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta(key, value) VALUES ('seq', 0);
"""

WriteKind = Literal["create", "set", "merge", "update"]
_Op = tuple[WriteKind, str, dict[str, Any]]


# ---- value encoding ------------------------------------------------------------------------


def _encode_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return encode_timestamp(value)
    raise TypeError(f"unsupported type {type(value).__name__}")


def encode_timestamp(value: datetime) -> str:
    return _TS_PREFIX + value.astimezone(UTC).strftime(_TS_FORMAT)


def _dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, default=_encode_default, separators=(",", ":"), ensure_ascii=False)


def _decode_value(value: Any) -> Any:
    if isinstance(value, str):
        if value.startswith(_TS_PREFIX):
            # Our own fixed format; fromisoformat reads it (Z included) 5x faster than strptime.
            return datetime.fromisoformat(value[2:])
        return value
    if isinstance(value, dict):
        return {k: _decode_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode_value(v) for v in value]
    return value


def _loads(text: str) -> dict[str, Any]:
    data = json.loads(text)
    if _TS_ESCAPED in text or _TS_PREFIX in text:
        data = _decode_value(data)
    return data


def _sql_param(value: Any) -> Any:
    if isinstance(value, datetime):
        return encode_timestamp(value)
    if isinstance(value, bool):
        return int(value)
    return value


def _json_path(field: str) -> str:
    parts = values.split_field_path(field)
    return "$" + "".join('."' + p.replace('"', '""') + '"' for p in parts)


def _field_sql(field: str) -> str:
    # The path is embedded as a literal (not a parameter) so expression indexes can match.
    return "json_extract(data, '" + _json_path(field).replace("'", "''") + "')"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _type_sql(field: str) -> str:
    return "json_type(data, '" + _json_path(field).replace("'", "''") + "')"


# ---- the store -----------------------------------------------------------------------------


class _Tx:
    """Transaction handle: reads go to the locked connection, writes are applied at the end."""

    def __init__(self, store: SqliteStore, conn: sqlite3.Connection) -> None:
        self._store = store
        self._conn = conn
        self.ops: list[_Op] = []

    def get(self, path: str) -> Snapshot | None:
        split_path(path)
        return self._store._get_one(self._conn, path)

    def query(self, query: Query) -> list[Snapshot]:
        return self._store._run_query(self._conn, query)

    def create(self, path: str, data: dict[str, Any]) -> None:
        self.ops.append(_checked("create", path, data))

    def set(self, path: str, data: dict[str, Any], *, merge: bool = False) -> None:
        self.ops.append(_checked("merge" if merge else "set", path, data))

    def update(self, path: str, data: dict[str, Any]) -> None:
        self.ops.append(_checked("update", path, data))


class _Batch:
    def __init__(self, store: SqliteStore) -> None:
        self._store = store
        self._ops: list[_Op] = []
        self._committed = False

    def create(self, path: str, data: dict[str, Any]) -> None:
        self._ops.append(_checked("create", path, data))

    def set(self, path: str, data: dict[str, Any], *, merge: bool = False) -> None:
        self._ops.append(_checked("merge" if merge else "set", path, data))

    def update(self, path: str, data: dict[str, Any]) -> None:
        self._ops.append(_checked("update", path, data))

    def commit(self) -> None:
        if self._committed:
            raise StoreError("batch already committed")
        self._committed = True
        if self._ops:
            self._store._write(self._ops)


def _checked(kind: WriteKind, path: str, data: dict[str, Any]) -> _Op:
    split_path(path)
    if not isinstance(data, dict):
        raise values.InvalidValue("document data must be a map")
    values.validate(data)
    if kind == "update":
        for key in data:
            values.split_field_path(key)
    return (kind, path, data)


class SqliteStore:
    """The embedded `DocumentStore`. Safe to share between threads (one connection per thread)
    and between processes (SQLite locking; the change stream polls the write sequence)."""

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
        busy_timeout_s: float = 30.0,
        indexes: Iterable[tuple[str, tuple[str, ...]]] = DEFAULT_INDEXES,
        watch_interval_s: float = 0.05,
    ) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._synchronous = synchronous
        self._busy_ms = int(busy_timeout_s * 1000)
        self._watch_interval = watch_interval_s
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._closed = False
        self._written = threading.Condition()
        self._watchers: list[threading.Thread] = []
        conn = self._conn()
        conn.executescript(_SCHEMA)
        for coll, fields in indexes:
            self._ensure_index(conn, coll, fields)

    # -- connections

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError("store is closed")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout={self._busy_ms}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self._synchronous}")
            self._local.conn = conn
            with self._conns_lock:
                self._conns.append(conn)
        return conn

    def _ensure_index(self, conn: sqlite3.Connection, coll: str, fields: Sequence[str]) -> None:
        # Partial: only that collection's rows pay for the index (queries name `coll` literally).
        name = "ix_" + "_".join([coll, *fields]).replace(".", "_").replace('"', "")
        cols = ", ".join(_field_sql(f) for f in fields)
        conn.execute(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON docs({cols}) WHERE coll = {_literal(coll)}'
        )

    # -- reads

    def _get_one(self, conn: sqlite3.Connection, path: str) -> Snapshot | None:
        row = conn.execute("SELECT data FROM docs WHERE path = ?", (path,)).fetchone()
        return Snapshot(path, _loads(row[0])) if row else None

    def get(self, path: str) -> Snapshot | None:
        split_path(path)
        return self._get_one(self._conn(), path)

    def get_many(self, paths: Sequence[str]) -> list[Snapshot | None]:
        for p in paths:
            split_path(p)
        found: dict[str, Snapshot] = {}
        conn = self._conn()
        unique = list(dict.fromkeys(paths))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for path, data in conn.execute(
                f"SELECT path, data FROM docs WHERE path IN ({marks})", chunk
            ):
                found[path] = Snapshot(path, _loads(data))
        return [found.get(p) for p in paths]

    def query(self, query: Query) -> list[Snapshot]:
        return self._run_query(self._conn(), query)

    def _run_query(self, conn: sqlite3.Connection, q: Query) -> list[Snapshot]:
        sql, params = _compile_query(q)
        return [Snapshot(path, _loads(data)) for path, data in conn.execute(sql, params)]

    # -- writes

    def create(self, path: str, data: dict[str, Any]) -> None:
        self._write([_checked("create", path, data)])

    def set(self, path: str, data: dict[str, Any], *, merge: bool = False) -> None:
        self._write([_checked("merge" if merge else "set", path, data)])

    def update(self, path: str, data: dict[str, Any]) -> None:
        self._write([_checked("update", path, data)])

    def batch(self) -> _Batch:
        return _Batch(self)

    def transaction(self, fn: Callable[[_Tx], T], *, max_attempts: int = 10) -> T:
        conn = self._conn()
        delay = 0.01
        for attempt in range(max_attempts):
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or attempt == max_attempts - 1:
                    raise Contention(str(exc)) from exc
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
                continue
            try:
                tx = _Tx(self, conn)
                result = fn(tx)
                changes = self._apply(conn, tx.ops)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            self._notify(changes)
            return result
        raise Contention("transaction did not start")

    def _write(self, ops: list[_Op]) -> None:
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise Contention(str(exc)) from exc
        try:
            changes = self._apply(conn, ops)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._notify(changes)

    def _apply(self, conn: sqlite3.Connection, ops: list[_Op]) -> list[str]:
        """Apply writes inside the caller's open transaction; returns the paths written."""
        if not ops:
            return []
        now = datetime.now(UTC)
        (seq,) = conn.execute("SELECT value FROM meta WHERE key = 'seq'").fetchone()
        # Later ops in one batch see earlier ones: keep the working copies here.
        pending: dict[str, dict[str, Any] | None] = {}
        rows: list[tuple[str, str, str, str, int]] = []
        creates_only = all(kind == "create" for kind, _, _ in ops)
        for kind, path, data in ops:
            if kind == "set" or (kind == "create" and creates_only):
                doc = values.fresh(data, now)
            else:
                old = pending[path] if path in pending else self._read_raw(conn, path)
                if kind == "create":
                    if old is not None:
                        raise AlreadyExists(path)
                    doc = values.fresh(data, now)
                elif kind == "update":
                    if old is None:
                        raise NotFound(path)
                    doc = old
                    values.apply_update(doc, data, now)
                else:  # merge
                    doc = old if old is not None else {}
                    values.merge_into(doc, data, now)
            pending[path] = doc
            seq += 1
            parent = collection_of(path)
            rows.append((path, parent, parent.rsplit("/", 1)[-1], _dumps(doc), seq))
        if creates_only:
            try:
                conn.executemany(
                    "INSERT INTO docs(path, parent, coll, data, seq) VALUES (?,?,?,?,?)", rows
                )
            except sqlite3.IntegrityError as exc:
                raise AlreadyExists(self._first_existing(conn, ops)) from exc
        else:
            final: dict[str, tuple[str, str, str, str, int]] = {r[0]: r for r in rows}
            conn.executemany(
                "INSERT INTO docs(path, parent, coll, data, seq) VALUES (?,?,?,?,?) "
                "ON CONFLICT(path) DO UPDATE SET data = excluded.data, seq = excluded.seq",
                list(final.values()),
            )
        conn.execute("UPDATE meta SET value = ? WHERE key = 'seq'", (seq,))
        return [r[0] for r in rows]

    def _first_existing(self, conn: sqlite3.Connection, ops: list[_Op]) -> str:
        seen: set[str] = set()
        for _, path, _ in ops:
            if path in seen:
                return path
            seen.add(path)
        # The failed INSERT was rolled back statement-wise; look up which path already exists.
        for _, path, _ in ops:
            if conn.execute("SELECT 1 FROM docs WHERE path = ?", (path,)).fetchone():
                return path
        return ops[0][1]

    def _read_raw(self, conn: sqlite3.Connection, path: str) -> dict[str, Any] | None:
        row = conn.execute("SELECT data FROM docs WHERE path = ?", (path,)).fetchone()
        return _loads(row[0]) if row else None

    # -- change stream

    def _notify(self, paths: list[str]) -> None:
        if paths:
            with self._written:
                self._written.notify_all()

    def _current_seq(self) -> int:
        row = self._conn().execute("SELECT value FROM meta WHERE key = 'seq'").fetchone()
        return int(row[0])

    def watch(
        self, collection: str, callback: Callable[[list[Change]], None]
    ) -> Callable[[], None]:
        """Calls `callback` with the documents of `collection` written after this call, in write
        order. Local writes wake it at once; other processes' writes within `watch_interval_s`."""
        if len(collection.split("/")) % 2 != 1:
            raise InvalidPath(f"not a collection path: {collection!r}")
        stop = threading.Event()
        last = self._current_seq()

        def run() -> None:
            nonlocal last
            while not stop.is_set() and not self._closed:
                try:
                    rows = (
                        self._conn()
                        .execute(
                            "SELECT path, data, seq FROM docs WHERE parent = ? AND seq > ? "
                            "ORDER BY seq",
                            (collection, last),
                        )
                        .fetchall()
                    )
                except (sqlite3.Error, StoreError):
                    if self._closed:
                        return
                    rows = []
                if rows:
                    last = rows[-1][2]
                    try:
                        callback([Change(p, _loads(d)) for p, d, _ in rows])
                    except Exception:  # a watcher's bug must not kill the stream
                        logging.getLogger(__name__).exception("watch callback failed")
                with self._written:
                    if not stop.is_set():
                        self._written.wait(self._watch_interval)

        thread = threading.Thread(target=run, name=f"watch:{collection}", daemon=True)
        thread.start()
        self._watchers.append(thread)

        def unsubscribe() -> None:
            stop.set()
            with self._written:
                self._written.notify_all()
            if thread is not threading.current_thread():
                thread.join(timeout=5)

        return unsubscribe

    # -- lifecycle

    def ping(self) -> bool:
        try:
            self._conn().execute("SELECT 1").fetchone()
            return True
        except (sqlite3.Error, StoreError):
            return False

    def close(self) -> None:
        self._closed = True
        with self._written:
            self._written.notify_all()
        for thread in self._watchers:
            if thread is not threading.current_thread():
                thread.join(timeout=5)
        with self._conns_lock:
            for conn in self._conns:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._conns.clear()


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


# ---- query compilation ----------------------------------------------------------------------

_RANGE_OPS = {"<": "<", "<=": "<=", ">": ">", ">=": ">="}


def _compile_filter(f: Filter, params: list[Any]) -> str:
    col = _field_sql(f.field)
    if f.op == "==":
        if f.value is None:
            return f"{_type_sql(f.field)} = 'null'"
        if isinstance(f.value, bool):
            return f"{_type_sql(f.field)} = '{'true' if f.value else 'false'}'"
        params.append(_sql_param(f.value))
        return f"{col} = ?"
    if f.op == "!=":
        if f.value is None:
            return f"{_type_sql(f.field)} NOT IN ('null')"
        if isinstance(f.value, bool):
            return f"{_type_sql(f.field)} = '{'false' if f.value else 'true'}'"
        params.append(_sql_param(f.value))
        return f"{col} != ?"
    if f.op in _RANGE_OPS:
        params.append(_sql_param(f.value))
        return f"{col} {_RANGE_OPS[f.op]} ?"
    if f.op == "in":
        items = list(f.value)
        if not items:
            return "0"
        params.extend(_sql_param(v) for v in items)
        return f"{col} IN ({','.join('?' * len(items))})"
    if f.op == "array_contains":
        params.append(_sql_param(f.value))
        return (
            "EXISTS (SELECT 1 FROM json_each(data, '"
            + _json_path(f.field).replace("'", "''")
            + "') WHERE value = ?)"
        )
    raise StoreError(f"unsupported operator {f.op!r}")


def _compile_query(q: Query) -> tuple[str, list[Any]]:
    params: list[Any] = []
    if q.group:
        if "/" in q.collection:
            raise InvalidPath("a collection group is named by its id alone")
        clauses = [f"coll = {_literal(q.collection)}"]
    else:
        if len(q.collection.split("/")) % 2 != 1:
            raise InvalidPath(f"not a collection path: {q.collection!r}")
        clauses = [f"coll = {_literal(q.collection.rsplit('/', 1)[-1])}", "parent = ?"]
        params.append(q.collection)
    for f in q.where:
        clauses.append(_compile_filter(f, params))
    for o in q.order_by:
        clauses.append(f"{_type_sql(o.field)} IS NOT NULL")
    if q.start_after is not None:
        if len(q.start_after) > len(q.order_by) or not q.start_after:
            raise StoreError("start_after needs one value per order_by field")
        ors: list[str] = []
        for i, cursor_value in enumerate(q.start_after):
            ands: list[str] = []
            for o, v in zip(q.order_by[:i], q.start_after[:i], strict=True):
                ands.append(f"{_field_sql(o.field)} = ?")
                params.append(_sql_param(v))
            o = q.order_by[i]
            ands.append(f"{_field_sql(o.field)} {'<' if o.direction == 'desc' else '>'} ?")
            params.append(_sql_param(cursor_value))
            ors.append("(" + " AND ".join(ands) + ")")
        clauses.append("(" + " OR ".join(ors) + ")")
    order = [
        f"{_field_sql(o.field)} {'DESC' if o.direction == 'desc' else 'ASC'}" for o in q.order_by
    ]
    order.append("path ASC")
    sql = f"SELECT path, data FROM docs WHERE {' AND '.join(clauses)} ORDER BY {', '.join(order)}"
    if q.limit is not None:
        if q.limit < 0:
            raise StoreError("limit must not be negative")
        sql += f" LIMIT {int(q.limit)}"
    return sql, params
