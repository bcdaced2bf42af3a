"""Delivery/read receipts: move outbound message statuses forward only.

`apply_receipts(store, event)` is called by the inbound pipeline for every `ReceiptReceived`
(this module sits beside `inbound` and `outbox`, which both use receipts; the status rules
themselves are pure and live in `shared.receipts`).
Order and duplicates do not matter: `queued < sent < delivered < read` (`played` counts as
`read`), and a status never moves back, so any permutation of receipts converges to the highest.

Finding the message: receipts carry WhatsApp message ids. Messages sent by the app are stored
under their send `requestId` with `waMessageId` set when the send is recorded; messages typed on
the phone are stored by the inbound pipeline with `waMessageId` too. So the lookup is a query on
`waMessageId` in the chat's thread. Only a chat that cannot be mapped to a phone or group
thread (a LID whose phone is unknown, or no usable chat JID) falls back to a collection-group
query filtered by account: a receipt from a known chat never touches another chat's message.
A receipt that arrives before the message is
recorded (the phone answers faster than our write, or a phone-typed message is stored late) is
kept in `pendingReceipts/{acc}__{waId}`, with each step's time (`deliveredAt`, `readAt`); the
outbox's `record_sent` applies it to an app send, and the inbound pipeline to a phone-typed
message when it creates its document.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from session_daemon.transport.port import ReceiptReceived
from shared.ids import thread_id as make_thread_id
from shared.jids import LID_SERVER, normalize_jid
from shared.outbox import status_rank
from shared.paths import (
    MESSAGES,
    messages_collection,
    parse_message_path,
    pending_receipt_path,
    thread_path,
)
from shared.receipts import (
    TIME_FIELD,
    message_receipt_patch,
    pending_receipt_steps,
    receipt_status,
)
from shared.store.port import DocumentStore, Snapshot, Transaction, query
from shared.timeutil import ensure_utc, utc_now

__all__ = ["ReceiptOutcome", "apply_receipts", "receipt_status"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReceiptOutcome:
    updated: int  # messages whose status moved forward
    unchanged: int  # found, already at or past this status (or not outbound)
    pending: int  # not found yet: kept for when the message is recorded


def _thread_ids(event: ReceiptReceived) -> list[str]:
    out: list[str] = []
    for raw in (event.chat_pn_jid, event.chat_jid):
        jid = normalize_jid(raw) if raw else None
        if jid is None:
            continue
        try:
            tid = make_thread_id(event.account_id, jid)
        except ValueError:
            continue
        if tid not in out:
            out.append(tid)
    return out


def _find(
    tx: Transaction, event: ReceiptReceived, wa_id: str, threads: list[str]
) -> Snapshot | None:
    for tid in threads:
        hits = tx.query(
            query(messages_collection(tid), where=[("waMessageId", "==", wa_id)], limit=1)
        )
        if hits:
            return hits[0]
    if _mapped(threads):
        return None  # the chat's own thread: a same id elsewhere is another chat's message
    # The chat could not be mapped to its thread (a LID without phone): search every thread.
    hits = tx.query(query(MESSAGES, where=[("waMessageId", "==", wa_id)], group=True))
    for snap in hits:
        if snap.data.get("accountId") == event.account_id:
            return snap
    return None


def _mapped(threads: list[str]) -> bool:
    """Whether one candidate is a phone or group thread (threads live under those; a LID
    thread id is only a guess)."""
    return any(not tid.endswith("@" + LID_SERVER) for tid in threads)


def _thread_of(message_path: str) -> str:
    return thread_path(parse_message_path(message_path)[0])


def apply_receipts(
    store: DocumentStore, event: ReceiptReceived, *, now: datetime | None = None
) -> ReceiptOutcome:
    """Apply one receipt event in one transaction (reads first, then writes)."""
    status = receipt_status(event.status)
    if status not in TIME_FIELD:
        return ReceiptOutcome(0, 0, 0)
    at = ensure_utc(now) if now is not None else utc_now()
    receipt_at = ensure_utc(event.timestamp)
    wa_ids = list(dict.fromkeys(i for i in event.message_ids if i))
    threads = _thread_ids(event)

    def run(tx: Transaction) -> ReceiptOutcome:
        found: dict[str, Snapshot | None] = {w: _find(tx, event, w, threads) for w in wa_ids}
        summaries: dict[str, Snapshot | None] = {}
        pendings: dict[str, Snapshot | None] = {}
        for wa_id, snap in found.items():
            if snap is None:
                pendings[wa_id] = tx.get(pending_receipt_path(event.account_id, wa_id))
            else:
                tpath = _thread_of(snap.path)
                if tpath not in summaries:
                    summaries[tpath] = tx.get(tpath)
        updated = unchanged = pending = 0
        for wa_id, snap in found.items():
            if snap is None:
                pending += 1
                old = pendings[wa_id]
                if old is None or status_rank(status) > status_rank(old.data.get("status")):
                    steps = pending_receipt_steps(
                        old.data if old is not None else None, status, receipt_at
                    )
                    tx.set(
                        pending_receipt_path(event.account_id, wa_id),
                        {
                            "accountId": event.account_id,
                            "waMessageId": wa_id,
                            "chatJid": event.chat_jid,
                            "threadIds": threads,
                            "status": status,
                            "receiptAt": receipt_at,
                            "updatedAt": at,
                            **steps,
                        },
                        merge=True,
                    )
                continue
            patch = message_receipt_patch(snap.data, status, receipt_at=receipt_at, now=at)
            if patch is None:
                unchanged += 1
                continue
            tx.update(snap.path, patch)
            updated += 1
            thread = summaries.get(_thread_of(snap.path))
            if thread is not None and thread.data.get("lastMessageId") == snap.id:
                tx.update(thread.path, {"lastMessageStatus": status})
        return ReceiptOutcome(updated, unchanged, pending)

    return store.transaction(run)
