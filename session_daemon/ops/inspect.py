"""Read-mostly answers for the operator, straight from the files and the store (no daemon needed,
safe beside a running one: SQLite readers never block the daemon's WAL writers).

Rows are plain dicts of ids, kinds, statuses and times: never a message's text, a push name or a
token (the journal keeps texts; these commands leave them out on purpose).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from session_daemon.inbound.convert import thread_id_for
from session_daemon.leases.record import parse_lease
from session_daemon.ops.files import BackupError, sqlite_uri
from shared.paths import ACCOUNT_LEASES, OUTBOX
from shared.store.port import DocumentStore, query
from shared.timeutil import ensure_utc, from_ms


def _journal_rows(path: Path) -> tuple[list[tuple[int, str, str]], set[tuple[str, str]]]:
    if not path.is_file():
        raise BackupError(
            f"no inbound journal at {path} (check --data-path / INBOUND_JOURNAL_PATH)"
        )
    try:
        conn = sqlite3.connect(sqlite_uri(path, "rw"), uri=True, timeout=10)  # see files.py
        try:
            rows = conn.execute("SELECT seq, kind, payload FROM entries ORDER BY seq").fetchall()
            known = {(a, lid) for a, lid in conn.execute("SELECT account, lid FROM lid_map")}
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise BackupError(f"cannot read the journal {path}: {exc}") from None
    return rows, known


def journal_entries(path: Path) -> list[dict[str, Any]]:
    """Every entry still in the journal: messages not yet stored (or parked) and receipts."""
    rows, known = _journal_rows(path)
    out = []
    for seq, kind, payload in rows:
        try:
            raw = json.loads(payload)
        except ValueError:
            out.append({"seq": seq, "kind": "unreadable"})
            continue
        if kind == "m":
            chat, pn = str(raw.get("c") or ""), raw.get("p")
            parked = chat.endswith("@lid") and not pn and (raw.get("a"), chat) not in known
            out.append({
                "seq": seq,
                "kind": "message",
                "account": raw.get("a"),
                "chat": chat,
                "thread": None if parked else thread_id_for(str(raw.get("a")), pn or chat),
                "waMessageId": raw.get("i"),
                "type": raw.get("y"),
                "at": from_ms(int(raw.get("t") or 0)).isoformat(),
                "parked": parked,
            })  # fmt: skip
        else:
            ids = raw.get("ids") or []
            out.append({
                "seq": seq, "kind": "receipt", "account": raw.get("a"), "chat": raw.get("c"),
                "status": raw.get("s"), "messages": len(ids),
            })  # fmt: skip
    return out


def stuck_outbox(
    store: DocumentStore, *, now: datetime, older_than: timedelta
) -> list[dict[str, Any]]:
    """Items that are not moving: queued past due by `older_than`, processing with an expired
    claim, and failed ones (the last two need a person)."""
    out = []
    for status in ("queued", "processing", "failed"):
        for snap in store.query(query(OUTBOX, where=[("status", "==", status)])):
            data = snap.data
            due = _when(data.get("nextAttemptAt")) or _when(data.get("createdAt"))
            lease = _when(data.get("leaseUntil"))
            if status == "queued" and (due is None or now - due < older_than):
                continue
            if status == "processing" and lease is not None and lease > now:
                continue
            out.append({
                "requestId": snap.id,
                "status": status,
                "account": data.get("accountId"),
                "thread": data.get("threadId"),
                "attempts": data.get("attemptCount") or 0,
                "since": since.isoformat() if (since := due or lease) else None,
                "lastError": data.get("lastError"),
            })  # fmt: skip
    return sorted(out, key=lambda row: (row["status"], row["since"] or ""))


def owners(store: DocumentStore, *, now: datetime) -> list[dict[str, Any]]:
    """Who holds each account's lease, and until when (an expired lease: nobody)."""
    rows: list[dict[str, Any]] = []
    for snap in store.query(query(ACCOUNT_LEASES)):
        lease = parse_lease(snap.id, snap.data, now=now)
        if lease is None:
            rows.append({"account": snap.id, "holder": None, "state": "unreadable"})
            continue
        rows.append({
            "account": snap.id,
            "holder": lease.holder,
            "state": "held" if lease.live(now) else "expired",
            "epoch": lease.epoch,
            "expiresInSeconds": round(lease.expires_in(now), 1),
            "address": lease.holder_address,
        })  # fmt: skip
    return sorted(rows, key=lambda row: str(row["account"]))


def _when(value: object) -> datetime | None:
    return ensure_utc(value) if isinstance(value, datetime) else None


def default_now() -> datetime:
    return datetime.now(UTC)
