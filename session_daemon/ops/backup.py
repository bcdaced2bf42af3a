"""`superparty-daemon backup DEST`: a consistent copy of one daemon's data, with a manifest.

DEST is a new folder (mode 0700: it holds the WhatsApp session keys). Everything is written into
a hidden sibling folder first and renamed to DEST at the end, so DEST either holds a whole backup
or does not exist. The journal is copied *before* the store: an entry the daemon writes to the
store and drops from the journal in between is then in the store copy, and one in both is replayed
harmlessly (documents are created once), so nothing acknowledged falls between the two copies.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from session_daemon.ops.files import BackupError, copy_any, fsync_dir, sha256_of
from session_daemon.ops.layout import Layout, session_files

MANIFEST = "manifest.json"
FORMAT = 1


@dataclass(frozen=True)
class Item:
    """One file of a backup: where it sits in the backup, what it is, its hash."""

    path: str  # relative, e.g. "sessions/wa_4072.db"
    role: str  # store | journal | session | identity | media | media-key
    kind: str  # sqlite | file
    sha256: str
    size: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "role": self.role,
            "kind": self.kind,
            "sha256": self.sha256,
            "bytes": self.size,
        }


def _sources(layout: Layout) -> list[tuple[Path, str, str]]:
    """(source file, path in the backup, role), in copy order (journal before store)."""
    out: list[tuple[Path, str, str]] = []
    if layout.journal.is_file():
        out.append((layout.journal, f"journal/{layout.journal.name}", "journal"))
    if layout.store_file is not None:
        if not layout.store_file.is_file():
            raise BackupError(f"no embedded store at {layout.store_file} (check --store)")
        out.append((layout.store_file, f"store/{layout.store_file.name}", "store"))
    if layout.sessions_url is None:  # in PostgreSQL otherwise: not ours to copy (pg_dump)
        for path in session_files(layout.sessions):
            out.append((path, f"sessions/{path.name}", "session"))
    for path in layout.identity_files():
        out.append((path, f"identity/{path.name}", "identity"))
    if layout.media_key is not None and layout.media_key.is_file():
        out.append((layout.media_key, "keys/media-key", "media-key"))
    if layout.media_dir is not None and layout.media_dir.is_dir():
        for path in sorted(p for p in layout.media_dir.rglob("*") if p.is_file()):
            if not path.name.startswith("."):
                rel = path.relative_to(layout.media_dir).as_posix()
                out.append((path, f"media/{rel}", "media"))
    return out


def _prepare_destination(dest: Path) -> Path:
    if dest.exists() and not (dest.is_dir() and not any(dest.iterdir())):
        raise BackupError(f"{dest} already exists and is not an empty folder: choose a new one")
    parent = dest.absolute().parent
    if not parent.is_dir():
        raise BackupError(f"cannot write the backup: the folder {parent} does not exist")
    staging = parent / f".{dest.name}.partial-{secrets.token_hex(4)}"
    try:
        staging.mkdir(mode=0o700)
    except OSError as exc:
        raise BackupError(f"cannot write the backup into {parent}: {exc.strerror}") from None
    return staging


def create_backup(layout: Layout, dest: Path, *, now: datetime | None = None) -> dict[str, Any]:
    """Write the backup; returns its manifest. Raises BackupError (DEST untouched) on failure."""
    sources = _sources(layout)
    if not sources:
        raise BackupError(
            f"nothing to back up: no journal, store or sessions under {layout.data_dir}"
        )
    staging = _prepare_destination(dest)
    try:
        items = []
        for src, rel, role in sources:
            target = staging / rel
            try:
                kind = copy_any(src, target)
            except FileNotFoundError:
                continue  # a media file or session deleted while we copied: not data any more
            os.chmod(target, 0o600)
            items.append(Item(rel, role, kind, sha256_of(target), target.stat().st_size))
        manifest = {
            "format": FORMAT,
            "createdAt": (now or datetime.now(UTC)).isoformat(),
            "storeKind": "sqlite" if layout.store_file is not None else "firestore",
            "storeUrl": layout.store_url,
            "sessionsInPostgres": layout.sessions_url is not None,
            "files": [item.as_dict() for item in items],
        }
        path = staging / MANIFEST
        path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        os.chmod(path, 0o600)
        for folder in sorted({p.parent for p in staging.rglob("*")}, reverse=True):
            fsync_dir(folder)
        if dest.exists():
            dest.rmdir()  # the empty folder the operator made for it
        os.rename(staging, dest)
        fsync_dir(dest.absolute().parent)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)  # our own half-written copy, never data
        raise BackupError(f"backup failed, nothing written to {dest}: {exc}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest
