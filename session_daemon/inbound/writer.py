"""The inbound flush writer: the shell around `plan`. It does the reads a plan needs, commits
each pack as one atomic batch, and falls back to one `create` at a time for a pack a concurrent
writer partly won (documents are created once per WhatsApp message id: `AlreadyExists` is a
duplicate, not an error); placeholders upgrades and changes go through `change_writer`.
Counting goes through `count`, after each commit, so a flush that
fails halfway still counts what it wrote."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from session_daemon.inbound.change_writer import ChangeWriter
from session_daemon.inbound.convert import thread_path
from session_daemon.inbound.plan import (
    FlushView,
    Placed,
    candidates_sent_by_daemon,
    flush_reads,
    message_doc,
    plan_pack,
    remember_patches,
    split_packs,
    thread_patches,
    without,
)
from shared.paths import messages_collection
from shared.store.port import AlreadyExists, DocumentStore, Snapshot, query
from shared.timeutil import utc_now

__all__ = ["FlushResult", "FlushWriter"]

Count = Callable[[dict[str, int]], None]


@dataclass(slots=True)
class FlushResult:
    created: int = 0
    duplicates: int = 0
    stored: list[Placed] = field(default_factory=list)  # the fresh ones (some may have lost)
    won: list[Placed] = field(default_factory=list)  # the messages this flush created
    upgraded: int = 0  # undecryptable placeholders that took their real content
    threads: dict[str, Snapshot | None] = field(default_factory=dict)  # as this flush left them


class FlushWriter:
    def __init__(self, store: DocumentStore, max_batch_writes: int, count: Count) -> None:
        self.store = store
        self.max_batch_writes = max_batch_writes
        self._count = count
        self._changes = ChangeWriter(store)
        self._change_skips: dict[str, int] = {}
        self._lock = threading.Lock()

    def write(self, placed: list[Placed], changes: Sequence[Placed] = ()) -> FlushResult:
        """Store the messages of `placed` that are not stored yet, and move their threads; then
        apply `changes` (each Placed at the path of the message it targets)."""
        result = self._write(placed) if placed else FlushResult()
        for item in changes:
            self.apply_change(item)
        return result

    def _write(self, placed: list[Placed]) -> FlushResult:
        reads = flush_reads(placed)
        view = reads.view(self.store.get_many(reads.paths))
        view.fresh = without(view.fresh, self._sent_by_daemon(view))
        duplicates = len(placed) - len(view.fresh)
        won = self._commit(view)
        upgraded = self._changes.upgrade(view.upgrades) if view.upgrades else 0
        duplicates += len(view.fresh) - len(won) - upgraded
        return FlushResult(len(won), duplicates, view.fresh, won, upgraded, view.threads)

    def apply_change(self, item: Placed) -> str:
        """An edit, deletion or reaction on the message at `item.path` (see `change_writer`): one
        transaction. Counted as applied, or skipped with its reason ("kind:reason")."""
        outcome = self._changes.apply(item)
        if outcome == "applied":
            self._count({"changesApplied": 1})
        else:
            with self._lock:
                self._change_skips[outcome] = self._change_skips.get(outcome, 0) + 1
        return outcome

    def change_skips(self) -> dict[str, int]:
        with self._lock:
            return dict(self._change_skips)

    def _sent_by_daemon(self, view: FlushView) -> set[tuple[str, str]]:
        """A from-me message may be one the daemon sent for the app: it is already stored under
        its send requestId with this `waMessageId`. Each lookup is an indexed equality query."""
        known: set[tuple[str, str]] = set()
        for item in candidates_sent_by_daemon(view):
            hits = self.store.query(
                query(
                    messages_collection(item.thread_id),
                    where=[("waMessageId", "==", item.record.wa_id)],
                    limit=1,
                )
            )
            if hits:
                known.add((item.thread_id, item.record.wa_id))
        return known

    def _commit(self, view: FlushView) -> list[Placed]:
        """Create the new messages and move their threads: each pack is one atomic batch holding
        messages together with their threads' summary (and the pending receipts they applied,
        marked applied). Returns the messages created (a concurrent writer may have won a few:
        that pack is then written one by one)."""
        created: list[Placed] = []
        threads, receipts = view.threads, view.receipts
        for pack in split_packs(view.fresh, receipts, self.max_batch_writes):
            now = utc_now()
            plan = plan_pack(pack, threads, receipts, now)
            batch = self.store.batch()
            for path, doc, receipt in plan.creates:
                batch.create(path, doc)
                if receipt is not None:
                    batch.update(receipt.path, {"appliedAt": now, "messagePath": path})
            for tid, patch in plan.threads.items():
                batch.set(thread_path(tid), patch, merge=True)
            try:
                batch.commit()
            except AlreadyExists:
                created += self._commit_one_by_one(pack, threads, receipts)
                continue
            remember_patches(threads, plan.threads)
            created += pack
            applied = plan.receipts_applied
            self._count(
                {
                    "storeWrites": len(pack) + len(plan.threads) + applied,
                    "threadWrites": len(plan.threads),
                    "pendingReceiptsApplied": applied,
                }
            )
        return created

    def _commit_one_by_one(
        self,
        fresh: list[Placed],
        threads: dict[str, Snapshot | None],
        receipts: dict[str, Snapshot],
    ) -> list[Placed]:
        won: list[Placed] = []
        statuses: dict[str, str] = {}
        now = utc_now()
        for item in fresh:
            doc, receipt = message_doc(item, receipts.get(item.path), now)
            try:
                self.store.create(item.path, doc)
                won.append(item)
            except AlreadyExists:
                continue
            if receipt is not None:
                statuses[item.path] = str(doc["status"])
        # Re-read the threads: the concurrent writer may have moved them.
        tids = list(dict.fromkeys(item.thread_id for item in won))
        current = dict(zip(tids, self.store.get_many([thread_path(t) for t in tids]), strict=True))
        batch = self.store.batch()
        patches = thread_patches(won, current, statuses, now)
        for tid, patch in patches.items():
            batch.set(thread_path(tid), patch, merge=True)
        for path in statuses:
            batch.update(receipts[path].path, {"appliedAt": now, "messagePath": path})
        batch.commit()
        remember_patches(threads, patches)
        self._count(
            {
                "storeWrites": len(won) + len(patches) + len(statuses),
                "threadWrites": len(patches),
                "pendingReceiptsApplied": len(statuses),
            }
        )
        return won
