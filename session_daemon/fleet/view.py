"""The fleet dashboard's rows: one per number, from the store (any daemon sees every account,
its status, reason, owner and queue) and from this daemon's own activity (`FleetStats`: the
counters of the accounts it runs; another daemon's are its own to show).

`fleet_rows` is pure; `queued_by_account` and `fleet_snapshot` read the store (worker threads).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from session_daemon.fleet.stats import AccountStats
from session_daemon.leases.engine import owners
from session_daemon.sessions.status import STATUS_TABLE
from shared.paths import ACCOUNTS, OUTBOX
from shared.store.port import DocumentStore, Snapshot, query

# One query for the whole fleet's queue (equality on one field: no composite index needed on
# Firestore). Past this many queued items the depth reads as "at least" this.
QUEUE_SCAN_LIMIT = 5000


def queued_by_account(store: DocumentStore) -> dict[str, int]:
    """Outbox items waiting to be sent, per account (all daemons' accounts)."""
    docs = store.query(query(OUTBOX, where=[("status", "==", "queued")], limit=QUEUE_SCAN_LIMIT))
    return dict(Counter(str(snap.data.get("accountId") or "") for snap in docs))


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value) if value else None


def reason_for(status: str, data: Mapping[str, Any]) -> str:
    """What the operator reads beside the status: the session's own words (`lastError`) when it
    has them, else what the status means; the phone-offline warning is always added."""
    meaning, action = STATUS_TABLE.get(status, ("", ""))
    parts = [str(data.get("lastError") or "") or meaning]
    if status not in ("connected", "connecting") and action and action != "Nothing.":
        parts.append(action)
    if data.get("nextRetryAt") and status in ("error", "disconnected"):
        parts.append(f"Next retry at {_iso(data['nextRetryAt'])}.")
    if data.get("phoneOfflineWarning"):
        parts.append(str(data["phoneOfflineWarning"]))
    return " ".join(p for p in parts if p)


@dataclass(frozen=True)
class Local:
    """What this daemon knows of the accounts it runs."""

    instance_id: str
    status_of: Callable[[str], str | None]
    is_pairing: Callable[[str], bool]
    runs_here: Callable[[str], bool]
    stats: Callable[[str], AccountStats]


def fleet_rows(
    accounts: Sequence[Snapshot],
    owned: Mapping[str, tuple[str, datetime]],
    queued: Mapping[str, int],
    local: Local,
) -> list[dict[str, Any]]:
    rows = []
    for snap in accounts:
        data = snap.data
        if data.get("status") == "deleted":
            continue
        here = local.runs_here(snap.id)
        status = (local.status_of(snap.id) if here else None) or str(data.get("status") or "")
        owner, since = owned.get(snap.id, (None, None))
        row: dict[str, Any] = {
            "id": snap.id,
            "name": str(data.get("name") or ""),
            "phone": str(data.get("phoneE164") or data.get("phone") or ""),
            "status": status,
            "reason": reason_for(status, data),
            "pairing": here and local.is_pairing(snap.id),
            "owner": owner,
            "ownerSince": _iso(since),
            "runsHere": here,
            "queueDepth": queued.get(snap.id, 0),
            "autoReplyEnabled": bool(data.get("autoReplyEnabled", False)),
            "lastConnectedAt": _iso(data.get("lastConnectedAt")),
            "phoneLastSeenAt": _iso(data.get("phoneLastSeenAt")),
            # this daemon's own counters: only for the accounts it runs
            "lastInboundAt": None,
            "lastOutboundAt": None,
            "inboundToday": None,
            "outboundToday": None,
            "failedToday": None,
            "reconnects": None,
        }
        if here:
            stats = local.stats(snap.id)
            row.update(
                lastInboundAt=_iso(stats.last_inbound_at),
                lastOutboundAt=_iso(stats.last_outbound_at),
                inboundToday=stats.inbound_today,
                outboundToday=stats.outbound_today,
                failedToday=stats.failed_today,
                reconnects=stats.reconnects_total,
            )
        rows.append(row)
    rows.sort(key=lambda r: (r["name"].casefold(), r["id"]))
    return rows


def fleet_snapshot(store: DocumentStore, local: Local, now: datetime) -> list[dict[str, Any]]:
    """Read the store (accounts, leases, queue) and build the rows: call in a worker thread."""
    return fleet_rows(
        store.query(query(ACCOUNTS)), owners(store, now), queued_by_account(store), local
    )
