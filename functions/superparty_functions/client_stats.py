"""`aggregateClientStats`: apply one event's current state to the client totals, in one
transaction (`shared.crm.client_stats`; the pure rules are in `shared.crm.aggregate`)."""

from __future__ import annotations

import logging

from shared.crm.client_stats import apply_event
from shared.store.port import DocumentStore

log = logging.getLogger(__name__)


def handle_event_written(store: DocumentStore, event_id: str, delivery_id: str) -> None:
    """The trigger body: the delivery's payload is ignored on purpose (it may be stale)."""
    holder = apply_event(store, event_id)
    log.info("client stats: event %s -> %s (delivery %s)", event_id, holder, delivery_id)
