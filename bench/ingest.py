"""Inbound ingest: simulated WhatsApp messages through the whole inbound pipeline into SqliteStore.

    SimulatedTransport ─ sink ─► InboundPipeline.submit (journal, group commit) ─► batched writer
                                                                               ─► SqliteStore

Modes (default: both, one after the other, each into fresh files):
- `history`: history-sync chunks grouped by conversation, as WhatsApp sends them, each chunk
  re-sending the tail of the previous one (`--overlap`, default 5%): the dedup path is exercised.
- `live`: one `MessageReceived` per message from `--producers` threads, chats interleaved.

Prints messages/s, the ratio to `bench/store.py`'s raw `sqlite3.executemany` rate for the same
message documents in the same run, store writes per stored message (target <= 1.05 in history
sync), and peak memory (resident set high-water mark, and its growth during the run).

    python bench/ingest.py [--messages 100000] [--chats 1000] [--mode both|history|live]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from session_daemon.inbound.convert import (  # noqa: E402
    message_document,
    message_path,
    record_from_wire,
    thread_id_for,
)
from session_daemon.inbound.pipeline import InboundPipeline  # noqa: E402
from session_daemon.transport.port import WireMessage  # noqa: E402
from session_daemon.transport.simulated import SimulatedTransport  # noqa: E402
from shared.store.port import DocumentStore, Snapshot, WriteBatch  # noqa: E402
from shared.store.sqlite import SqliteStore  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ACCOUNT = "bench"
MAX_BATCH = 500  # the pipeline's default max_batch (and max_batch_writes)


def _load_store_bench() -> Any:
    spec = importlib.util.spec_from_file_location("bench_store", ROOT / "bench" / "store.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class CountingStore:
    """Delegates to a store and counts document writes (each create/set/update = one write,
    as Firestore bills them) and reads."""

    def __init__(self, inner: DocumentStore) -> None:
        self.inner = inner
        self.writes = 0
        self.reads = 0
        self._lock = threading.Lock()

    def _count(self, writes: int = 0, reads: int = 0) -> None:
        with self._lock:
            self.writes += writes
            self.reads += reads

    def get(self, path: str) -> Snapshot | None:
        self._count(reads=1)
        return self.inner.get(path)

    def get_many(self, paths: Sequence[str]) -> list[Snapshot | None]:
        self._count(reads=len(paths))
        return self.inner.get_many(paths)

    def create(self, path: str, data: dict[str, Any]) -> None:
        self._count(writes=1)
        self.inner.create(path, data)

    def set(self, path: str, data: dict[str, Any], *, merge: bool = False) -> None:
        self._count(writes=1)
        self.inner.set(path, data, merge=merge)

    def update(self, path: str, data: dict[str, Any]) -> None:
        self._count(writes=1)
        self.inner.update(path, data)

    def batch(self) -> WriteBatch:
        return _CountingBatch(self, self.inner.batch())

    def __getattr__(self, name: str) -> Any:  # query, transaction, watch, ping, close
        return getattr(self.inner, name)


class _CountingBatch:
    def __init__(self, owner: CountingStore, inner: WriteBatch) -> None:
        self.owner, self.inner, self.n = owner, inner, 0

    def create(self, path: str, data: dict[str, Any]) -> None:
        self.n += 1
        self.inner.create(path, data)

    def set(self, path: str, data: dict[str, Any], *, merge: bool = False) -> None:
        self.n += 1
        self.inner.set(path, data, merge=merge)

    def update(self, path: str, data: dict[str, Any]) -> None:
        self.n += 1
        self.inner.update(path, data)

    def commit(self) -> None:
        self.inner.commit()
        self.owner._count(writes=self.n)


def chat_phone(chat: int) -> str:
    return f"+4072{chat:07d}"


def wire(i: int, chat: int, *, from_me: bool = False) -> WireMessage:
    jid = f"4072{chat:07d}@s.whatsapp.net"
    return WireMessage(
        id=f"3EB0{i:016X}",
        chat_jid=jid,
        sender_jid="40700000001@s.whatsapp.net" if from_me else jid,
        from_me=from_me,
        timestamp=T0 + timedelta(seconds=i),
        text=f"Mesajul {i}: bună ziua, aș dori o rezervare pentru sâmbătă",
        push_name=None if from_me else f"Client {chat}",
    )


def history_chunks(
    messages: int, chats: int, chunk_size: int, overlap: float
) -> Iterator[list[WireMessage]]:
    """Conversations in order, each conversation's messages together (as a history sync does);
    every chunk starts with the last `overlap` share of the previous one (a resend)."""
    per_chat = max(1, messages // chats)
    pending: list[WireMessage] = []
    previous: list[WireMessage] = []
    n = 0
    for chat in range(chats):
        for k in range(per_chat):
            if n >= messages:
                break
            pending.append(wire(chat * per_chat + k, chat, from_me=k % 4 == 3))
            n += 1
            if len(pending) >= chunk_size:
                tail = previous[len(previous) - int(len(previous) * overlap) :] if overlap else []
                yield tail + pending
                previous, pending = pending, []
    if pending:
        tail = previous[len(previous) - int(len(previous) * overlap) :] if overlap else []
        yield tail + pending


def live_messages(messages: int, chats: int) -> list[tuple[int, WireMessage]]:
    return [(i % chats, wire(i, i % chats)) for i in range(messages)]


def rss_mb() -> float:
    # Linux reports ru_maxrss in KiB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run_pipeline(
    tmp: Path, mode: str, messages: int, chats: int, producers: int, chunk: int, overlap: float
) -> dict[str, Any]:
    store = CountingStore(SqliteStore(tmp / f"{mode}.db"))
    pipeline = InboundPipeline(
        store, tmp / f"{mode}-journal", max_batch=MAX_BATCH, flush_interval=0.05
    )
    sim = SimulatedTransport(auto_delivered=False)
    await pipeline.start()
    await sim.start_session(ACCOUNT, tmp / f"{mode}-session.json", pipeline.submit)
    await sim.arun(sim.pair, ACCOUNT, "+40700000001", "Superparty")
    rss_before = rss_mb()
    sent = 0
    start = time.perf_counter()
    if mode == "history":
        for order, chunk_msgs in enumerate(history_chunks(messages, chats, chunk, overlap)):
            await sim.ahistory_sync(ACCOUNT, chunk_msgs, chunk_order=order)
            sent += len(chunk_msgs)
    else:
        items = live_messages(messages, chats)

        def produce(part: list[tuple[int, WireMessage]]) -> None:
            for chat, w in part:
                sim.deliver_message(
                    ACCOUNT, chat_phone(chat), w.text, msg_id=w.id, timestamp=w.timestamp,
                    push_name=w.push_name,
                )  # fmt: skip

        threads = [
            threading.Thread(target=produce, args=(items[p::producers],)) for p in range(producers)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        sent = len(items)
        del items
    acked = time.perf_counter() - start
    await pipeline.drain(timeout=600)
    elapsed = time.perf_counter() - start
    stats = pipeline.stats()
    await pipeline.stop()
    await sim.close()
    stored = stats["messagesStored"]
    store.inner.close()
    return {
        "mode": mode,
        "events": sent,
        "stored": stored,
        "duplicates": stats["duplicatesSkipped"],
        "rate": stored / elapsed,
        "ack_rate": sent / acked,
        "elapsed": elapsed,
        "writes": store.writes,
        "thread_writes": stats["threadWrites"],
        "writes_per_message": store.writes / max(stored, 1),
        "journal_commits": stats["journalCommits"],
        "rss_before": rss_before,
        "rss_after": rss_mb(),
    }


async def ack_latency(tmp: Path, messages: int) -> dict[str, float]:
    """One sender, one message at a time: how long `submit` takes (the loss window)."""
    store = SqliteStore(tmp / "latency.db")
    pipeline = InboundPipeline(store, tmp / "latency-journal")
    sim = SimulatedTransport(auto_delivered=False)
    await pipeline.start()
    await sim.start_session(ACCOUNT, tmp / "latency-session.json", pipeline.submit)
    await sim.arun(sim.pair, ACCOUNT, "+40700000001", "Superparty")

    def run() -> list[float]:
        times = []
        for i in range(messages):
            t = time.perf_counter()
            sim.deliver_message(ACCOUNT, chat_phone(i % 50), f"m{i}", msg_id=f"L{i:08d}")
            times.append((time.perf_counter() - t) * 1000)
        return sorted(times)

    times = await asyncio.to_thread(run)
    await pipeline.drain(timeout=60)
    await pipeline.stop()
    await sim.close()
    store.close()
    return {"p50": times[len(times) // 2], "p99": times[int(len(times) * 0.99)], "max": times[-1]}


def raw_rate(tmp: Path, messages: int, chats: int, batch: int, store_bench: Any) -> float:
    """bench/store.py's raw executemany, on the very documents the pipeline wrote."""
    docs: list[tuple[str, dict[str, Any]]] = []
    for _chat, w in live_messages(messages, chats):
        record = record_from_wire(ACCOUNT, w, source="live", received_ms=0)
        assert not isinstance(record, str)
        tid = thread_id_for(ACCOUNT, w.chat_jid)
        docs.append((message_path(tid, w.id), message_document(record, w.chat_jid)))
    rate: float = store_bench.run_raw(tmp / "raw.db", docs, batch)
    return rate


def report(result: dict[str, Any], raw: float, out: Callable[[str], None] = print) -> None:
    r = result
    rss_growth = r["rss_after"] - r["rss_before"]
    lines = [
        f"[{r['mode']}] {r['events']:,} events -> {r['stored']:,} messages stored "
        f"({r['duplicates']:,} duplicates skipped) in {r['elapsed']:.2f} s",
        f"  pipeline: {r['rate']:,.0f} messages/s stored (acknowledged at {r['ack_rate']:,.0f}/s;"
        f" {r['journal_commits']:,} journal commits)",
        f"  ratio to raw sqlite3 executemany of the same documents: {r['rate'] / raw:.2f}"
        f" (raw {raw:,.0f} docs/s)",
        f"  store writes: {r['writes']:,} ({r['thread_writes']:,} thread writes) = "
        f"{r['writes_per_message']:.3f} writes per message",
        f"  peak RSS: {r['rss_after']:.0f} MiB (before the run {r['rss_before']:.0f} MiB:"
        f" +{rss_growth:.0f} MiB)",
    ]
    for line in lines:
        out(line)


def raw_in_child(tmp: Path, args: argparse.Namespace) -> float:
    """The raw baseline in a child process, so its document list does not inflate our RSS."""
    out = subprocess.run(
        [sys.executable, __file__, "--raw-only", str(tmp), "--messages", str(args.messages),
         "--chats", str(args.chats), "--batch", str(args.batch)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--chats", type=int, default=1000)
    parser.add_argument("--mode", choices=("both", "history", "live"), default="both")
    parser.add_argument("--producers", type=int, default=8, help="live mode: sender threads")
    parser.add_argument("--chunk", type=int, default=2000, help="history mode: messages/chunk")
    parser.add_argument("--overlap", type=float, default=0.05, help="history mode: resent share")
    parser.add_argument(
        "--batch", type=int, default=MAX_BATCH, help="raw baseline batch (default: the pipeline's)"
    )
    parser.add_argument("--raw-only", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.raw_only:
        print(
            raw_rate(
                Path(args.raw_only), args.messages, args.chats, args.batch, _load_store_bench()
            )
        )
        return
    modes = ("history", "live") if args.mode == "both" else (args.mode,)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        # The raw baseline runs right before and right after each pipeline run, and that run's
        # ratio uses their mean: fsync-bound rates drift a lot on a shared machine.
        results: list[tuple[dict[str, Any], float, float]] = []
        for m in modes:
            before = raw_in_child(tmp / f"raw-{m}-before", args)
            result = asyncio.run(
                run_pipeline(
                    tmp, m, args.messages, args.chats, args.producers, args.chunk, args.overlap
                )
            )
            after = raw_in_child(tmp / f"raw-{m}-after", args)
            results.append((result, before, after))
        latency = asyncio.run(ack_latency(tmp, 2000))
    print(f"messages={args.messages:,} chats={args.chats:,} python={sys.version.split()[0]}")
    print(f"raw baseline: bench/store.py run_raw (batch {args.batch}) on the same documents")
    for result, before, after in results:
        report(result, (before + after) / 2)
        print(f"  (raw before/after this run: {before:,.0f} / {after:,.0f} docs/s)")
    print(f"acknowledgement latency, one sender (the loss window): p50 {latency['p50']:.2f} ms, "
          f"p99 {latency['p99']:.2f} ms, max {latency['max']:.2f} ms")  # fmt: skip
    history = [r for r, _, _ in results if r["mode"] == "history"]
    if history:
        ok = history[0]["writes_per_message"] <= 1.05
        print(f"history-sync writes per message <= 1.05: {'yes' if ok else 'NO'}")


if __name__ == "__main__":
    main()
