"""The local durable journal of the inbound pipeline: one SQLite file (WAL, synchronous=FULL).

An entry is appended before the transport is told "got it" and removed only after the store write
that it describes succeeded, so a crash at any point loses nothing that was acknowledged: the
entries still in the file are replayed at the next start (the store's atomic `create` makes the
replay harmless). `append` takes many entries at once: the pipeline's group commit writes every
event that arrived during the previous fsync in one transaction.

The journal also keeps the LID → phone mappings the pipeline learned, so a parked LID message can
still be re-homed after a restart.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = ["JOURNAL_FILE_NAME", "Journal", "journal_file"]

JOURNAL_FILE_NAME = "inbound-journal.sqlite3"
_FILE_SUFFIXES = (".db", ".sqlite", ".sqlite3", ".journal")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    seq     INTEGER PRIMARY KEY,
    kind    TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS lid_map (
    account TEXT NOT NULL,
    lid     TEXT NOT NULL,
    pn      TEXT NOT NULL,
    PRIMARY KEY (account, lid)
) WITHOUT ROWID;
"""


def journal_file(path: str | Path) -> Path:
    """The journal file for a configured path: the path itself when it names a file (by its
    suffix), else a file inside that directory."""
    p = Path(path)
    return p if p.suffix in _FILE_SUFFIXES else p / JOURNAL_FILE_NAME


class Journal:
    """Thread-safe (one connection behind a lock; every call is one short transaction)."""

    def __init__(self, path: str | Path) -> None:
        self.path = journal_file(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA busy_timeout=30000")
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")  # a commit is on disk when it returns
        self._conn.executescript(_SCHEMA)
        row = self._conn.execute("SELECT COALESCE(MAX(seq), 0) FROM entries").fetchone()
        self._next_seq = int(row[0]) + 1
        self.commits = 0

    def append(
        self, entries: Sequence[tuple[str, str]], mappings: Iterable[tuple[str, str, str]] = ()
    ) -> list[int]:
        """Write `(kind, payload)` entries and `(account, lid, pn)` mappings in one durable
        transaction; returns the entries' sequence numbers (in order)."""
        with self._lock:
            first = self._next_seq
            seqs = list(range(first, first + len(entries)))
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(
                    "INSERT INTO entries(seq, kind, payload) VALUES (?,?,?)",
                    [(s, k, p) for s, (k, p) in zip(seqs, entries, strict=True)],
                )
                conn.executemany(
                    "INSERT INTO lid_map(account, lid, pn) VALUES (?,?,?) "
                    "ON CONFLICT(account, lid) DO UPDATE SET pn = excluded.pn",
                    list(mappings),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            self._next_seq = first + len(entries)
            self.commits += 1
            return seqs

    def remove(self, seqs: Sequence[int]) -> None:
        """Forget entries whose store write succeeded (never store data: only this file)."""
        if not seqs:
            return
        with self._lock:
            conn = self._conn
            # No fsync for a removal: if a crash undoes it, the entry is replayed and the store's
            # dedup skips it. The next append's fsync makes it durable anyway (same WAL).
            conn.execute("PRAGMA synchronous=NORMAL")
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    conn.executemany("DELETE FROM entries WHERE seq = ?", [(s,) for s in seqs])
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            finally:
                conn.execute("PRAGMA synchronous=FULL")

    def entries(self) -> list[tuple[int, str, str]]:
        """Every entry still in the journal, oldest first: what a restart must replay."""
        with self._lock:
            return list(self._conn.execute("SELECT seq, kind, payload FROM entries ORDER BY seq"))

    def mappings(self) -> dict[tuple[str, str], str]:
        with self._lock:
            rows = self._conn.execute("SELECT account, lid, pn FROM lid_map").fetchall()
        return {(a, lid): pn for a, lid, pn in rows}

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()
