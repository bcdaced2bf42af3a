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
counted in `pendingLid`, and moves into the phone thread as soon as a mapping arrives. Groups,
status updates, broadcast lists and newsletters are counted and not mirrored.

Receipts are journalled too and then applied with the outbox's `apply_receipts` (forward-only).
A receipt that came before its phone-typed (from-me) message waits in `pendingReceipts`; it is
read in the flush's one `get_many` and applied when the message is created (same batch).
Entries that keep failing alone while others succeed are set aside (still journalled, retried
slowly) so one bad document cannot stop the pipeline. See docs/inbound-guarantees.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from session_daemon.inbound.convert import (
    PREVIEW_CHARS,
    InboundRecord,
    message_document,
    message_path,
    record_from_wire,
    thread_id_for,
    thread_patch,
    thread_path,
)
from session_daemon.inbound.fair_queue import FairQueue
from session_daemon.inbound.journal import Journal
from session_daemon.outbox.items import pending_receipt_patch, pending_receipt_path
from session_daemon.outbox.receipts import apply_receipts
from session_daemon.transport.port import (
    HistorySyncChunk,
    MessageReceived,
    ReceiptReceived,
    TransportEvent,
)
from shared.ids import parse_thread_id
from shared.jids import normalize_jid
from shared.paths import doc_id, messages_collection
from shared.store.port import AlreadyExists, DocumentStore, Snapshot, query
from shared.timeutil import from_ms, to_ms, utc_now

__all__ = ["InboundPipeline", "PipelineClosed"]

log = logging.getLogger(__name__)

ISOLATE_AFTER = 3  # every 3rd consecutive failure of a batch, look for a poison entry

LidResolver = Callable[[str, str], "str | None"]
Kind = Literal["m", "r"]


@dataclass(frozen=True)
class CreatedMessage:
    """A message document this pipeline just created (for push notifications and media
    downloads): never a duplicate, a change, or an upgrade."""

    record: InboundRecord
    thread_id: str
    path: str
    thread: dict[str, Any]  # the thread as this flush left it (name, subject)
    replayed: bool


CreatedHook = Callable[[list[CreatedMessage]], None]


class PipelineClosed(RuntimeError):
    """`submit` before `start()` or after `stop()`: the event was NOT acknowledged."""


@dataclass(slots=True)
class _Entry:
    seq: int
    kind: Kind
    record: InboundRecord | None = None
    receipt: ReceiptReceived | None = None
    done: bool = False  # handled by a flush: written, a duplicate, applied, or parked
    replayed: bool = False  # read back from the journal at start (no push for it)


@dataclass(slots=True)
class _Append:
    rows: list[tuple[Kind, str]]
    entries: list[_Entry]
    mappings: list[tuple[str, str, str]]
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


def _account_of(entry: _Entry) -> str:
    if entry.record is not None:
        return entry.record.account_id
    assert entry.receipt is not None
    return entry.receipt.account_id


def _receipt_json(event: ReceiptReceived) -> str:
    return json.dumps(
        {
            "a": event.account_id,
            "ids": list(event.message_ids),
            "c": event.chat_jid,
            "p": event.chat_pn_jid,
            "s": event.status,
            "t": to_ms(event.timestamp),
        },
        separators=(",", ":"),
    )


def _receipt_from_json(text: str) -> ReceiptReceived:
    raw = json.loads(text)
    return ReceiptReceived(
        account_id=raw["a"],
        message_ids=tuple(raw["ids"]),
        chat_jid=raw["c"],
        status=raw["s"],
        timestamp=from_ms(raw["t"]),
        chat_pn_jid=raw["p"],
    )


def _change_target(record: InboundRecord) -> str | None:
    """The id of the message a change (edit, deletion, reaction) applies to; None otherwise."""
    if record.content is None:
        return None
    from session_daemon.kinds import kind_of

    return str(record.content.target_id) if kind_of(record.content).role == "change" else None


def _is_placeholder(record: InboundRecord | None) -> bool:
    from session_daemon.transport.port import UndecryptableContent

    return record is not None and isinstance(record.content, UndecryptableContent)


def _summary_patch(
    thread: Snapshot | None, message_path_: str, patch: dict[str, Any]
) -> dict[str, Any]:
    """The thread summary's text when the changed message is the one it shows."""
    body = patch.get("body")
    if thread is None or not isinstance(body, str) or not body:
        return {}
    if thread.data.get("lastMessageId") != doc_id(message_path_):
        return {}
    return {"lastMessageText": body[:PREVIEW_CHARS], "lastMessagePreview": body[:PREVIEW_CHARS]}


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
        # group commit
        self._append_cv = threading.Condition()
        self._appends: deque[_Append] = deque()
        # routing and flushing (guarded by _cv)
        self._cv = threading.Condition()
        self._ready: FairQueue[_Entry] = FairQueue(_account_of)
        self._parked: dict[tuple[str, str], list[_Entry]] = {}
        self._lid_map: dict[tuple[str, str], str] = {}
        self._quarantined: list[_Entry] = []  # failed alone, again and again: retried slowly
        self._inflight = 0
        self._accepting = False
        self._stopping = False  # the flusher's flag
        self._journal_stopping = False
        self._threads: list[threading.Thread] = []
        self._counters: dict[str, int] = {
            "eventsSubmitted": 0,
            "messagesJournalled": 0,
            "messagesStored": 0,
            "duplicatesSkipped": 0,
            "rehomed": 0,
            "receiptsApplied": 0,
            "pendingReceiptsApplied": 0,
            "receiptErrors": 0,
            "storeWrites": 0,
            "threadWrites": 0,
            "flushes": 0,
            "storeErrors": 0,
            "replayed": 0,
            "lidMappings": 0,
            "quarantined": 0,
            "corruptJournalEntries": 0,
            "changesApplied": 0,
            "placeholdersUpgraded": 0,
        }
        self._change_skips: dict[str, int] = {}
        self._skipped: dict[str, int] = {}
        self._last_error: str | None = None
        self._last_flush_ms: float | None = None
        self._sources: dict[str, int] = {"live": 0, "history": 0}

    # ==== lifecycle ==============================================================================

    async def start(self) -> None:
        """Open the journal, replay what a previous run left in it, start the worker threads."""
        await asyncio.to_thread(self._open_and_replay)
        for name, target in (
            ("inbound-journal", self._journal_loop),
            ("inbound-flush", self._flush_loop),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
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
        with self._append_cv:
            self._journal_stopping = True
            self._append_cv.notify_all()
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
        self._lid_map = journal.mappings()
        replay: list[_Entry] = []
        corrupt = 0
        for seq, kind, payload in journal.entries():
            try:
                if kind == "m":
                    record = InboundRecord.from_json(json.loads(payload))
                    replay.append(_Entry(seq, "m", record=record, replayed=True))
                elif kind == "r":
                    replay.append(_Entry(seq, "r", receipt=_receipt_from_json(payload)))
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
        entries: list[_Entry] = []
        mappings: list[tuple[str, str, str]] = []
        received_ms = to_ms(utc_now())
        if isinstance(event, MessageReceived):
            self._add_message(
                event.account_id, event.message, "live", received_ms, None, rows, entries, mappings
            )
        elif isinstance(event, HistorySyncChunk):
            for lid, pn in event.lid_to_pn.items():
                lid_jid, pn_jid = normalize_jid(lid), normalize_jid(pn)
                if (
                    lid_jid
                    and pn_jid
                    and lid_jid.endswith("@lid")
                    and pn_jid.endswith("@s.whatsapp.net")
                ):
                    mappings.append((event.account_id, lid_jid, pn_jid))
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
            rows.append(("r", _receipt_json(event)))
            entries.append(_Entry(0, "r", receipt=event))
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
        request = _Append(rows, entries, mappings)
        with self._append_cv:
            if self._journal_stopping:
                raise PipelineClosed("the inbound pipeline is stopping")
            self._appends.append(request)
            self._append_cv.notify()
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
        entries: list[_Entry],
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
        entries.append(_Entry(0, "m", record=result))

    # ==== journal thread: group commit ===========================================================

    def _journal_loop(self) -> None:
        while True:
            with self._append_cv:
                while not self._appends and not self._journal_stopping:
                    self._append_cv.wait()
                if not self._appends:
                    return
                group = list(self._appends)
                self._appends.clear()
            rows = [row for req in group for row in req.rows]
            mappings = [m for req in group for m in req.mappings]
            try:
                assert self._journal is not None
                seqs = self._journal.append(rows, mappings)
            except BaseException as exc:  # the disk said no: nobody is acknowledged
                log.exception("inbound journal append failed")
                for req in group:
                    req.error = exc
                    req.done.set()
                continue
            entries = [e for req in group for e in req.entries]
            for entry, seq in zip(entries, seqs, strict=True):
                entry.seq = seq
            with self._cv:
                for account, lid, pn in mappings:
                    self._learn(account, lid, pn)
                self._counters["messagesJournalled"] += sum(1 for e in entries if e.kind == "m")
                self._route(entries)
                self._cv.notify_all()
            for req in group:
                req.done.set()

    # ==== routing (holding _cv) ==================================================================

    def _learn(self, account: str, lid: str, pn: str) -> None:
        if self._lid_map.get((account, lid)) != pn:
            self._lid_map[(account, lid)] = pn
            self._counters["lidMappings"] += 1
        parked = self._parked.pop((account, lid), None)
        if parked:
            self._counters["rehomed"] += len(parked)
            self._requeue(parked)

    def _route(self, entries: Sequence[_Entry]) -> None:
        self._ready.extend(entries)

    def _park(self, entry: _Entry) -> None:
        assert entry.record is not None
        key = (entry.record.account_id, entry.record.addr_jid)
        if key in self._lid_map:  # learned while this batch was being written
            self._requeue([entry])
            return
        self._parked.setdefault(key, []).append(entry)

    def _requeue(self, entries: list[_Entry]) -> None:
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
                    batch: list[_Entry] = []
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

    def _isolate(self, pending: list[_Entry]) -> bool:
        """Write entries one at a time. If some succeed, the ones that fail are poison (bad data,
        a bug): they are set aside (still in the journal, retried every
        `quarantine_retry_interval` and at the next start) and counted, so they cannot block
        everything behind them. If all fail, it is an outage: returns False."""
        bad: list[_Entry] = []
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

    def _write(self, batch: list[_Entry]) -> None:
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
            pn = self._lid_map.get((event.account_id, lid))
        if pn is None and self.lid_resolver is not None:
            try:
                pn = normalize_jid(self.lid_resolver(event.account_id, lid) or "")
            except Exception:
                log.warning("lid_resolver failed for a receipt's chat", exc_info=True)
                pn = None
        if pn is None or not pn.endswith("@s.whatsapp.net"):
            return event
        return dataclasses.replace(event, chat_pn_jid=pn)

    def _client_jid(self, record: InboundRecord, learned: list[tuple[str, str, str]]) -> str | None:
        if record.pn_jid is not None:
            return record.pn_jid
        key = (record.account_id, record.addr_jid)
        with self._cv:
            known = self._lid_map.get(key)
        if known is not None:
            return known
        resolver = self.lid_resolver
        if resolver is None:
            return None
        try:
            found = normalize_jid(resolver(record.account_id, record.addr_jid) or "")
        except Exception:
            log.exception("lid_resolver failed for %s", record.addr_jid)
            return None
        if found is None or not found.endswith("@s.whatsapp.net"):
            return None
        learned.append((record.account_id, record.addr_jid, found))
        with self._cv:  # the chat's parked messages follow this one into the phone thread
            self._learn(record.account_id, record.addr_jid, found)
            self._cv.notify_all()
        return found

    def _write_messages(self, entries: list[_Entry]) -> None:
        learned: list[tuple[str, str, str]] = []
        placed: list[tuple[_Entry, str, str]] = []  # entry, thread id, message path
        changes: list[tuple[_Entry, str, str]] = []  # entry, thread id, target message path
        parked: list[_Entry] = []
        for entry in entries:
            record = entry.record
            assert record is not None
            client = self._client_jid(record, learned)
            if client is None:
                parked.append(entry)
                continue
            tid = thread_id_for(record.account_id, client)
            target = _change_target(record)
            if target is not None:
                changes.append((entry, tid, message_path(tid, target)))
            else:
                placed.append((entry, tid, message_path(tid, record.wa_id)))
        assert self._journal is not None
        if learned:
            self._journal.append([], learned)
        if placed:
            self._write_placed(placed)
        if changes:  # after the creates: a reaction may target a message of the same batch
            self._apply_changes(changes)
        if parked:  # only now: had the write failed, they would go back to the queue with it
            with self._cv:
                for entry in parked:
                    entry.done = True
                    self._park(entry)

    def _write_placed(self, placed: list[tuple[_Entry, str, str]]) -> None:
        assert self._journal is not None
        # Dedup: within the batch, then against the store (one read for messages and threads).
        unique: dict[str, tuple[_Entry, str, str]] = {}
        for item in placed:
            unique.setdefault(item[2], item)
        # A phone-typed (from-me) message may come after its receipt (its LID chat was parked,
        # it came by history sync, its write was retried): the receipt waits in
        # pendingReceipts, read in the same get_many. Inbound messages get no receipts.
        thread_ids = list(dict.fromkeys(tid for _, tid, _ in unique.values()))
        msg_paths = list(unique)
        mine = [p for p, (e, _, _) in unique.items() if e.record is not None and e.record.from_me]
        pending_paths = [
            pending_receipt_path(r.account_id, r.wa_id)
            for r in (unique[p][0].record for p in mine)
            if r is not None
        ]
        n_msgs, n_threads = len(msg_paths), len(thread_ids)
        snaps = self.store.get_many(
            msg_paths + [thread_path(t) for t in thread_ids] + pending_paths
        )
        existing_docs = {p: s for p, s in zip(msg_paths, snaps[:n_msgs], strict=True) if s}
        existing_msgs = set(existing_docs)
        threads: dict[str, Snapshot | None] = dict(
            zip(thread_ids, snaps[n_msgs : n_msgs + n_threads], strict=True)
        )
        receipts = {
            path: snap
            for path, snap in zip(mine, snaps[n_msgs + n_threads :], strict=True)
            if snap is not None
        }
        fresh = [item for path, item in unique.items() if path not in existing_msgs]
        fresh = self._drop_sent_by_daemon(fresh, threads)
        duplicates = len(placed) - len(fresh)

        upgrades = [
            item
            for path, item in unique.items()
            if path in existing_docs
            and existing_docs[path].data.get("undecryptable") is True
            and not _is_placeholder(item[0].record)
        ]
        won = self._commit(fresh, threads, receipts)
        created = len(won)
        duplicates += len(fresh) - created
        upgraded = self._upgrade(upgrades) if upgrades else 0
        duplicates -= upgraded
        self._journal.remove([e.seq for e, _, _ in placed])
        for entry, _, _ in placed:
            entry.done = True
        with self._cv:
            self._counters["messagesStored"] += created
            self._counters["duplicatesSkipped"] += duplicates
            for entry, _, _ in fresh:
                assert entry.record is not None
                self._sources[entry.record.source] += 1
        self._announce(won, threads)

    def _announce(
        self, won: list[tuple[_Entry, str, str]], threads: dict[str, Snapshot | None]
    ) -> None:
        hook = self.on_created
        if hook is None or not won:
            return
        created = []
        for entry, tid, path in won:
            assert entry.record is not None
            snap = threads.get(tid)
            created.append(
                CreatedMessage(
                    entry.record, tid, path, dict(snap.data) if snap else {}, entry.replayed
                )
            )
        try:
            hook(created)
        except Exception:  # a listener never fails the write that already happened
            log.exception("inbound on_created listener failed")

    def _apply_changes(self, changes: list[tuple[_Entry, str, str]]) -> None:
        """Edits, deletions and reactions: one transaction each on the message they target
        (and the thread summary when that message is the one it shows). A change to a message
        that is not stored, or of another chat, is counted with its reason."""
        assert self._journal is not None
        for entry, tid, target in changes:
            outcome = self._apply_change(entry, tid, target)
            self._journal.remove([entry.seq])
            entry.done = True
            with self._cv:
                if outcome == "applied":
                    self._counters["changesApplied"] += 1
                else:
                    self._change_skips[outcome] = self._change_skips.get(outcome, 0) + 1

    def _apply_change(self, entry: _Entry, tid: str, target: str) -> str:
        from session_daemon.kinds import ChangeContext, kind_of

        record = entry.record
        assert record is not None
        kind = kind_of(record.content)
        change = kind.change
        assert change is not None
        ctx = ChangeContext(
            client_jid=parse_thread_id(tid)[1],
            at=from_ms(record.ts_ms),
            from_me=record.from_me,
            sender_jid=record.sender_jid or (None if record.from_me else record.pn_jid),
        )

        def apply(tx: Any) -> str:
            snap = tx.get(target)
            thread = tx.get(thread_path(tid))
            patch = change(snap.data if snap else None, record.content, ctx)
            if not isinstance(patch, dict):
                return f"{kind.tag}:{patch.reason}"
            tx.update(target, patch)
            summary = _summary_patch(thread, target, patch)
            if summary:
                tx.update(thread_path(tid), summary)
            return "applied"

        return str(self.store.transaction(apply))

    def _upgrade(self, items: list[tuple[_Entry, str, str]]) -> int:
        """Undecryptable placeholders take their real content (the one rewrite create-once
        allows); returns how many were upgraded."""
        from session_daemon.inbound.changes import upgrade_patch

        upgraded = 0
        for entry, tid, path in items:
            assert entry.record is not None
            doc = message_document(entry.record, parse_thread_id(tid)[1])

            def apply(tx: Any, path: str = path, tid: str = tid, doc: dict[str, Any] = doc) -> bool:
                snap = tx.get(path)
                thread = tx.get(thread_path(tid))
                if snap is None:
                    return False
                patch = upgrade_patch(snap.data, doc, at=utc_now())
                if not isinstance(patch, dict):
                    return False
                tx.update(path, patch)
                summary = _summary_patch(thread, path, patch)
                if summary:
                    tx.update(thread_path(tid), summary)
                return True

            if self.store.transaction(apply):
                upgraded += 1
        with self._cv:
            self._counters["placeholdersUpgraded"] += upgraded
        return upgraded

    def _drop_sent_by_daemon(
        self, items: list[tuple[_Entry, str, str]], threads: dict[str, Snapshot | None]
    ) -> list[tuple[_Entry, str, str]]:
        """A from-me message may be one the daemon sent for the app: it is already stored under
        its send requestId with this `waMessageId`. Only threads that existed before this flush
        can hold one (a send needs the thread); each lookup is an indexed equality query."""
        known: set[tuple[str, str]] = set()
        for entry, tid, _ in items:
            record = entry.record
            assert record is not None
            if not record.from_me or threads.get(tid) is None:
                continue
            hits = self.store.query(
                query(
                    messages_collection(tid), where=[("waMessageId", "==", record.wa_id)], limit=1
                )
            )
            if hits:
                known.add((tid, record.wa_id))
        if not known:
            return items
        return [
            item
            for item in items
            if item[0].record is None or (item[1], item[0].record.wa_id) not in known
        ]

    @staticmethod
    def _document(
        entry: _Entry, tid: str, receipt: Snapshot | None, now: datetime
    ) -> tuple[dict[str, Any], Snapshot | None]:
        """The new message's document, with a receipt that came before it applied (forward
        only, at the receipt's own time), and that receipt when it was applied."""
        assert entry.record is not None
        doc = message_document(entry.record, parse_thread_id(tid)[1])
        if receipt is None or not entry.record.from_me:
            return doc, None
        patch = pending_receipt_patch(receipt.data, doc, now=now, thread_id=tid)
        doc.update(patch)
        return doc, receipt if patch else None

    def _commit(
        self,
        fresh: list[tuple[_Entry, str, str]],
        threads: dict[str, Snapshot | None],
        receipts: dict[str, Snapshot],
    ) -> list[tuple[_Entry, str, str]]:
        """Create the new messages and move their threads: each pack is one atomic batch holding
        messages together with their threads' summary (and the pending receipts they applied,
        marked applied). Returns the messages created (a concurrent writer may have won a few:
        that pack is then written one by one)."""
        created: list[tuple[_Entry, str, str]] = []
        for pack in self._packs(fresh, receipts):
            batch = self.store.batch()
            now = utc_now()
            statuses: dict[str, str] = {}
            applied = 0
            for entry, tid, path in pack:
                doc, receipt = self._document(entry, tid, receipts.get(path), now)
                batch.create(path, doc)
                if receipt is not None:
                    statuses[path] = str(doc["status"])
                    batch.update(receipt.path, {"appliedAt": now, "messagePath": path})
                    applied += 1
            patches = self._add_thread_writes(batch, pack, threads, statuses)
            try:
                batch.commit()
            except AlreadyExists:
                created += self._commit_one_by_one(pack, threads, receipts)
                continue
            self._remember_patches(threads, patches)
            created += pack
            with self._cv:
                self._counters["storeWrites"] += len(pack) + len(patches) + applied
                self._counters["threadWrites"] += len(patches)
                self._counters["pendingReceiptsApplied"] += applied
        return created

    def _packs(
        self, fresh: list[tuple[_Entry, str, str]], receipts: dict[str, Snapshot] | None = None
    ) -> list[list[tuple[_Entry, str, str]]]:
        """Split a flush into batches of at most `max_batch_writes` writes (messages, a pending
        receipt each applies, plus one thread write per thread), keeping each thread's messages
        in one batch when they fit."""
        by_thread: dict[str, list[tuple[_Entry, str, str]]] = {}
        for item in fresh:
            by_thread.setdefault(item[1], []).append(item)
        limit = max(2, self.max_batch_writes)
        extra = receipts or {}

        def cost(item: tuple[_Entry, str, str]) -> int:
            return 2 if item[2] in extra else 1

        packs: list[list[tuple[_Entry, str, str]]] = []
        current: list[tuple[_Entry, str, str]] = []
        used = 0
        for items in by_thread.values():
            items.sort(key=lambda it: it[0].record.ts_ms if it[0].record else 0)
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

    def _add_thread_writes(
        self,
        batch: Any,
        items: list[tuple[_Entry, str, str]],
        threads: dict[str, Snapshot | None],
        statuses: dict[str, str] | None = None,
    ) -> dict[str, dict[str, Any]]:
        """One `set(merge)` per thread; `statuses` (message path -> status) are the new messages
        that a pending receipt moved past `sent`, so the summary shows their real status."""
        grouped: dict[str, list[InboundRecord]] = {}
        for entry, tid, _ in items:
            assert entry.record is not None
            grouped.setdefault(tid, []).append(entry.record)
        patches: dict[str, dict[str, Any]] = {}
        now = utc_now()
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
                batch.set(thread_path(tid), patch, merge=True)
                patches[tid] = patch
        return patches

    @staticmethod
    def _remember_patches(
        threads: dict[str, Snapshot | None], patches: dict[str, dict[str, Any]]
    ) -> None:
        """Keep the flush's view of a thread current after a pack moved it (the next pack of
        the same thread must see it exists, its name, and its new last message time)."""
        for tid, patch in patches.items():
            old = threads.get(tid)
            threads[tid] = Snapshot(thread_path(tid), {**(old.data if old else {}), **patch})

    def _commit_one_by_one(
        self,
        fresh: list[tuple[_Entry, str, str]],
        threads: dict[str, Snapshot | None],
        receipts: dict[str, Snapshot],
    ) -> list[tuple[_Entry, str, str]]:
        won: list[tuple[_Entry, str, str]] = []
        statuses: dict[str, str] = {}
        now = utc_now()
        for entry, tid, path in fresh:
            doc, receipt = self._document(entry, tid, receipts.get(path), now)
            try:
                self.store.create(path, doc)
                won.append((entry, tid, path))
            except AlreadyExists:
                continue
            if receipt is not None:
                statuses[path] = str(doc["status"])
        # Re-read the threads: the concurrent writer may have moved them.
        tids = list(dict.fromkeys(t for _, t, _ in won))
        current = dict(zip(tids, self.store.get_many([thread_path(t) for t in tids]), strict=True))
        batch = self.store.batch()
        patches = self._add_thread_writes(batch, won, current, statuses)
        for path in statuses:
            batch.update(receipts[path].path, {"appliedAt": now, "messagePath": path})
        batch.commit()
        self._remember_patches(threads, patches)
        with self._cv:
            self._counters["storeWrites"] += len(won) + len(patches) + len(statuses)
            self._counters["threadWrites"] += len(patches)
            self._counters["pendingReceiptsApplied"] += len(statuses)
        return won

    # ==== control and introspection ==============================================================

    def set_lid_resolver(self, resolver: LidResolver | None) -> None:
        self.lid_resolver = resolver

    def recheck_pending(self) -> int:
        """Ask `lid_resolver` again about parked LIDs; returns how many messages were unparked."""
        resolver = self.lid_resolver
        if resolver is None:
            return 0
        with self._cv:
            keys = list(self._parked)
        learned: list[tuple[str, str, str]] = []
        for account, lid in keys:
            try:
                pn = normalize_jid(resolver(account, lid) or "")
            except Exception:
                continue
            if pn is not None and pn.endswith("@s.whatsapp.net"):
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
            while self._ready or self._inflight or self._appends:
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
            parked = sum(len(v) for v in self._parked.values())
            stats: dict[str, Any] = dict(self._counters)
            stats.update(
                {
                    "running": self._accepting,
                    "pendingLid": parked,
                    "pendingLidChats": len(self._parked),
                    "setAside": len(self._quarantined),
                    "journalBacklog": len(self._ready) + self._inflight + parked,
                    "queued": len(self._ready),
                    "inflight": self._inflight,
                    "groupsSkipped": self._skipped.get("group", 0),
                    "statusSkipped": self._skipped.get("status", 0),
                    "broadcastSkipped": self._skipped.get("broadcast", 0),
                    "newsletterSkipped": self._skipped.get("newsletter", 0),
                    "otherSkipped": sum(
                        v
                        for k, v in self._skipped.items()
                        if k not in ("group", "status", "broadcast", "newsletter")
                    ),
                    "skippedByReason": dict(self._skipped),
                    "changesSkipped": dict(self._change_skips),  # "kind:reason" -> count
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
