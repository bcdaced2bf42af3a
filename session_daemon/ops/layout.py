"""Where one daemon keeps its data, from the same settings `serve` uses.

A backup copies, and a restore puts back, exactly these: the embedded store file (none with a
Firestore store: Google keeps that one), the inbound journal, the session databases (one file per
account, whatever the transport writes there), the instance-id slot files (so a restored daemon
comes back as itself and finds its journal entries) and, on the embedded store, the media files
with the key that signs their links.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from session_daemon.config import Settings
from session_daemon.inbound.journal import journal_file
from session_daemon.leases.identity import SLOT_FILE

SQLITE_MAGIC = b"SQLite format 3\x00"
# Files beside a SQLite database that belong to it (never copied on their own).
SIDE_SUFFIXES = ("-wal", "-shm", "-journal")


@dataclass(frozen=True)
class Layout:
    store_url: str
    store_file: Path | None  # the embedded store's file; None with Firestore
    journal: Path
    sessions: Path
    data_dir: Path
    media_dir: Path | None  # embedded store only (Firestore keeps media in Cloud Storage)
    media_key: Path | None
    # SESSIONS_PATH=postgres://…: the session databases are in PostgreSQL (pg_dump backs them up)
    sessions_url: str | None = None

    @classmethod
    def of(cls, settings: Settings, env: dict[str, str] | None = None) -> Layout:
        env = dict(os.environ if env is None else env)
        store_file = sqlite_file(settings.store_url)
        data_dir = settings.data_dir
        media = Path(env["WHATSAPP_MEDIA_DIR"]) if env.get("WHATSAPP_MEDIA_DIR") else None
        return cls(
            store_url=settings.store_url,
            store_file=store_file,
            journal=journal_file(settings.journal_dir),
            sessions=settings.sessions_path,
            data_dir=data_dir,
            media_dir=(media or data_dir / "media") if store_file else None,
            media_key=data_dir / "media-key" if store_file else None,
            sessions_url=settings.sessions_url,
        )

    def identity_files(self) -> list[Path]:
        if not self.data_dir.is_dir():
            return []
        return sorted(
            p
            for p in self.data_dir.iterdir()
            if p.is_file() and (p.name == SLOT_FILE or p.name.startswith(SLOT_FILE + "."))
        )


def sqlite_file(store_url: str) -> Path | None:
    """The file of a `sqlite:///…` URL (None for Firestore and `:memory:`)."""
    scheme, _, rest = store_url.partition("://")
    if scheme.lower() != "sqlite" or not rest.startswith("/") or rest == "/:memory:":
        return None
    return Path(rest[1:])


def is_sqlite_file(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def session_files(folder: Path) -> list[Path]:
    """The session databases of a sessions folder: regular files, without SQLite's side files,
    half-written `.tmp` files and dot-folders (the shared simulator's socket)."""
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.iterdir()):
        name = path.name
        if name.startswith(".") or not path.is_file() or name.endswith(".tmp"):
            continue
        if name.endswith(SIDE_SUFFIXES):
            continue
        out.append(path)
    return out
