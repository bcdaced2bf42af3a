"""Where the Baileys files come from.

- The old backend's volume (`--from-dir`, its `SESSIONS_PATH`): one folder per account id, the
  files exactly as Baileys wrote them. The primary source: always current.
- `wa_sessions/{accountId}` (`--from-store`): `files: {filename: content}`, `updatedAt`,
  `schemaVersion: 2`. The old backend copies the folder there only when the credentials change,
  and silently not at all past Firestore's 1 MiB document limit, so the copy can be stale: it is
  compared with the account document and the report warns.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from session_daemon.sessions.accounts import is_valid_account_id
from shared.paths import WA_SESSIONS, wa_session_path
from shared.store.port import DocumentStore, query

SUPPORTED_SCHEMA_VERSION: Final = 2
# A copy older than the account document by more than this is reported as possibly stale.
STALE_AFTER: Final = timedelta(minutes=5)
MAX_FILE_BYTES: Final = 4 * 1024 * 1024  # a Baileys key file is a few hundred bytes


class SourceUnavailable(Exception):
    """An account's files cannot be read at all (no folder, no document, newer schema...)."""


@dataclass
class SourceFiles:
    account_id: str
    files: dict[str, str]
    origin: str  # "dir:<path>" or "store:wa_sessions/<id>"
    updated_at: datetime | None = None
    warnings: list[str] = field(default_factory=list)


def accounts_in_dir(root: Path) -> list[str]:
    """Account ids of a Baileys `SESSIONS_PATH`: its sub-folders (hidden ones ignored)."""
    if not root.is_dir():
        raise SourceUnavailable(f"{root} is not a folder")
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def read_dir(root: Path, account_id: str) -> SourceFiles:
    if not is_valid_account_id(account_id):
        raise SourceUnavailable(f"{account_id!r} is not a valid account id (one path segment)")
    folder = root / account_id
    if not folder.is_dir():
        raise SourceUnavailable(f"no folder {folder}")
    files: dict[str, str] = {}
    for path in sorted(folder.iterdir()):
        if not path.is_file() or not path.name.endswith(".json"):
            continue
        if path.stat().st_size > MAX_FILE_BYTES:
            raise SourceUnavailable(f"{path.name} is larger than {MAX_FILE_BYTES} bytes")
        try:
            files[path.name] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SourceUnavailable(f"cannot read {path}: {exc}") from None
    return SourceFiles(account_id, files, f"dir:{folder}")


def accounts_in_store(store: DocumentStore) -> list[str]:
    return sorted(snap.id for snap in store.query(query(WA_SESSIONS)))


def read_store(
    store: DocumentStore, account_id: str, account: dict[str, Any] | None
) -> SourceFiles:
    """One `wa_sessions` document, checked for its schema and staleness."""
    if not is_valid_account_id(account_id):
        raise SourceUnavailable(f"{account_id!r} is not a valid account id (one path segment)")
    where = wa_session_path(account_id)
    snap = store.get(where)
    if snap is None:
        raise SourceUnavailable(f"no {where} document")
    data = snap.data
    version = data.get("schemaVersion")
    if not isinstance(version, int) or isinstance(version, bool):
        raise SourceUnavailable(f"{where}: schemaVersion missing or not a number")
    if version > SUPPORTED_SCHEMA_VERSION:
        raise SourceUnavailable(
            f"{where}: schemaVersion {version} was written by a newer old-backend "
            f"schema than this importer reads ({SUPPORTED_SCHEMA_VERSION}); refusing to guess"
        )
    if version < SUPPORTED_SCHEMA_VERSION:
        raise SourceUnavailable(
            f"{where}: schemaVersion {version} is older than "
            f"{SUPPORTED_SCHEMA_VERSION} and not supported"
        )
    raw = data.get("files")
    if not isinstance(raw, dict):
        raise SourceUnavailable(f"{where}: files is not a map")
    files: dict[str, str] = {}
    for name, content in raw.items():
        if not isinstance(name, str) or "/" in name:
            raise SourceUnavailable(f"{where}: bad file name {name!r}")
        # The old backend stores each file's text; an already-parsed value is re-serialised.
        files[name] = content if isinstance(content, str) else json.dumps(content)
    updated = data.get("updatedAt")
    source = SourceFiles(
        account_id,
        files,
        f"store:{where}",
        updated_at=updated if isinstance(updated, datetime) else None,
    )
    source.warnings.extend(staleness_warnings(source.updated_at, account))
    return source


def staleness_warnings(copied_at: datetime | None, account: dict[str, Any] | None) -> list[str]:
    """The copy is written only when the credentials change: if the account document moved on
    well after it, the old backend may have changed keys it never copied (or hit the 1 MiB
    limit)."""
    warnings = [
        "wa_sessions copy may be stale: the old backend copies it only when credentials change"
    ]
    if copied_at is None:
        warnings.append("wa_sessions copy has no updatedAt: its age is unknown")
        return warnings
    account_updated = (account or {}).get("updatedAt")
    if isinstance(account_updated, datetime) and account_updated - copied_at > STALE_AFTER:
        lag = account_updated - copied_at
        warnings.append(
            f"wa_sessions copy is {_human(lag)} older than the account document "
            f"({copied_at.isoformat()} < {account_updated.isoformat()}): prefer --from-dir"
        )
    return warnings


def _human(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"
