"""Client totals from events (`clients/{phoneE164}`), pure.

Triggers are delivered at least once and in any order, so totals are never incremented blindly.
Each client document keeps a `ledger` map: event id → that event's last applied contribution
`{paid, all, count, at}`; a small index document `clientStatsIndex/{eventId}` names the client
that holds it. Handling a write re-reads the event as it is *now*, moves its contribution to the
right client (phone change), replaces it (amount, status, date change), or removes it (archive,
delete), and recomputes the totals from the ledger. Any number of duplicate or reordered
deliveries therefore converge to a from-scratch recomputation over the live events.

Counting rules: an event counts when it exists, is not archived and has a phone; a CANCELLED
event counts for nothing (no party, no spend) but keeps the client known; `lifetimeSpendAll`
sums the amounts of counted events, `lifetimeSpendPaid` those whose payment is PAID;
`lastEventAt` is the latest counted party's own start (date + earliest role start, Romanian
time), never the time of the write.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared import paths
from shared.events import event_amount, event_phone, event_start_datetime, event_status, is_archived

CLIENTS = paths.CLIENTS
INDEX = paths.CLIENT_STATS_INDEX
LEDGER = "ledger"


@dataclass(frozen=True)
class Contribution:
    phone: str
    paid: float
    all: float
    count: int
    at: datetime | None

    def entry(self) -> dict[str, Any]:
        return {"paid": self.paid, "all": self.all, "count": self.count, "at": self.at}


def client_path(phone: str) -> str:
    return paths.client_path(phone)


def index_path(event_id: str) -> str:
    return paths.client_stats_index_path(event_id)


def _money(value: float) -> float:
    return round(float(value), 2)


def contribution_of(event: Mapping[str, Any] | None) -> Contribution | None:
    """What an event adds to its client now; None when it adds nothing (gone, archived, no
    phone)."""
    if event is None or is_archived(event):
        return None
    phone = event_phone(event)
    if phone is None:
        return None
    if event_status(event) == "CANCELLED":
        return Contribution(phone, 0.0, 0.0, 0, None)
    amount = _money(event_amount(event))
    paid = amount if event_status(event) == "PAID" else 0.0
    return Contribution(phone, paid, amount, 1, event_start_datetime(event))


def totals_from_ledger(ledger: Mapping[str, Any]) -> dict[str, Any]:
    """The client's totals, recomputed from its ledger (sorted keys: the same float sums every
    time)."""
    paid = total = 0.0
    count = 0
    last: datetime | None = None
    for key in sorted(ledger):
        entry = ledger[key]
        if not isinstance(entry, Mapping):
            continue
        paid += float(entry.get("paid") or 0)
        total += float(entry.get("all") or 0)
        count += int(entry.get("count") or 0)
        at = entry.get("at")
        if int(entry.get("count") or 0) > 0 and isinstance(at, datetime):
            last = at if last is None or at > last else last
    return {
        "lifetimeSpendPaid": _money(paid),
        "lifetimeSpendAll": _money(total),
        "eventsCount": count,
        "lastEventAt": last,
    }


def recompute_clients(events: Iterable[tuple[str, Mapping[str, Any] | None]]) -> dict[str, Any]:
    """From scratch: phone → totals over the given (event id, event) pairs (for checks)."""
    ledgers: dict[str, dict[str, Any]] = {}
    for event_id, event in events:
        c = contribution_of(event)
        if c is not None:
            ledgers.setdefault(c.phone, {})[event_id] = c.entry()
    return {phone: totals_from_ledger(ledger) for phone, ledger in ledgers.items()}


def _identity_fields(event: Mapping[str, Any], phone: str) -> dict[str, Any]:
    raw = event.get("phoneRaw") or event.get("telefonClient") or phone
    name = event.get("parentName") or event.get("numeParinte") or event.get("numeClient")
    return {"phoneRaw": str(raw), "displayName": str(name) if name else None}


@dataclass(frozen=True)
class Plan:
    """The documents to write: full client documents by phone, and the index."""

    clients: dict[str, dict[str, Any]]
    holder: str | None  # the phone now holding the event's contribution


def plan_event_write(
    event_id: str,
    event: Mapping[str, Any] | None,
    previous_holder: str | None,
    clients: Mapping[str, Mapping[str, Any] | None],
    now: datetime,
) -> Plan:
    """Move/replace/remove `event_id`'s contribution. `clients` holds the current documents of
    `previous_holder` and of the event's phone (None when absent)."""
    contribution = contribution_of(event)
    target = contribution.phone if contribution is not None else None
    out: dict[str, dict[str, Any]] = {}
    for phone in {p for p in (previous_holder, target) if p is not None}:
        current = dict(clients.get(phone) or {})
        ledger = dict(current.get(LEDGER) or {})
        if phone == target and contribution is not None:
            entry = contribution.entry()
            if ledger.get(event_id) == entry and current.get("eventsCount") is not None:
                continue  # already applied: a duplicate delivery writes nothing
            ledger[event_id] = entry
        elif event_id in ledger:
            del ledger[event_id]
        else:
            continue
        doc = {**current, **totals_from_ledger(ledger), LEDGER: ledger, "updatedAt": now}
        doc["phoneE164"] = phone
        if not current:
            doc["createdAt"] = now
        if event is not None and phone == target:
            for key, value in _identity_fields(event, phone).items():
                if value and not doc.get(key):
                    doc[key] = value
        doc.setdefault("displayName", None)
        doc.setdefault("phoneRaw", phone)
        out[phone] = doc
    return Plan(out, target)
