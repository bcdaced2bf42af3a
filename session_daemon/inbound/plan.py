"""The inbound flush planner: pure (no store, no clock, no locks), like `shared.crm.aggregate`'s
`plan_event_write`. Records placed in their threads, plus the snapshots the writer read, become
the writes of one flush; `writer.FlushWriter` reads, commits and retries them.

A flush is planned in steps, because what a pack writes depends on what the packs before it
committed (a concurrent writer may have won a few messages):

    flush_reads(placed)              the one get_many: messages (dedup), threads, early receipts
    FlushReads.view(snapshots)       -> the fresh messages, the threads, the pending receipts
    FlushView.upgrades               stored placeholders whose real content came (change_writer)
    candidates_sent_by_daemon(view)  from-me messages that the outbox may already have stored
    split_packs(fresh, ...)          batches of <= max_batch_writes, a thread's messages together
    plan_pack(pack, threads, ...)    each message's document and one summary patch per thread
    remember_patches(threads, ...)   the next pack sees the threads as this one left them
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from session_daemon.inbound.convert import (
    InboundRecord,
    message_document,
    message_path,
    thread_patch,
    thread_path,
)
from session_daemon.transport.port import UndecryptableContent
from shared.ids import parse_thread_id
from shared.paths import pending_receipt_path
from shared.receipts import pending_receipt_patch
from shared.store.port import Snapshot

__all__ = [
    "FlushReads",
    "FlushView",
    "PackPlan",
    "Placed",
    "candidates_sent_by_daemon",
    "flush_reads",
    "message_doc",
    "plan_pack",
    "remember_patches",
    "split_packs",
    "thread_patches",
    "without",
]


@dataclass(frozen=True, slots=True)
class Placed:
    """A message record with the thread it belongs to (its client's phone thread) and its path."""

    record: InboundRecord
    thread_id: str
    path: str


@dataclass(slots=True)
class FlushView:
    """What the store holds for a flush: the messages not stored yet (deduplicated), each
    thread's snapshot (None: new), and the pending receipts of from-me messages by path."""

    fresh: list[Placed]
    threads: dict[str, Snapshot | None]
    receipts: dict[str, Snapshot]
    # stored undecryptable placeholders this flush brings the real content of
    upgrades: list[Placed] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FlushReads:
    """The paths of a flush's one `get_many`, and how to read its answer."""

    unique: dict[str, Placed]  # message path -> first placement of it
    thread_ids: list[str]
    mine: list[str]  # paths of from-me messages, whose early receipts are read too
    paths: list[str]

    def view(self, snapshots: Sequence[Snapshot | None]) -> FlushView:
        n_msgs, n_threads = len(self.unique), len(self.thread_ids)
        existing = {
            p: s for p, s in zip(self.unique, snapshots[:n_msgs], strict=True) if s is not None
        }
        threads: dict[str, Snapshot | None] = dict(
            zip(self.thread_ids, snapshots[n_msgs : n_msgs + n_threads], strict=True)
        )
        receipts = {
            path: snap
            for path, snap in zip(self.mine, snapshots[n_msgs + n_threads :], strict=True)
            if snap is not None
        }
        fresh = [item for path, item in self.unique.items() if path not in existing]
        upgrades = [
            item
            for path, item in self.unique.items()
            if path in existing
            and existing[path].data.get("undecryptable") is True
            and not _is_placeholder(item.record)
        ]
        return FlushView(fresh, threads, receipts, upgrades)


def _is_placeholder(record: InboundRecord) -> bool:
    """An undecryptable placeholder ("waiting for this message"): it never upgrades one."""
    return isinstance(record.content, UndecryptableContent)


def flush_reads(placed: Sequence[Placed]) -> FlushReads:
    """Dedup within the batch, then the reads that dedup against the store. A phone-typed
    (from-me) message may come after its receipt (its LID chat was parked, it came by history
    sync, its write was retried): the receipt waits in pendingReceipts, read in the same
    get_many. Inbound messages get no receipts."""
    unique: dict[str, Placed] = {}
    for item in placed:
        unique.setdefault(item.path, item)
    thread_ids = list(dict.fromkeys(item.thread_id for item in unique.values()))
    mine = [p for p, item in unique.items() if item.record.from_me]
    pending_paths = [
        pending_receipt_path(unique[p].record.account_id, unique[p].record.wa_id) for p in mine
    ]
    paths = list(unique) + [thread_path(t) for t in thread_ids] + pending_paths
    return FlushReads(unique, thread_ids, mine, paths)


def candidates_sent_by_daemon(view: FlushView) -> list[Placed]:
    """From-me messages that may be ones the daemon sent for the app (stored under their send
    requestId with this `waMessageId`). Only threads that existed before this flush can hold
    one (a send needs the thread)."""
    return [
        item
        for item in view.fresh
        if item.record.from_me and view.threads.get(item.thread_id) is not None
    ]


def without(items: list[Placed], known: set[tuple[str, str]]) -> list[Placed]:
    """`items` less the (thread id, WhatsApp id) pairs in `known`."""
    if not known:
        return items
    return [item for item in items if (item.thread_id, item.record.wa_id) not in known]


def split_packs(
    fresh: list[Placed], receipts: dict[str, Snapshot] | None, max_batch_writes: int
) -> list[list[Placed]]:
    """Split a flush into batches of at most `max_batch_writes` writes (messages, a pending
    receipt each applies, plus one thread write per thread), keeping each thread's messages
    in one batch when they fit."""
    by_thread: dict[str, list[Placed]] = {}
    for item in fresh:
        by_thread.setdefault(item.thread_id, []).append(item)
    limit = max(2, max_batch_writes)
    extra = receipts or {}

    def cost(item: Placed) -> int:
        return 2 if item.path in extra else 1

    packs: list[list[Placed]] = []
    current: list[Placed] = []
    used = 0
    for items in by_thread.values():
        items.sort(key=lambda it: it.record.ts_ms)
        while items:
            room = limit - used - 1  # one write for the thread
            take = spent = 0
            while take < len(items) and spent + cost(items[take]) <= room:
                spent += cost(items[take])
                take += 1
            if current and take < len(items):
                packs.append(current)
                current, used = [], 0
                continue
            if take == 0:  # a limit too small for even one item: one at a time
                take, spent = 1, cost(items[0])
            current.extend(items[:take])
            used += spent + 1
            items = items[take:]
    if current:
        packs.append(current)
    return packs


def message_doc(
    item: Placed, receipt: Snapshot | None, now: datetime
) -> tuple[dict[str, Any], Snapshot | None]:
    """The new message's document, with a receipt that came before it applied (forward
    only, at the receipt's own time), and that receipt when it was applied."""
    doc = message_document(item.record, parse_thread_id(item.thread_id)[1])
    if receipt is None or not item.record.from_me:
        return doc, None
    patch = pending_receipt_patch(receipt.data, doc, now=now, thread_id=item.thread_id)
    doc.update(patch)
    return doc, receipt if patch else None


def thread_patches(
    items: Sequence[Placed],
    threads: dict[str, Snapshot | None],
    statuses: dict[str, str] | None,
    now: datetime,
) -> dict[str, dict[str, Any]]:
    """One `set(merge)` patch per thread; `statuses` (message path -> status) are the new
    messages that a pending receipt moved past `sent`, so the summary shows their real status."""
    grouped: dict[str, list[InboundRecord]] = {}
    for item in items:
        grouped.setdefault(item.thread_id, []).append(item.record)
    patches: dict[str, dict[str, Any]] = {}
    for tid, records in grouped.items():
        snap = threads.get(tid)
        account, client = records[0].account_id, parse_thread_id(tid)[1]
        patch = thread_patch(snap.data if snap else None, account, client, records, now)
        shown = patch.get("lastMessageId") if patch is not None else None
        if patch is not None and statuses and shown is not None:
            status = statuses.get(message_path(tid, str(shown)))
            if status is not None:
                patch["lastMessageStatus"] = status
        if patch is not None:
            patches[tid] = patch
    return patches


@dataclass(slots=True)
class PackPlan:
    """One atomic batch: each message created (with the pending receipt it applied, marked
    applied in the same batch) and one summary patch per thread."""

    creates: list[tuple[str, dict[str, Any], Snapshot | None]] = field(default_factory=list)
    threads: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def receipts_applied(self) -> int:
        return sum(1 for _, _, receipt in self.creates if receipt is not None)


def plan_pack(
    pack: Sequence[Placed],
    threads: dict[str, Snapshot | None],
    receipts: dict[str, Snapshot],
    now: datetime,
) -> PackPlan:
    plan = PackPlan()
    statuses: dict[str, str] = {}
    for item in pack:
        doc, receipt = message_doc(item, receipts.get(item.path), now)
        plan.creates.append((item.path, doc, receipt))
        if receipt is not None:
            statuses[item.path] = str(doc["status"])
    plan.threads = thread_patches(pack, threads, statuses, now)
    return plan


def remember_patches(
    threads: dict[str, Snapshot | None], patches: dict[str, dict[str, Any]]
) -> None:
    """Keep the flush's view of a thread current after a pack moved it (the next pack of
    the same thread must see it exists, its name, and its new last message time)."""
    for tid, patch in patches.items():
        old = threads.get(tid)
        threads[tid] = Snapshot(thread_path(tid), {**(old.data if old else {}), **patch})
