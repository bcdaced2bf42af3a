"""The fleet dashboard's rows: one per number, from the store (any daemon sees every account,
its status, reason, owner and queue) and from this daemon's own activity (`FleetStats`: the
counters of the accounts it runs; another daemon's are its own to show).

`fleet_rows` is pure; `queued_by_account` and `fleet_snapshot` read the store (worker threads).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from session_daemon.fleet.stats import AccountStats, FleetStats
from session_daemon.leases.engine import owners
from session_daemon.sessions.status import STATUS_TABLE
from shared.paths import ACCOUNTS, OUTBOX, THREADS
from shared.store.port import DocumentStore, Snapshot, query

# One query for the whole fleet's queue (equality on one field: no composite index needed on
# Firestore). Past this many queued items the depth reads as "at least" this.
QUEUE_SCAN_LIMIT = 5000


def queued_by_account(store: DocumentStore) -> dict[str, int]:
    """Outbox items waiting to be sent, per account (all daemons' accounts)."""
    docs = store.query(query(OUTBOX, where=[("status", "==", "queued")], limit=QUEUE_SCAN_LIMIT))
    return dict(Counter(str(snap.data.get("accountId") or "") for snap in docs))


# Threads read per account to find its last inbound and outbound message after a restart.
SEED_THREADS = 20


def last_messages(store: DocumentStore, account_id: str) -> tuple[datetime | None, ...]:
    """The newest inbound and outbound message times among the account's most recent threads
    (the app's own index: accountId, lastMessageAt desc). A thread keeps only its newest
    message's direction, so these are lower bounds, exact once a message comes in or goes out."""
    newest: dict[str, datetime] = {}
    recent = query(
        THREADS,
        where=[("accountId", "==", account_id)],
        order_by=[("lastMessageAt", "desc")],
        limit=SEED_THREADS,
    )
    for snap in store.query(recent):
        direction, at = snap.data.get("lastMessageDirection"), snap.data.get("lastMessageAt")
        if isinstance(at, datetime) and direction in ("inbound", "outbound"):
            newest.setdefault(str(direction), at)
    return newest.get("inbound"), newest.get("outbound")


def seed_from_store(store: DocumentStore, fleet: FleetStats, account_ids: Iterable[str]) -> None:
    """Give each account this daemon runs its last message times from the store, once."""
    for account_id in account_ids:
        if fleet.needs_seed(account_id):
            fleet.seed(account_id, *last_messages(store, account_id))


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
    # reads the last message times of accounts not seen yet (seed_from_store); in a worker thread
    seed: Callable[[Iterable[str]], None] = lambda account_ids: None


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
    accounts = store.query(query(ACCOUNTS))
    local.seed([snap.id for snap in accounts if local.runs_here(snap.id)])
    return fleet_rows(accounts, owners(store, now), queued_by_account(store), local)
