"""The inbound pipeline: transport events → journal (durable ack) → batched, deduplicated writes.

    transport thread ── submit(event) ──► convert (pure) ──► group-commit queue
                                                                  │ journal thread: one fsync'd
                                                                  ▼ transaction per group
                        submit returns  ◄── acknowledged ── journal (SQLite, WAL, FULL)
                                                                  │
                                                                  ▼ per-account queues
                            flusher thread: every `flush_interval` or `max_batch` entries,
                            fair shares per account; get_many (dedup pre-check) → atomic
                            batches of <= `max_batch_writes`: `create` each new message + one
                            `set(merge)` per thread with it → remove the journal entries

Guarantee: when `submit` returns, the event is in the journal on disk. Journal entries are removed
only after the store write they describe committed. On start, whatever is left is replayed; a
message written before the crash but not yet removed from the journal is found by the pre-check
(or by `create`'s AlreadyExists) and skipped, so each WhatsApp message id is stored exactly once.

LID-addressed messages are resolved to the client's phone JID (the message's own alt JID, the
mappings learned from earlier messages and history sync, then `lid_resolver`, normally the
transport's `pn_for_lid`). Until one is known the message is *parked*: it stays in the journal,
counted in `pendingLid`, and moves into the phone thread as soon as a mapping arrives. Groups
are mirrored (issue 12); status updates, broadcast lists and newsletters are counted, not mirrored.
Edits, deletions and reactions change the message they target, and an undecryptable placeholder
takes its real content when it comes (`writer`, `change_writer`); `on_created` hears of new ones.

Receipts are journalled too and then applied with `session_daemon.receipts.apply_receipts`
(forward-only).
A receipt that came before its phone-typed (from-me) message waits in `pendingReceipts`; it is
read in the flush's one `get_many` and applied when the message is created (same batch).
Entries that keep failing alone while others succeed are set aside (still journalled, retried
slowly) so one bad document cannot stop the pipeline. See docs/inbound-guarantees.md.

This module is the orchestration (lifecycle, submit, routing, the flusher's retry and set-aside,
stats); its parts live beside it: `entries` (what is journalled), `group_commit` (the journal
thread), `lids` (LID mappings, parked messages), `plan` (the pure flush planner), `writer`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from session_daemon.inbound.change_writer import change_target
from session_daemon.inbound.convert import (
    InboundRecord,
    message_path,
    record_from_wire,
    thread_id_for,
)
from session_daemon.inbound.entries import (
    Append,
    CreatedHook,
    CreatedMessage,
    Entry,
    Kind,
    PipelineClosed,
    account_of,
    announce,
    created_messages,
    receipt_from_json,
    receipt_json,
)
from session_daemon.inbound.fair_queue import FairQueue
from session_daemon.inbound.group_commit import GroupCommit
from session_daemon.inbound.journal import Journal
from session_daemon.inbound.lids import LidBook, LidResolver, history_mappings, phone_jid
from session_daemon.inbound.plan import Placed
from session_daemon.inbound.stats import COUNTERS, skipped_view
from session_daemon.inbound.writer import FlushWriter
from session_daemon.receipts import apply_receipts
from session_daemon.transport.port import (
    HistorySyncChunk,
    MessageReceived,
    ReceiptReceived,
    TransportEvent,
)
from shared.jids import normalize_jid
from shared.store.port import DocumentStore
from shared.timeutil import to_ms, utc_now

__all__ = ["CreatedHook", "CreatedMessage", "InboundPipeline", "LidResolver", "PipelineClosed"]

log = logging.getLogger(__name__)

ISOLATE_AFTER = 3  # every 3rd consecutive failure of a batch, look for a poison entry


class InboundPipeline:
    """See the module docstring. `submit` is thread-safe and blocks until journalled."""

    def __init__(
        self,
        store: DocumentStore,
        journal_path: str | Path,
        *,
        max_batch: int = 500,
        flush_interval: float = 0.05,
        max_backlog: int = 20_000,
        max_batch_writes: int = 500,
        lid_resolver: LidResolver | None = None,
        retry_initial: float = 0.2,
        retry_max: float = 30.0,
        pending_recheck_interval: float = 5.0,
        stop_timeout: float = 30.0,
        quarantine_retry_interval: float = 60.0,
        on_created: CreatedHook | None = None,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.store = store
        self.journal_path = Path(journal_path)
        self.max_batch = max_batch
        self.flush_interval = flush_interval
        self.max_backlog = max_backlog
        self.max_batch_writes = max_batch_writes
        self.lid_resolver = lid_resolver
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.pending_recheck_interval = pending_recheck_interval
        self.stop_timeout = stop_timeout
        self.quarantine_retry_interval = quarantine_retry_interval
        # Called on the flusher thread after each commit: must return at once (enqueue only).
        self.on_created = on_created
        self._journal: Journal | None = None
        self._group = GroupCommit(self._committed)
        self._writer = FlushWriter(store, max_batch_writes, self._count)
        # routing and flushing (guarded by _cv)
        self._cv = threading.Condition()
        self._ready: FairQueue[Entry] = FairQueue(account_of)
        self._lids = LidBook()
        self._quarantined: list[Entry] = []  # failed alone, again and again: retried slowly
        self._inflight = 0
        self._accepting = False
        self._stopping = False  # the flusher's flag
        self._threads: list[threading.Thread] = []
        self._counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self._skipped: dict[str, int] = {}
        self._last_error: str | None = None
        self._last_flush_ms: float | None = None
        self._sources: dict[str, int] = {"live": 0, "history": 0}

    # ==== lifecycle ==============================================================================

    async def start(self) -> None:
        """Open the journal, replay what a previous run left in it, start the worker threads."""
        await asyncio.to_thread(self._open_and_replay)
        assert self._journal is not None
        for name, target, args in (
            ("inbound-journal", self._group.run, (self._journal,)),
            ("inbound-flush", self._flush_loop, ()),
        ):
            thread = threading.Thread(target=target, args=args, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        with self._cv:
            self._accepting = True

    async def stop(self) -> None:
        """Stop accepting, journal what was submitted, write everything that can be written.
        Parked LID messages (and anything the store refused) stay in the journal for next time."""
        with self._cv:
            self._accepting = False
            self._cv.notify_all()
        self._group.stop()
        if self._threads:  # the journal thread first: what it still commits gets flushed too
            await asyncio.to_thread(self._threads[0].join, self.stop_timeout + 5)
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        for thread in self._threads[1:]:
            await asyncio.to_thread(thread.join, self.stop_timeout + 5)
        self._threads.clear()
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    def _open_and_replay(self) -> None:
        journal = Journal(self.journal_path)
        self._journal = journal
        self._lids = LidBook(journal.mappings())
        replay: list[Entry] = []
        corrupt = 0
        for seq, kind, payload in journal.entries():
            try:
                if kind == "m":
                    record = InboundRecord.from_json(json.loads(payload))
                    replay.append(Entry(seq, "m", record=record, replayed=True))
                elif kind == "r":
                    replay.append(Entry(seq, "r", receipt=receipt_from_json(payload)))
                else:
                    raise ValueError(f"unknown kind {kind!r}")
            except (ValueError, KeyError, TypeError):
                corrupt += 1  # kept in the file for a person to look at; never blocks start-up
                log.error("inbound journal entry %d is unreadable; left in place", seq)
        with self._cv:
            self._counters["corruptJournalEntries"] = corrupt
            self._counters["replayed"] += len(replay)
            self._route(replay)
        if replay:
            log.info("inbound journal: replaying %d entries", len(replay))

    # ==== submit (any thread) ====================================================================

    def submit(self, event: TransportEvent) -> None:
        """Journal a MessageReceived, HistorySyncChunk or ReceiptReceived; return once it is on
        disk (that is the acknowledgement). Other events are ignored. Raises PipelineClosed when
        not running and the journal's error if the disk write failed (then nothing is acked)."""
        rows: list[tuple[Kind, str]] = []
        entries: list[Entry] = []
        mappings: list[tuple[str, str, str]] = []
        received_ms = to_ms(utc_now())
        if isinstance(event, MessageReceived):
            self._add_message(
                event.account_id, event.message, "live", received_ms, None, rows, entries, mappings
            )
        elif isinstance(event, HistorySyncChunk):
            mappings.extend(history_mappings(event.account_id, event.lid_to_pn))
            for wire in event.messages:
                self._add_message(
                    event.account_id,
                    wire,
                    "history",
                    received_ms,
                    event.push_names,
                    rows,
                    entries,
                    mappings,
                )
        elif isinstance(event, ReceiptReceived):
            rows.append(("r", receipt_json(event)))
            entries.append(Entry(0, "r", receipt=event))
        else:
            return
        with self._cv:
            if not self._accepting:
                raise PipelineClosed("the inbound pipeline is not running")
            self._counters["eventsSubmitted"] += 1
            while self._ready.size_of(event.account_id) > self.max_backlog and self._accepting:
                self._cv.wait(0.1)  # backpressure: the store is behind; slow the transport down
        if not rows and not mappings:
            return
        request = Append(rows, entries, mappings)
        self._group.request(request)
        request.done.wait()
        if request.error is not None:
            raise request.error

    def _add_message(
        self,
        account_id: str,
        wire: Any,
        source: Literal["live", "history"],
        received_ms: int,
        push_names: dict[str, str] | None,
        rows: list[tuple[Kind, str]],
        entries: list[Entry],
        mappings: list[tuple[str, str, str]],
    ) -> None:
        result = record_from_wire(
            account_id, wire, source=source, received_ms=received_ms, push_names=push_names
        )
        if isinstance(result, str):
            with self._cv:
                self._skipped[result] = self._skipped.get(result, 0) + 1
            return
        if result.is_lid and result.pn_jid is not None:
            mappings.append((account_id, result.addr_jid, result.pn_jid))
        rows.append(("m", json.dumps(result.to_json(), separators=(",", ":"), ensure_ascii=False)))
        entries.append(Entry(0, "m", record=result))

    # ==== journal thread: group commit (group_commit.py) =========================================

    def _committed(self, entries: list[Entry], mappings: list[tuple[str, str, str]]) -> None:
        with self._cv:
            for account, lid, pn in mappings:
                self._learn(account, lid, pn)
            self._counters["messagesJournalled"] += sum(1 for e in entries if e.kind == "m")
            self._route(entries)
            self._cv.notify_all()

    def _count(self, counts: dict[str, int]) -> None:
        with self._cv:
            for name, n in counts.items():
                self._counters[name] += n

    # ==== routing (holding _cv) ==================================================================

    def _learn(self, account: str, lid: str, pn: str) -> None:
        new, parked = self._lids.learn(account, lid, pn)
        if new:
            self._counters["lidMappings"] += 1
        if parked:
            self._counters["rehomed"] += len(parked)
            self._requeue(parked)

    def _route(self, entries: Sequence[Entry]) -> None:
        self._ready.extend(entries)

    def _park(self, entry: Entry) -> None:
        if not self._lids.park(entry):  # learned while this batch was being written
            self._requeue([entry])

    def _requeue(self, entries: list[Entry]) -> None:
        """Parked entries go back to the queue: they are not handled any more, so a failed
        write of their batch must give them back like any other entry."""
        for entry in entries:
            entry.done = False
        self._ready.extend(entries)

    # ==== flusher thread =========================================================================

    def _flush_loop(self) -> None:
        delay = self.retry_initial
        failures = 0
        stop_deadline: float | None = None
        last_recheck = last_retry = time.monotonic()
        while True:
            with self._cv:
                while not self._ready and not self._stopping:
                    self._cv.wait(self.pending_recheck_interval)
                    if time.monotonic() - last_recheck >= self.pending_recheck_interval:
                        break
                if self._stopping and stop_deadline is None:
                    stop_deadline = time.monotonic() + self.stop_timeout
                if not self._ready:
                    if self._stopping:
                        return
                    batch: list[Entry] = []
                else:
                    deadline = time.monotonic() + self.flush_interval
                    while len(self._ready) < self.max_batch and not self._stopping:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            break
                        self._cv.wait(left)
                    batch = self._ready.take(self.max_batch)
                    self._inflight = len(batch)
            if time.monotonic() - last_recheck >= self.pending_recheck_interval:
                last_recheck = time.monotonic()
                self.recheck_pending()
            if (
                self._quarantined
                and time.monotonic() - last_retry >= self.quarantine_retry_interval
            ):
                last_retry = time.monotonic()
                with self._cv:
                    self._ready.extend(self._quarantined)
                    self._quarantined.clear()
            if not batch:
                continue
            started = time.perf_counter()
            try:
                self._write(batch)
            except Exception as exc:
                failures += 1
                log.exception("inbound flush of %d entries failed; will retry", len(batch))
                with self._cv:
                    self._counters["storeErrors"] += 1
                    self._last_error = f"{type(exc).__name__}: {exc}"[:300]
                pending = [e for e in batch if not e.done]
                isolate = failures % ISOLATE_AFTER == 0 and len(pending) > 1
                if isolate and self._isolate(pending):
                    failures = 0  # the rest was written; the poison entries are set aside
                    self._flushed(started)
                    continue
                with self._cv:
                    self._ready.push_front(pending)
                    self._inflight = 0
                    self._cv.notify_all()
                if stop_deadline is not None and time.monotonic() > stop_deadline:
                    log.error(
                        "inbound pipeline stopping with %d entries left in the journal",
                        len(self._ready),
                    )
                    return
                time.sleep(delay)
                delay = min(delay * 2, self.retry_max)
                continue
            delay = self.retry_initial
            failures = 0
            self._flushed(started)

    def _flushed(self, started: float) -> None:
        with self._cv:
            self._inflight = 0
            self._counters["flushes"] += 1
            self._last_flush_ms = round((time.perf_counter() - started) * 1000, 2)
            self._cv.notify_all()

    def _isolate(self, pending: list[Entry]) -> bool:
        """Write entries one at a time. If some succeed, the ones that fail are poison (bad data,
        a bug): they are set aside (still in the journal, retried every
        `quarantine_retry_interval` and at the next start) and counted, so they cannot block
        everything behind them. If all fail, it is an outage: returns False."""
        bad: list[Entry] = []
        for entry in pending:
            try:
                self._write([entry])
            except Exception:
                bad.append(entry)
        if len(bad) == len(pending):
            return False
        if not bad:
            return True
        log.error(
            "inbound: %d entries set aside after repeated failures (kept in the journal, retried "
            "every %.0f s)",
            len(bad),
            self.quarantine_retry_interval,
        )
        with self._cv:
            self._quarantined.extend(bad)
            self._counters["quarantined"] += len(bad)
        return True

    def _write(self, batch: list[Entry]) -> None:
        messages = [e for e in batch if e.kind == "m"]
        receipts = [e for e in batch if e.kind == "r"]
        if messages:
            self._write_messages(messages)
        for entry in receipts:
            assert entry.receipt is not None
            apply_receipts(self.store, self._receipt_with_phone(entry.receipt))
            assert self._journal is not None
            self._journal.remove([entry.seq])
            entry.done = True
            with self._cv:
                self._counters["receiptsApplied"] += 1

    def _receipt_with_phone(self, event: ReceiptReceived) -> ReceiptReceived:
        """A LID chat's receipt with its phone JID (learned, or from `lid_resolver`), so that it
        is matched in the chat's own thread, never by the cross-thread search."""
        lid = normalize_jid(event.chat_jid) if not event.chat_pn_jid else None
        if lid is None or not lid.endswith("@lid"):
            return event
        with self._cv:
            pn = self._lids.phone(event.account_id, lid)
        if pn is None and self.lid_resolver is not None:
            try:
                pn = phone_jid(self.lid_resolver(event.account_id, lid))
            except Exception:
                log.warning("lid_resolver failed for a receipt's chat", exc_info=True)
                pn = None
        if pn is None or not pn.endswith("@s.whatsapp.net"):
            return event
        return dataclasses.replace(event, chat_pn_jid=pn)

    def _client_jid(self, record: InboundRecord, learned: list[tuple[str, str, str]]) -> str | None:
        if record.pn_jid is not None:
            return record.pn_jid
        with self._cv:
            known = self._lids.phone(record.account_id, record.addr_jid)
        if known is not None:
            return known
        resolver = self.lid_resolver
        if resolver is None:
            return None
        try:
            found = phone_jid(resolver(record.account_id, record.addr_jid))
        except Exception:
            log.exception("lid_resolver failed for %s", record.addr_jid)
            return None
        if found is None:
            return None
        learned.append((record.account_id, record.addr_jid, found))
        with self._cv:  # the chat's parked messages follow this one into the phone thread
            self._learn(record.account_id, record.addr_jid, found)
            self._cv.notify_all()
        return found

    def _write_messages(self, entries: list[Entry]) -> None:
        learned: list[tuple[str, str, str]] = []
        placed: list[tuple[Entry, Placed]] = []
        changes: list[tuple[Entry, Placed]] = []  # the Placed's path is the target message's
        parked: list[Entry] = []
        for entry in entries:
            record = entry.record
            assert record is not None
            client = self._client_jid(record, learned)
            if client is None:
                parked.append(entry)
                continue
            tid = thread_id_for(record.account_id, client)
            target = change_target(record)
            if target is not None:
                changes.append((entry, Placed(record, tid, message_path(tid, target))))
            else:
                placed.append((entry, Placed(record, tid, message_path(tid, record.wa_id))))
        assert self._journal is not None
        if learned:
            self._journal.append([], learned)
        if placed or changes:
            self._write_placed(placed, changes)
        if parked:  # only now: had the write failed, they would go back to the queue with it
            with self._cv:
                for entry in parked:
                    entry.done = True
                    self._park(entry)

    def _write_placed(
        self, placed: list[tuple[Entry, Placed]], changes: list[tuple[Entry, Placed]]
    ) -> None:
        """New messages, then the changes (edits, deletions, reactions: a reaction may target a
        message of the same batch), then the journal entries of both go."""
        assert self._journal is not None
        result = self._writer.write([item for _, item in placed], [item for _, item in changes])
        handled = placed + changes
        self._journal.remove([e.seq for e, _ in handled])
        for entry, _ in handled:
            entry.done = True
        with self._cv:
            self._counters["messagesStored"] += result.created
            self._counters["duplicatesSkipped"] += result.duplicates
            self._counters["placeholdersUpgraded"] += result.upgraded
            for item in result.stored:
                self._sources[item.record.source] += 1
        if self.on_created is not None and result.won:
            announce(self.on_created, created_messages(placed, result.won, result.threads))

    # ==== control and introspection ==============================================================

    def set_lid_resolver(self, resolver: LidResolver | None) -> None:
        self.lid_resolver = resolver

    def recheck_pending(self) -> int:
        """Ask `lid_resolver` again about parked LIDs; returns how many messages were unparked."""
        resolver = self.lid_resolver
        if resolver is None:
            return 0
        with self._cv:
            keys = self._lids.parked_keys()
        learned: list[tuple[str, str, str]] = []
        for account, lid in keys:
            try:
                pn = phone_jid(resolver(account, lid))
            except Exception:
                continue
            if pn is not None:
                learned.append((account, lid, pn))
        if not learned:
            return 0
        if self._journal is not None:
            self._journal.append([], learned)
        with self._cv:
            before = self._counters["rehomed"]
            for account, lid, pn in learned:
                self._learn(account, lid, pn)
            self._cv.notify_all()
            return self._counters["rehomed"] - before

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until nothing is queued or being written (parked LID messages excepted)."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while self._ready or self._inflight or self._group.busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cv.wait(min(left, 0.05))
            return True

    async def drain(self, timeout: float = 10.0) -> bool:
        """`wait_idle` for async callers."""
        return await asyncio.to_thread(self.wait_idle, timeout)

    def stats(self) -> dict[str, Any]:
        """Counters for /diag and metrics (JSON-able)."""
        with self._cv:
            parked = self._lids.parked_count
            stats: dict[str, Any] = dict(self._counters)
            stats.update(
                {
                    "running": self._accepting,
                    "pendingLid": parked,
                    "pendingLidChats": len(self._lids.parked),
                    "setAside": len(self._quarantined),
                    "journalBacklog": len(self._ready) + self._inflight + parked,
                    "queued": len(self._ready),
                    "inflight": self._inflight,
                    **skipped_view(self._skipped),
                    "changesSkipped": self._writer.change_skips(),  # "kind:reason" -> count
                    "storedBySource": dict(self._sources),
                    "lastFlushMs": self._last_flush_ms,
                    "lastError": self._last_error,
                }
            )
        if self._journal is not None:
            stats["journalCommits"] = self._journal.commits
        with contextlib.suppress(Exception):
            stats["journalPath"] = str(self._journal.path) if self._journal else None
        return stats
