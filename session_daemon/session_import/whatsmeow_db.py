"""Write an imported device as a whatsmeow session database (`SESSIONS_PATH/<accountId>.db`).

- The empty database is made by the bundled library itself, so its schema and version row are
  exactly the ones it expects: neonize's `GetAllDevices` opens the file through whatsmeow's
  `sqlstore` (which creates and upgrades the schema) and finds no device. It runs in a
  throw-away process because every neonize open leaks a database handle that only the end of a
  process frees (notes/neonize.md).
- The file is created 0600 before anything is written (it will hold private keys), filled in
  one transaction with foreign keys on, checked, then renamed over the target: the target is
  either the old file or the complete new one, never half of each.
- An existing target is compared first: the same device with the same rows is left untouched
  (idempotent); the same device with other rows (the daemon has used it since) is kept; another
  device, or a file that is not a readable session database, is replaced only when forced.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Final

from session_daemon.session_import.model import (
    LEFT_EMPTY,
    TABLE_COLUMNS,
    ImportAction,
    ImportedSession,
    Row,
    SessionConflict,
)

EMPTY_DB_TIMEOUT_SECONDS: Final = 60.0
# Run in a child: open the file through neonize (whatsmeow creates the schema), expect no device.
_MAKE_EMPTY_DB = (
    "import sys\n"
    "from neonize.client import ClientFactory\n"
    "sys.exit(3 if ClientFactory.get_all_devices_from_db(sys.argv[1]) else 0)\n"
)
_SIDE_FILES = ("-wal", "-shm", "-journal")


def create_empty_db(path: Path, *, timeout: float = EMPTY_DB_TIMEOUT_SECONDS) -> None:
    """Have the bundled whatsmeow create its empty schema in `path` (an existing empty file is
    an empty SQLite database, so the caller's 0600 file keeps its mode)."""
    env = {**os.environ, "NEONIZE_BOT_TAG": "off"}  # GetAllDevices never dials: no network
    try:
        done = subprocess.run(
            [sys.executable, "-c", _MAKE_EMPTY_DB, str(path)],
            env=env,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError(
            f"neonize did not create the session database in {timeout:.0f} s"
        ) from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).decode("utf-8", "replace").strip().splitlines()[-3:]
        raise RuntimeError(f"neonize could not create the session database: {' | '.join(tail)}")


def _check_schema(con: sqlite3.Connection) -> None:
    """The columns the import writes must exist: a newer bundled whatsmeow that renamed one
    fails here, before any key is written."""
    if con.execute("SELECT count(*) FROM whatsmeow_version").fetchone()[0] != 1:
        raise RuntimeError("the new session database has no whatsmeow version row")
    for table, columns in TABLE_COLUMNS.items():
        present = {row[1] for row in con.execute(f"PRAGMA table_info({table})")}
        missing = [c for c in columns if c not in present]
        if missing:
            raise RuntimeError(f"whatsmeow schema: {table} has no column(s) {', '.join(missing)}")


def read_rows(path: Path) -> tuple[dict[str, list[Row]], dict[str, int]]:
    """The rows of the imported tables (sorted as `ImportedSession.rows()`) and the row count of
    each table the import leaves empty. Read-only."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = {
            table: sorted(con.execute(f"SELECT {', '.join(cols)} FROM {table}").fetchall())
            for table, cols in TABLE_COLUMNS.items()
        }
        empty = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in LEFT_EMPTY}
    finally:
        con.close()
    return rows, empty


def plan(target: Path, session: ImportedSession, *, force: bool) -> ImportAction:
    """What importing `session` over `target` would do; SessionConflict when it must not."""
    if not target.exists():
        return "import"
    try:
        rows, empty = read_rows(target)
    except sqlite3.Error as exc:
        if force:
            return "replace"
        raise SessionConflict(
            f"{target} exists but is not a readable whatsmeow session database ({exc}); "
            "--force replaces it"
        ) from None
    devices = rows["whatsmeow_device"]
    if not devices:
        return "replace"  # a schema without a device (a pairing that never finished)
    theirs = devices[0]
    ours = session.device.row()
    same_device = len(devices) == 1 and theirs[0] == ours[0] and theirs[4] == ours[4]
    if not same_device:
        if force:
            return "replace"
        raise SessionConflict(
            f"{target} holds another device ({theirs[0]}); the source is {ours[0]}: "
            "--force replaces it"
        )
    if rows == session.rows() and not any(empty.values()):
        return "unchanged"
    # The same device with other rows: the daemon has run it since (new pre-keys, Signal
    # sessions). Replacing would throw that state away, so only --force does.
    return "replace" if force else "keep"


def write(target: Path, session: ImportedSession) -> None:
    """Build the database beside `target` and rename it into place (mode 0600)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.import-{os.getpid()}-{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)
    try:
        create_empty_db(tmp)
        _fill(tmp, session)
        os.chmod(tmp, 0o600)
        _fsync(tmp)
        for suffix in _SIDE_FILES:  # a replaced database's journal must not be replayed on ours
            with contextlib.suppress(FileNotFoundError):
                Path(f"{target}{suffix}").unlink()
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    except BaseException:
        for leftover in (tmp, *(Path(f"{tmp}{s}") for s in _SIDE_FILES)):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
        raise


def _fill(path: Path, session: ImportedSession) -> None:
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA foreign_keys=ON")
        _check_schema(con)
        con.execute("BEGIN IMMEDIATE")
        # The device first: every other table's rows reference it.
        for table, rows in session.rows().items():
            cols = TABLE_COLUMNS[table]
            marks = ", ".join("?" for _ in cols)
            con.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", rows)
        problems = con.execute("PRAGMA foreign_key_check").fetchall()
        if problems:
            raise RuntimeError(f"foreign key check failed: {problems[:3]}")
        con.execute("COMMIT")
        if con.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise RuntimeError("integrity check failed on the new session database")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            con.execute("ROLLBACK")
        raise
    finally:
        con.close()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a directory be fsynced
        _fsync(path)


def import_whatsmeow_db(
    target: Path, session: ImportedSession, *, force: bool, dry_run: bool
) -> ImportAction:
    """The neonize transport's import: plan, then (unless dry run) write when there is work."""
    action = plan(target, session, force=force)
    if not dry_run and action in ("import", "replace"):
        write(target, session)
    return action
