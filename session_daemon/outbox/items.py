"""The outbox item's life, one store transaction per step (synchronous; run off the event loop).

    queued --claim--> processing(attemptId, sendStartedAt) --record_sent--> sent
       ^                  |  \\--requeue (transport said: not sent)--> queued (backoff)
       |                  |   \\-fail (last attempt / permanent error)--> failed
       |                  \\--lease expired (holder died) --> failed "unknown delivery state"
       \\-- blocked by an earlier unsent item of the same thread: stays queued, untouched

The claim sets `sendStartedAt` in the same transaction as the lease, right before the transport
call, so an item found `processing` with an expired lease may have reached WhatsApp: it is never
resent (at most once). Every write to the item mirrors its status onto the optimistic message
(same id) and onto the thread summary when the thread still shows that message.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from session_daemon.leases.fencing import fence_is_held
from session_daemon.leases.record import Fence
from session_daemon.transport.port import SendResult
from shared.outbox import new_message_doc, status_rank
from shared.paths import OUTBOX, message_path, outbox_path, thread_path
from shared.paths import pending_receipt_path as pending_receipt_path
from shared.receipts import pending_receipt_patch as pending_receipt_patch
from shared.store.port import DocumentStore, Snapshot, Transaction, query
from shared.timeutil import ensure_utc, to_ms

log = logging.getLogger(__name__)

UNKNOWN_STATE_ERROR = (
    "unknown delivery state: the daemon sending this message stopped before recording the "
    "result; not resent, to never deliver it twice"
)


# Errors after which WhatsApp may have the message: whatsmeow's ErrMessageTimedOut (the node
# was written, the server's ack did not come) and an expired context around the send.
_AMBIGUOUS_SEND_ERRORS = (
    "timed out waiting for message send response",
    "context deadline exceeded",
)


def is_ambiguous_send_error(exc: BaseException) -> bool:
    """Whether a failed send may nevertheless have reached WhatsApp (then it is never retried).
    A transport can say so explicitly with an `ambiguous = True` attribute on the exception."""
    if getattr(exc, "ambiguous", False):
        return True
    text = str(exc).lower()
    return any(marker in text for marker in _AMBIGUOUS_SEND_ERRORS)


# ---- outcomes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    request_id: str
    attempt_id: str
    attempt: int
    data: dict[str, Any]


@dataclass(frozen=True)
class Skipped:
    """Not claimed: `gone` (no longer queued), `not_due`, `blocked` behind an earlier item of
    its thread, or `fenced` (this daemon no longer holds the account's lease: the owner sends
    it). `retry_at` says when trying again makes sense, when known."""

    reason: Literal["gone", "not_due", "blocked", "fenced"]
    retry_at: datetime | None = None


@dataclass(frozen=True)
class Deferred:
    """Requeued with backoff (or failed when it was the last attempt)."""

    failed: bool
    next_attempt_at: datetime | None


@dataclass(frozen=True)
class Failed:
    error: str


ClaimOutcome = Claimed | Skipped | Deferred | Failed


@dataclass(frozen=True)
class AccountVerdict:
    """What the worker found about the item's account just before claiming it."""

    kind: Literal["ok", "defer", "fail", "wait"]  # wait: decide later, touch nothing
    error: str | None = None


ACCOUNT_OK = AccountVerdict("ok")


# ---- helpers -----------------------------------------------------------------------------------


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def order_key(snap: Snapshot) -> tuple[datetime, str]:
    """Send order inside a thread: creation time, then id."""
    created = snap.data.get("createdAt")
    return (ensure_utc(created) if isinstance(created, datetime) else _EPOCH, snap.id)


def _blocker(tx: Transaction, item: Snapshot) -> Snapshot | None:
    """The earliest unsent item of the same thread created before `item`, if any."""
    thread_id = item.data.get("threadId")
    if not thread_id:
        return None
    mine = order_key(item)
    # One equality query per status: both stores answer it from the status index, and only
    # unsent items are read (never the thread's whole history).
    pending = [
        snap
        for status in ("queued", "processing")
        for snap in tx.query(
            query(OUTBOX, where=[("status", "==", status), ("threadId", "==", thread_id)])
        )
    ]
    earlier = [s for s in pending if s.id != item.id and order_key(s) < mine]
    return min(earlier, key=order_key) if earlier else None


def _mirror(
    tx: Transaction,
    item: dict[str, Any],
    request_id: str,
    message: Snapshot | None,
    thread: Snapshot | None,
    message_patch: dict[str, Any],
    *,
    force: bool = False,
) -> str | None:
    """Apply `message_patch` to the message (status forward-only unless `force`), then mirror
    the resulting status onto the thread summary. Returns the message's final status."""
    thread_id = str(item.get("threadId") or "")
    if not thread_id:
        return None
    new_status = message_patch.get("status")
    if message is None:
        created = item.get("createdAt")
        at = ensure_utc(created) if isinstance(created, datetime) else message_patch["updatedAt"]
        doc = new_message_doc(
            request_id=request_id,
            account_id=str(item.get("accountId")),
            client_jid=str(item.get("toJid")),
            text=str(item.get("body") or ""),
            uid=str(item.get("createdByUid") or ""),
            client_message_id=str(item.get("clientMessageId") or ""),
            now=at,
        )
        doc.update(message_patch)
        tx.set(message_path(thread_id, request_id), doc)
        final = doc.get("status")
    else:
        patch = dict(message_patch)
        current = message.data.get("status")
        if new_status is not None and not force and status_rank(new_status) <= status_rank(current):
            patch.pop("status")
        tx.update(message_path(thread_id, request_id), patch)
        final = patch.get("status", current)
    if thread is not None and thread.data.get("lastMessageId") == request_id and final:
        tx.update(thread_path(thread_id), {"lastMessageStatus": final})
    return str(final) if final else None


def _read_context(
    tx: Transaction, request_id: str
) -> tuple[Snapshot | None, Snapshot | None, Snapshot | None]:
    item = tx.get(outbox_path(request_id))
    if item is None:
        return None, None, None
    thread_id = item.data.get("threadId")
    if not thread_id:
        return item, None, None
    message = tx.get(message_path(str(thread_id), request_id))
    thread = tx.get(thread_path(str(thread_id)))
    return item, message, thread


def _write_failed(
    tx: Transaction,
    item: Snapshot,
    message: Snapshot | None,
    thread: Snapshot | None,
    error: str,
    now: datetime,
    extra: dict[str, Any] | None = None,
) -> None:
    patch: dict[str, Any] = {
        "status": "failed",
        "failedAt": now,
        "lastError": error,
        "leaseUntil": None,
        "updatedAt": now,
        **(extra or {}),
    }
    tx.update(outbox_path(item.id), patch)
    msg_patch: dict[str, Any] = {"failedAt": now, "error": error, "updatedAt": now}
    current = message.data.get("status") if message is not None else None
    if current in (None, "queued", "failed"):
        msg_patch["status"] = "failed"
    _mirror(tx, item.data, item.id, message, thread, msg_patch, force=True)


# ---- steps -------------------------------------------------------------------------------------


def claim(
    store: DocumentStore,
    request_id: str,
    *,
    instance_id: str,
    now: datetime,
    lease_s: float,
    max_attempts: int,
    verdict: AccountVerdict,
    backoff_s: float,
    attempt_id: str | None = None,
    fence: Fence | None = None,
) -> ClaimOutcome:
    """Take the item for one send attempt, or say why not. `backoff_s` is used when `verdict`
    defers (account not connected); the attempt then counts, like a failed send. The caller
    registers `attempt_id` as in flight *before* calling, so its own sweep never mistakes the
    fresh claim for an orphan. With `fence` (the account's lease as this daemon holds it), the
    claim and its send marker commit only while that lease is still held: a daemon that lost
    the account (paused, cut off, taken over) touches nothing, not even the attempt count."""
    attempt_id = attempt_id or uuid.uuid4().hex

    def run(tx: Transaction) -> ClaimOutcome:
        item = tx.get(outbox_path(request_id))
        if item is None or item.data.get("status") != "queued":
            return Skipped("gone")
        if fence is not None and (
            fence.account_id != item.data.get("accountId") or not fence_is_held(tx, fence, now=now)
        ):
            return Skipped("fenced")
        if verdict.kind == "wait":
            return Skipped("not_due")
        due = item.data.get("nextAttemptAt")
        if isinstance(due, datetime) and ensure_utc(due) > now:
            return Skipped("not_due", ensure_utc(due))
        blocker = _blocker(tx, item)
        if blocker is not None:
            when = blocker.data.get("nextAttemptAt") or blocker.data.get("leaseUntil")
            return Skipped("blocked", ensure_utc(when) if isinstance(when, datetime) else None)
        attempt = int(item.data.get("attemptCount") or 0) + 1
        if verdict.kind != "ok":  # only a failure touches the message and the thread
            _, message, thread = _read_context(tx, request_id)
        if verdict.kind == "fail":
            error = verdict.error or "cannot send"
            _write_failed(tx, item, message, thread, error, now, {"attemptCount": attempt})
            return Failed(error)
        if verdict.kind == "defer":
            error = verdict.error or "account not connected"
            if attempt >= max_attempts:
                _write_failed(tx, item, message, thread, error, now, {"attemptCount": attempt})
                return Deferred(True, None)
            next_at = now + timedelta(seconds=backoff_s)
            tx.update(
                outbox_path(request_id),
                {
                    "attemptCount": attempt,
                    "nextAttemptAt": next_at,
                    "lastError": error,
                    "updatedAt": now,
                },
            )
            return Deferred(False, next_at)
        lease_until = now + timedelta(seconds=lease_s)
        claim_patch: dict[str, Any] = {
            "status": "processing",
            "claimedBy": instance_id,
            "leaseUntil": lease_until,
            "attemptId": attempt_id,
            "sendStartedAt": now,
            "attemptCount": attempt,
            "updatedAt": now,
        }
        if fence is not None:  # under which account lease it was sent (audit, tests)
            claim_patch["accountLeaseEpoch"] = fence.epoch
        tx.update(outbox_path(request_id), claim_patch)
        data = dict(item.data)
        data.update(status="processing", claimedBy=instance_id, attemptCount=attempt)
        return Claimed(request_id, attempt_id, attempt, data)

    return store.transaction(run)


def renew_lease(
    store: DocumentStore, request_id: str, attempt_id: str, *, now: datetime, lease_s: float
) -> bool:
    """Extend the lease while the transport call runs; False when the attempt is no longer ours."""

    def run(tx: Transaction) -> bool:
        item = tx.get(outbox_path(request_id))
        if item is None or item.data.get("attemptId") != attempt_id:
            return False
        if item.data.get("status") != "processing":
            return False
        tx.update(
            outbox_path(request_id),
            {"leaseUntil": now + timedelta(seconds=lease_s), "updatedAt": now},
        )
        return True

    return store.transaction(run)


def record_sent(
    store: DocumentStore,
    request_id: str,
    attempt_id: str,
    result: SendResult,
    *,
    now: datetime,
) -> str | None:
    """The transport accepted the message: `sent` on the item, the message and the thread.
    Applies a receipt that raced ahead of this record. Returns the message's final status.

    The truth wins over a guess: if a sweeper already marked this attempt failed (our lease
    lapsed while the call hung), the item still becomes `sent`."""

    def run(tx: Transaction) -> str | None:
        item, message, thread = _read_context(tx, request_id)
        if item is None:
            log.error("outbox item %s vanished while it was being sent", request_id)
            return None
        if item.data.get("attemptId") != attempt_id:
            log.error(
                "outbox item %s: attempt %s finished but the item records attempt %s",
                request_id,
                attempt_id,
                item.data.get("attemptId"),
            )
            return None
        account_id = str(item.data.get("accountId"))
        pending = tx.get(pending_receipt_path(account_id, result.message_id))
        sent_at = ensure_utc(result.timestamp)
        tx.update(
            outbox_path(request_id),
            {
                "status": "sent",
                "providerMessageId": result.message_id,
                "sentAt": now,
                "leaseUntil": None,
                "lastError": None,
                "failedAt": None,
                "updatedAt": now,
            },
        )
        # an early receipt moves the just-sent message on, with the receipts' own times
        receipt_patch: dict[str, Any] = {}
        if pending is not None:
            sent = {**(message.data if message is not None else {}), "status": "sent"}
            receipt_patch = pending_receipt_patch(
                pending.data, sent, now=now, thread_id=str(item.data.get("threadId"))
            )
        if pending is not None and receipt_patch:
            tx.update(
                pending.path,
                {
                    "appliedAt": now,
                    "messagePath": message_path(str(item.data.get("threadId")), request_id),
                },
            )
        msg_patch: dict[str, Any] = {
            "status": "sent",
            "waMessageId": result.message_id,
            "providerMessageId": result.message_id,
            "tsServer": sent_at,
            "sentAt": now,
            "sentAtMs": to_ms(now),
            "failedAt": None,
            "error": None,
            "updatedAt": now,
            **receipt_patch,
        }
        current = message.data.get("status") if message is not None else None
        force = current == "failed"  # a lapsed-lease guess; this is what really happened
        return _mirror(tx, item.data, request_id, message, thread, msg_patch, force=force)

    return store.transaction(run)


def requeue_after_error(
    store: DocumentStore,
    request_id: str,
    attempt_id: str,
    error: str,
    *,
    now: datetime,
    retryable: bool,
    max_attempts: int,
    backoff_s: float,
    error_code: str | None = None,
) -> bool:
    """The transport said the message was NOT sent: retry later, or fail after the last attempt
    (or at once when the error is permanent). Returns True when the item is now `failed`.
    `error_code`: the transport's stable code (Cloud API sends), kept as `lastErrorCode`."""

    def run(tx: Transaction) -> bool:
        item, message, thread = _read_context(tx, request_id)
        if item is None or item.data.get("attemptId") != attempt_id:
            return False
        if item.data.get("status") not in ("processing", "failed"):
            return False
        attempt = int(item.data.get("attemptCount") or 0)
        if not retryable or attempt >= max_attempts:
            extra = {"attemptId": None, "lastErrorCode": error_code}
            _write_failed(tx, item, message, thread, error, now, extra)
            return True
        tx.update(
            outbox_path(request_id),
            {
                "status": "queued",
                "nextAttemptAt": now + timedelta(seconds=backoff_s),
                "lastError": error,
                "lastErrorCode": error_code,
                "claimedBy": None,
                "leaseUntil": None,
                "attemptId": None,
                "sendStartedAt": None,
                "failedAt": None,
                "updatedAt": now,
            },
        )
        if message is not None and message.data.get("status") == "failed":
            _mirror(tx, item.data, request_id, message, thread, {"status": "queued"}, force=True)
        return False

    return store.transaction(run)


def fail_unknown_state(
    store: DocumentStore, request_id: str, attempt_id: str, error: str, *, now: datetime
) -> bool:
    """The transport call ended in a way that does not say whether WhatsApp got the message."""

    def run(tx: Transaction) -> bool:
        item, message, thread = _read_context(tx, request_id)
        if item is None or item.data.get("attemptId") != attempt_id:
            return False
        if item.data.get("status") != "processing":
            return False
        _write_failed(tx, item, message, thread, error, now)
        return True

    return store.transaction(run)


def expired_claims(
    store: DocumentStore, *, now: datetime, instance_id: str, in_flight: set[str]
) -> list[Snapshot]:
    """Items stuck in `processing`: lease expired, or claimed by this instance in an earlier life
    (same instance id, an attempt it no longer runs)."""
    stuck = store.query(query(OUTBOX, where=[("status", "==", "processing")]))
    out = []
    for snap in stuck:
        if snap.data.get("attemptId") in in_flight:
            continue  # ours, and the call is still running: not abandoned, whatever the lease
        lease = snap.data.get("leaseUntil")
        expired = not isinstance(lease, datetime) or ensure_utc(lease) <= now
        orphan = (
            snap.data.get("claimedBy") == instance_id
            and snap.data.get("attemptId") not in in_flight
        )
        if expired or orphan:
            out.append(snap)
    return out


def resolve_expired(
    store: DocumentStore, request_id: str, *, now: datetime, instance_id: str, in_flight: set[str]
) -> str | None:
    """Settle one stuck item: `failed` with UNKNOWN_STATE_ERROR when the send may have started
    (never resent), back to `queued` when it provably had not. Returns the new status."""

    def run(tx: Transaction) -> str | None:
        item, message, thread = _read_context(tx, request_id)
        if item is None or item.data.get("status") != "processing":
            return None
        if item.data.get("attemptId") in in_flight:
            return None
        lease = item.data.get("leaseUntil")
        expired = not isinstance(lease, datetime) or ensure_utc(lease) <= now
        orphan = (
            item.data.get("claimedBy") == instance_id
            and item.data.get("attemptId") not in in_flight
        )
        if not (expired or orphan):
            return None
        if item.data.get("sendStartedAt") is None:
            tx.update(
                outbox_path(request_id),
                {
                    "status": "queued",
                    "claimedBy": None,
                    "leaseUntil": None,
                    "attemptId": None,
                    "nextAttemptAt": now,
                    "updatedAt": now,
                },
            )
            return "queued"
        _write_failed(tx, item, message, thread, UNKNOWN_STATE_ERROR, now)
        return "failed"

    return store.transaction(run)
