"""Client totals in the store: apply one event's current state to `clients/` in a transaction
(the `aggregateClientStats` trigger), or every event at once (the cut-over from the old system,
whose client documents carry totals but no ledger). The rules are in `shared.crm.aggregate`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from shared import paths
from shared.crm.aggregate import client_path, contribution_of, index_path, plan_event_write
from shared.store.port import DocumentStore, Transaction, query
from shared.timeutil import utc_now

EVENTS = paths.EVENTS


def apply_event(store: DocumentStore, event_id: str, now: datetime | None = None) -> str | None:
    """Re-read `evenimente/{event_id}` and converge its client(s); returns the phone now holding
    its contribution. Idempotent: run it any number of times, in any order."""
    event_path = paths.event_path(event_id)  # InvalidId (a ValueError) unless one segment
    at = now or utc_now()

    def run(tx: Transaction) -> str | None:
        event = tx.get(event_path)
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


def rebuild_client_stats(
    store: DocumentStore, progress: Callable[[int, int], None] | None = None
) -> int:
    """Apply every event once: afterwards each client with a counted event holds the ledger
    and the totals of all its events, whatever its document held before. Writes only `clients/`
    and `clientStatsIndex/`; deletes nothing. Safe while the trigger runs (both converge)."""
    ids = sorted(snap.id for snap in store.query(query(EVENTS)))  # a few thousand at most
    for done, event_id in enumerate(ids, 1):
        apply_event(store, event_id)
        if progress is not None:
            progress(done, len(ids))
    return len(ids)
