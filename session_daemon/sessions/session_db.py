"""Where an account's whatsmeow session lives: a file in the sessions folder
(`SESSIONS_PATH/<accountId>.db`), or its own database on a PostgreSQL server
(`SESSIONS_PATH=postgres://...`, `session_daemon/sessions/pg_sessions.py`).

The session manager asks a `SessionLocations` three things, all blocking (called off the loop):
where to open the session (creating what must exist first), whether a paired session is stored,
and to forget it (a new pairing, a logout).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from shared.paths import check_id

if TYPE_CHECKING:
    from session_daemon.config import Settings
    from session_daemon.transport.port import SessionLocation


class SessionLocations(Protocol):
    def location(self, account_id: str) -> SessionLocation: ...

    def exists(self, account_id: str) -> bool: ...

    def wipe(self, account_id: str) -> None: ...


def wipe_session_db(db: Path) -> None:
    """Remove one account's whatsmeow session database (and its WAL/SHM side files)."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{db}{suffix}").unlink()


class FolderSessions:
    """One SQLite file per account in the sessions folder (shared by daemons on one machine)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def path(self, account_id: str) -> Path:
        # the id becomes a file name: one path segment (no '/', '..', control characters)
        return self.folder / f"{check_id(account_id, 'accountId')}.db"

    def location(self, account_id: str) -> Path:
        return self.path(account_id)

    def exists(self, account_id: str) -> bool:
        return self.path(account_id).exists()

    def wipe(self, account_id: str) -> None:
        wipe_session_db(self.path(account_id))


class BadSessionsOption(ValueError):
    """`--sessions-path` / SESSIONS_PATH cannot be read as a folder or a postgres:// URL."""


def parse_sessions_option(raw: str | Path) -> tuple[Path | None, str | None]:
    """(folder, None) or (None, postgres URL) from `--sessions-path` / SESSIONS_PATH.

    The option must arrive as text: `Path("postgres://h/p")` folds the '//' into
    `postgres:/h/p`, which would silently become a folder named `postgres:`; that is refused."""
    from session_daemon.sessions.pg_sessions import SCHEMES, is_postgres_url

    text = str(raw)
    if is_postgres_url(text):
        return None, text
    if text.lower().startswith(tuple(f"{scheme}:/" for scheme in SCHEMES)):
        raise BadSessionsOption(f"{text!r} looks like a postgres URL without its '//'")
    return Path(text), None


def session_locations(settings: Settings) -> SessionLocations:
    if settings.sessions_url:
        from session_daemon.sessions.pg_sessions import PostgresSessions, parse_sessions_url

        return PostgresSessions(parse_sessions_url(settings.sessions_url))
    return FolderSessions(settings.sessions_path)
