"""An account's whatsmeow session database on disk (`SESSIONS_PATH/<accountId>.db`)."""

from __future__ import annotations

import contextlib
from pathlib import Path


def wipe_session_db(db: Path) -> None:
    """Remove one account's whatsmeow session database (and its WAL/SHM side files)."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{db}{suffix}").unlink()
