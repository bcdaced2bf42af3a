"""File-level steps of a backup and a restore: consistent copies, hashes, checks.

A SQLite file in use is copied with SQLite's online backup API (a consistent snapshot even while
the daemon writes, WAL included); the copy is switched to a rollback journal so it is one
self-contained file whose hash stays valid. Any other file (the simulated transport's session
credentials, media, keys) is copied byte for byte; the daemon replaces those atomically, so a
read never sees half of one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from pathlib import Path
from urllib.parse import quote

from session_daemon.ops.layout import is_sqlite_file

_CHUNK = 1 << 20


class BackupError(Exception):
    """A clear, expected failure (shown to the operator without a stack trace)."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sqlite_uri(path: Path, mode: str) -> str:
    """A `file:` URI for `path` (quoted: a `?` or `#` in a folder name is not a parameter)."""
    return f"file:{quote(str(path.absolute()))}?mode={mode}"


def copy_sqlite(src: Path, dst: Path) -> None:
    """A consistent copy of a live SQLite database (online backup API, one step)."""
    # mode=rw, not ro: a read-only connection to a WAL database the daemon has closed leaves
    # -wal/-shm files behind, owned by whoever ran the backup (root: the daemon could not open
    # its store again). A read-write one removes them at close; it never creates the database.
    source = sqlite3.connect(sqlite_uri(src, "rw"), uri=True, timeout=30)
    try:
        target = sqlite3.connect(str(dst))
        try:
            source.backup(target)
            target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            target.close()
    except sqlite3.Error as exc:
        raise BackupError(f"cannot copy the SQLite database {src}: {exc}") from None
    finally:
        source.close()
    fsync_file(dst)


def copy_file(src: Path, dst: Path) -> None:
    shutil.copyfile(src, dst)
    shutil.copymode(src, dst)
    fsync_file(dst)


def copy_any(src: Path, dst: Path) -> str:
    """Copy `src` to `dst` (SQLite-aware); returns the kind recorded in the manifest."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if is_sqlite_file(src):
        copy_sqlite(src, dst)
        return "sqlite"
    copy_file(src, dst)
    return "file"


def check_sqlite(path: Path) -> str | None:
    """Why `path` is not a sound SQLite database, or None. Opened immutable: never written."""
    if not is_sqlite_file(path):
        return "not a SQLite database"
    try:
        conn = sqlite3.connect(sqlite_uri(path, "ro") + "&immutable=1", uri=True)
        try:
            verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return f"unreadable SQLite database ({exc})"
    return None if verdict == "ok" else f"damaged SQLite database ({verdict})"
