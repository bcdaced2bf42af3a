"""Apply a Cloud API status that the receipt path cannot carry (`failed`, and any status of a
message to a username-only client) with the rules of `statuses.status_patch`, in one store
transaction. Synchronous: run it in a worker thread.
"""

from __future__ import annotations

from session_daemon.cloud_api.identity import client_thread_id
from session_daemon.cloud_api.model import CloudStatus
from session_daemon.cloud_api.statuses import status_patch
from shared import paths
from shared.store.port import DocumentStore, Snapshot, Transaction, query

__all__ = ["apply_status"]


def _find(tx: Transaction, account_id: str, status: CloudStatus) -> Snapshot | None:
    if status.recipient.known:
        tid = client_thread_id(account_id, status.recipient.client_jid)
        hits = tx.query(
            query(
                paths.messages_collection(tid),
                where=[("waMessageId", "==", status.message_id)],
                limit=1,
            )
        )
        if hits:
            return hits[0]
    # a failed status may name no recipient, or the message sits in a merged thread
    hits = tx.query(
        query(paths.MESSAGES, where=[("waMessageId", "==", status.message_id)], group=True)
    )
    return next((h for h in hits if h.data.get("accountId") == account_id), None)


def apply_status(store: DocumentStore, account_id: str, status: CloudStatus) -> bool | None:
    """True: the message changed; False: found, nothing to change; None: not found."""

    def run(tx: Transaction) -> bool | None:
        snap = _find(tx, account_id, status)
        if snap is None:
            return None
        if snap.data.get("direction") != "outbound":
            return False
        patch = status_patch(snap.data, status).patch
        if not patch:
            return False
        tx.update(snap.path, patch)
        return True

    return store.transaction(run)
