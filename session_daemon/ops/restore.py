"""`superparty-daemon restore SRC`: put a backup back where the daemon's settings say.

Order of work, so a failure leaves nothing half-written:
1. check the whole backup (manifest, every file's SHA-256, every SQLite file's integrity);
2. refuse while a daemon or a live lease uses the data (`guard`);
3. refuse to overwrite existing data unless `replace` (which moves it aside, never deletes it);
4. copy each file or folder into a hidden sibling of its final place and check it again;
5. only then rename the staged copies into place (a rename is atomic on one file system).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from session_daemon.ops.backup import FORMAT, MANIFEST
from session_daemon.ops.files import BackupError, check_sqlite, fsync_dir, fsync_file, sha256_of
from session_daemon.ops.guard import data_in_use
from session_daemon.ops.layout import SIDE_SUFFIXES, Layout
from shared.store.port import DocumentStore

_FOLDER_ROLES = {"session": "sessions", "media": "media"}


@dataclass
class Unit:
    """One thing renamed into place: a file, or a whole folder (sessions, media)."""

    target: Path
    folder: bool
    files: list[tuple[str, str, str]] = field(default_factory=list)  # backup rel, unit rel, sha
    only_if_absent: bool = False  # instance-id slots: a data folder keeps its own identity

    def occupied(self) -> list[Path]:
        if self.folder:
            return [self.target] if self.target.is_dir() and any(self.target.iterdir()) else []
        if not self.folder and self.target.is_dir():
            return [self.target]
        found = [self.target] if self.target.exists() else []
        return found + [
            p
            for p in (self.target.with_name(self.target.name + s) for s in SIDE_SUFFIXES)
            if p.exists()
        ]


def read_manifest(src: Path) -> dict[str, Any]:
    path = src / MANIFEST
    if not src.is_dir():
        raise BackupError(f"{src} is not a backup folder")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{src} is not a backup: no {MANIFEST}") from None
    except (OSError, ValueError) as exc:
        raise BackupError(f"{path} is unreadable: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path}: not a backup manifest of format {FORMAT}")
    if not isinstance(manifest.get("files"), list):
        raise BackupError(f"{path}: no file list")
    return manifest


def _safe_rel(raw: object) -> str:
    rel = PurePosixPath(str(raw))
    if rel.is_absolute() or ".." in rel.parts or len(rel.parts) < 2:
        raise BackupError(f"manifest names a path outside the backup: {raw!r}")
    return rel.as_posix()


def verify(src: Path) -> dict[str, Any]:
    """The manifest, once every file it lists is present, unchanged and sound."""
    manifest = read_manifest(src)
    for entry in manifest["files"]:
        if not isinstance(entry, dict):
            raise BackupError("manifest: a file entry is not an object")
        rel = _safe_rel(entry.get("path"))
        path = src / rel
        if not path.is_file():
            raise BackupError(f"the backup is incomplete: {rel} is missing")
        if sha256_of(path) != entry.get("sha256"):
            raise BackupError(f"the backup is corrupt: {rel} does not match its SHA-256")
        if entry.get("kind") == "sqlite" and (problem := check_sqlite(path)):
            raise BackupError(f"the backup is corrupt: {rel}: {problem}")
    return manifest


def plan(manifest: dict[str, Any], layout: Layout) -> list[Unit]:
    kind = manifest.get("storeKind")
    if kind == "sqlite" and layout.store_file is None:
        raise BackupError(
            "this backup holds an embedded store: restore it with --store sqlite:///…"
        )
    if kind == "firestore" and layout.store_file is not None:
        raise BackupError("this backup was taken with a Firestore store: pass its --store URL")
    folders = {
        "session": Unit(layout.sessions, True),
        "media": Unit(layout.media_dir or layout.data_dir / "media", True),
    }
    units: list[Unit] = []
    for entry in manifest["files"]:
        rel, role, sha = _safe_rel(entry["path"]), entry.get("role"), str(entry["sha256"])
        name = PurePosixPath(rel).name
        if role in _FOLDER_ROLES:
            inner = PurePosixPath(rel).relative_to(_FOLDER_ROLES[role]).as_posix()
            folders[role].files.append((rel, inner, sha))
            continue
        targets = {
            "store": layout.store_file,
            "journal": layout.journal,
            "media-key": layout.media_key,
            "identity": layout.data_dir / name,
        }
        if role not in targets or targets[role] is None:
            raise BackupError(f"manifest: {rel} has an unknown role {role!r}")
        target = targets[role]
        assert target is not None
        units.append(Unit(target, False, [(rel, "", sha)], only_if_absent=role == "identity"))
    return units + [u for u in folders.values() if u.files]


def _stage(src: Path, unit: Unit, token: str) -> Path:
    staged = unit.target.parent / f".{unit.target.name}.restoring-{token}"
    unit.target.parent.mkdir(parents=True, exist_ok=True)
    for rel, inner, sha in unit.files:
        dst = staged / inner if unit.folder else staged
        dst.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        shutil.copyfile(src / rel, dst)
        os.chmod(dst, 0o600)
        fsync_file(dst)
        if sha256_of(dst) != sha:
            raise BackupError(f"copy of {rel} to {dst.parent} does not match its SHA-256")
    if unit.folder:
        os.chmod(staged, 0o700)
    return staged


def restore_backup(
    src: Path,
    layout: Layout,
    *,
    replace: bool = False,
    open_store: Callable[[], DocumentStore | None] = lambda: None,
) -> dict[str, Any]:
    """Restore `src` into `layout`. `open_store` opens the *current* store (or returns None when
    there is none yet) so live leases and heartbeats can be checked. Raises BackupError."""
    manifest = verify(src)
    units = plan(manifest, layout)
    store = open_store()
    try:
        in_use = data_in_use(layout, store)
    finally:
        if store is not None:
            store.close()
    if in_use:
        raise BackupError("refusing to restore while the data is in use: " + "; ".join(in_use))
    units = [u for u in units if not (u.only_if_absent and u.target.exists())]
    occupied = [p for u in units for p in u.occupied()]
    if occupied and not replace:
        names = ", ".join(str(p) for p in occupied)
        raise BackupError(
            f"refusing to overwrite existing data ({names}); pass --replace to move it aside"
        )
    token = secrets.token_hex(4)
    staged: list[tuple[Unit, Path]] = []
    try:
        for unit in units:
            staged.append((unit, _stage(src, unit, token)))
    except (OSError, BackupError) as exc:
        for _, path in staged:  # our own staged copies, never data
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise BackupError(f"restore failed, nothing changed: {reason}") from None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    moved = []
    for unit, path in staged:
        for old in unit.occupied():
            aside = old.with_name(f"{old.name}.pre-restore-{stamp}")
            os.rename(old, aside)
            moved.append(str(aside))
        if unit.folder and unit.target.is_dir():
            unit.target.rmdir()  # empty (occupied() said so)
        os.rename(path, unit.target)
        fsync_dir(unit.target.parent)
    return {
        "restored": sum(len(u.files) for u in units),
        "movedAside": moved,
        "createdAt": manifest.get("createdAt"),
    }
