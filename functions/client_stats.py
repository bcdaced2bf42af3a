"""`aggregateClientStats`: apply one event's current state to the client totals, in one
transaction (the pure rules are in `shared.crm.aggregate`)."""

from __future__ import annotations

import logging
from datetime import datetime

from shared.crm.aggregate import client_path, contribution_of, index_path, plan_event_write
from shared.store.port import DocumentStore, Transaction
from shared.timeutil import utc_now

log = logging.getLogger(__name__)

EVENTS = "evenimente"


def apply_event(store: DocumentStore, event_id: str, now: datetime | None = None) -> str | None:
    """Re-read `evenimente/{event_id}` and converge its client(s); returns the phone now holding
    its contribution. Idempotent: run it any number of times, in any order."""
    if not event_id or "/" in event_id:
        raise ValueError("event id required")
    at = now or utc_now()

    def run(tx: Transaction) -> str | None:
        event = tx.get(f"{EVENTS}/{event_id}")
        index = tx.get(index_path(event_id))
        previous = index.data.get("phoneE164") if index is not None else None
        previous = previous if isinstance(previous, str) and previous else None
        contribution = contribution_of(event.data if event is not None else None)
        phones = {p for p in (previous, contribution.phone if contribution else None) if p}
        clients = {}
        for phone in sorted(phones):
            snap = tx.get(client_path(phone))
            clients[phone] = snap.data if snap is not None else None
        plan = plan_event_write(
            event_id, event.data if event is not None else None, previous, clients, at
        )
        for phone, doc in plan.clients.items():
            tx.set(client_path(phone), doc)
        if plan.holder != previous:
            tx.set(index_path(event_id), {"phoneE164": plan.holder, "updatedAt": at})
        return plan.holder

    return store.transaction(run)


def handle_event_written(store: DocumentStore, event_id: str, delivery_id: str) -> None:
    """The trigger body: the delivery's payload is ignored on purpose (it may be stale)."""
    holder = apply_event(store, event_id)
    log.info("client stats: event %s -> %s (delivery %s)", event_id, holder, delivery_id)
