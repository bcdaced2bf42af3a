"""Delivery/read receipt rules for outbound message statuses: pure (no store, no clock).

Kept in the core so that the three places that apply a receipt agree on them: the daemon's
receipt path (`session_daemon.receipts.apply_receipts`), the outbox's `record_sent` (an early
receipt moves the just-sent message on) and the inbound writer (a phone-typed message stored
after its receipt). A status only moves forward (`shared.outbox.status_rank`: `queued < sent <
delivered < read`, `played` counts as `read`), so any order of receipts converges to the highest.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.outbox import status_rank
from shared.timeutil import ensure_utc, to_ms

__all__ = [
    "TIME_FIELD",
    "message_receipt_patch",
    "pending_receipt_patch",
    "pending_receipt_steps",
    "receipt_fits_thread",
    "receipt_status",
]

# the statuses a receipt can move a message to, and the field keeping when it got there
TIME_FIELD = {"delivered": "deliveredAt", "read": "readAt"}


def receipt_status(status: str) -> str:
    return "read" if status == "played" else status


def message_receipt_patch(
    message: dict[str, Any], status: str, *, receipt_at: datetime, now: datetime
) -> dict[str, Any] | None:
    """What a receipt of `status` changes on a stored message: None when the message is not
    outbound or already at or past it; else the status and each step's time it lacks (set to
    the receipt's own time, with its `...Ms` twin)."""
    if message.get("direction") != "outbound" or status_rank(status) <= status_rank(
        message.get("status")
    ):
        return None
    patch: dict[str, Any] = {"status": status, "statusUpdatedAt": now}
    for step in ("delivered", "read"):
        field = TIME_FIELD[step]
        if status_rank(step) <= status_rank(status) and not message.get(field):
            patch[field] = receipt_at
            patch[field + "Ms"] = to_ms(receipt_at)
    return patch


def pending_receipt_steps(
    pending: dict[str, Any] | None, status: str, receipt_at: datetime
) -> dict[str, datetime]:
    """The step times a receipt for a message not stored yet adds to its `pendingReceipts`
    document: each step's own time, once (a read receipt after a delivered one keeps the
    delivered time for `deliveredAt`)."""
    return {
        field: receipt_at
        for step, field in TIME_FIELD.items()
        if status_rank(step) <= status_rank(status)
        and not (pending is not None and pending.get(field))
    }


def pending_receipt_patch(
    pending: dict[str, Any], message: dict[str, Any], *, now: datetime, thread_id: str | None = None
) -> dict[str, Any]:
    """What an early receipt (a `pendingReceipts` document) adds to `message` when it is stored
    after the receipt: the status, forward only, and `deliveredAt`/`readAt` (and `...Ms`) at the
    receipt's own time for those it does not have yet. Empty when it would not move forward, or
    when the receipt came from a known chat other than `thread_id`'s (receipts are matched
    within their chat; only an unmappable chat's receipt may apply anywhere in the account)."""
    if thread_id is not None and not receipt_fits_thread(pending.get("threadIds"), thread_id):
        return {}
    status = "read" if pending.get("status") == "played" else str(pending.get("status"))
    if status_rank(status) <= status_rank(message.get("status")):
        return {}
    # each step's own time when the pending receipt kept one, else its (highest) receipt's time
    at = pending.get("receiptAt")
    at = ensure_utc(at) if isinstance(at, datetime) else now
    patch: dict[str, Any] = {"status": status}
    for step, field in (("delivered", "deliveredAt"), ("read", "readAt")):
        if status_rank(step) <= status_rank(status) and not message.get(field):
            own = pending.get(field)
            when = ensure_utc(own) if isinstance(own, datetime) else at
            patch[field] = when
            patch[field + "Ms"] = to_ms(when)
    return patch


def receipt_fits_thread(receipt_threads: object, thread_id: str) -> bool:
    """Whether a pending receipt kept for the chats `receipt_threads` may apply in `thread_id`."""
    if not isinstance(receipt_threads, list):
        return True  # written before receipts kept their chat: as before
    known = [t for t in receipt_threads if isinstance(t, str) and not t.endswith("@lid")]
    return not known or thread_id in receipt_threads
