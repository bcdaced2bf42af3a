"""An operator's retry of one outbox item (`superparty-daemon outbox retry REQUEST_ID`).

A `failed` item goes back to `queued` with a fresh attempt budget, due now; a `queued` item that
waits for its backoff becomes due now. Never for an item whose fate is unknown (its daemon died
mid-send: WhatsApp may have it) nor one being sent or already sent: at most once stays true.
The daemon's outbox watcher sees the change and sends it like any other item.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from session_daemon.outbox.items import UNKNOWN_STATE_ERROR, _mirror, _read_context
from shared.paths import outbox_path
from shared.store.port import DocumentStore, Transaction


class RetryRefused(Exception):
    """The item cannot be retried; the message says why."""


def retry_item(store: DocumentStore, request_id: str, *, now: datetime) -> str:
    """Make the item due now; returns its previous status. Raises RetryRefused."""

    def run(tx: Transaction) -> str:
        item, message, thread = _read_context(tx, request_id)
        if item is None:
            raise RetryRefused(f"no outbox item {request_id}")
        status = str(item.data.get("status"))
        if status not in ("failed", "queued"):
            raise RetryRefused(f"item {request_id} is {status}: only failed or queued items")
        if item.data.get("lastError") == UNKNOWN_STATE_ERROR:
            raise RetryRefused(
                f"item {request_id} may have reached WhatsApp (its daemon stopped mid-send): "
                "not resent, to never deliver it twice"
            )
        patch: dict[str, Any] = {"status": "queued", "nextAttemptAt": now, "updatedAt": now}
        if status == "failed":
            patch.update({
                "attemptCount": 0, "failedAt": None, "attemptId": None, "claimedBy": None,
                "leaseUntil": None, "sendStartedAt": None, "retriedAt": now,
            })  # fmt: skip
        tx.update(outbox_path(request_id), patch)
        if status == "failed":
            _mirror(tx, item.data, request_id, message, thread, {"status": "queued"}, force=True)
        return status

    return store.transaction(run)
