"""What auto-reply costs the inbound pipeline: SqliteStore (temp file), the real pipeline.

Side by side, the same burst of live client messages (several threads, a keyword in half of them)
goes through a pipeline without the auto-reply listener and one with it (account enabled, one
flow; the engine's one worker on SQLite, then 4 workers for comparison). Prints the time until
the pipeline has stored everything (the listener only queues, but the replies' writes share the
store), the time until every reply is in the outbox, and the per-message decision time of the
engine (p50/p99) for an account with auto-reply off (one read) and for a flow reply (reads and
the outbox transaction).

    python bench/autoreply.py [--messages 2000] [--threads 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from session_daemon.autoreply.engine import AutoReplyEngine, incoming_of
from session_daemon.autoreply.settings import AutoReplyConfig
from session_daemon.inbound.convert import InboundRecord, record_from_wire
from session_daemon.inbound.pipeline import CreatedMessage, InboundPipeline
from session_daemon.transport.port import MessageReceived, WireMessage
from shared.ids import parse_thread_id
from shared.store.port import query
from shared.store.sqlite import SqliteStore
from shared.timeutil import utc_now

ACC = "bench"
FLOWS = [{"keywords": ["pret"], "replies": ["De la 500 lei."]}]


def messages(n: int, threads: int) -> list[WireMessage]:
    now = utc_now()
    out = []
    for i in range(n):
        chat = f"4073{i % threads:07d}@s.whatsapp.net"
        text = "cat e pret?" if i % 2 else "buna ziua"
        out.append(WireMessage(f"M{i:06d}", chat, chat, False, now, text, push_name="Ana"))
    return out


async def run(
    tmp: Path, msgs: list[WireMessage], with_engine: bool, workers: int = 1
) -> dict[str, float]:
    store = SqliteStore(tmp / f"store-{with_engine}-{workers}.db")
    store.set(f"accounts/{ACC}", {"autoReplyEnabled": True, "autoReplyFlows": FLOWS})
    config = AutoReplyConfig(max_per_hour=1000, flow_cooldown_s=0, workers=workers)
    engine = AutoReplyEngine(store, config=config) if with_engine else None
    created: list[CreatedMessage] = []

    def listen(batch: list[CreatedMessage]) -> None:
        created.extend(batch)
        if engine is not None:
            engine.on_created(batch)

    pipeline = InboundPipeline(store, tmp / f"journal-{with_engine}-{workers}", on_created=listen)
    await pipeline.start()
    if engine is not None:
        engine.start()
    started = time.perf_counter()
    for m in msgs:
        pipeline.submit(MessageReceived(ACC, m))
    assert await pipeline.drain(120)
    stored = time.perf_counter() - started
    replied = stored
    if engine is not None:
        await asyncio.to_thread(engine.stop, 120)  # returns once every queued message is handled
        replied = time.perf_counter() - started
    await pipeline.stop()
    outbox = len(store.query(query("outbox")))
    store.close()
    return {"stored": stored, "replied": replied, "outbox": outbox, "created": len(created)}


def decision_times(tmp: Path) -> dict[str, list[float]]:
    """Per-message `handle` time on a store that already holds the messages."""
    store = SqliteStore(tmp / "store-True-1.db")
    config = AutoReplyConfig(max_per_hour=1000, flow_cooldown_s=0)
    engine = AutoReplyEngine(store, config=config)
    out: dict[str, list[float]] = {"off": [], "flow": []}
    snaps = store.query(query("threads"))
    thread_ids = [s.id for s in snaps][:100]
    for label, enabled in (("off", False), ("flow", True)):
        store.set(f"accounts/{ACC}", {"autoReplyEnabled": enabled, "autoReplyFlows": FLOWS})
        for n, tid in enumerate(thread_ids):
            jid = parse_thread_id(tid)[1]
            wire = WireMessage(f"D{label}{n}", jid, jid, False, utc_now(), "pret")
            record = record_from_wire(ACC, wire, source="live", received_ms=int(time.time() * 1000))
            assert isinstance(record, InboundRecord)
            item = CreatedMessage(record, tid, "", {"clientJid": jid}, False)
            t0 = time.perf_counter()
            engine.handle(incoming_of(item))
            out[label].append(time.perf_counter() - t0)
    store.close()
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=200)
    args = parser.parse_args()
    msgs = messages(args.messages, args.threads)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        without = await run(tmp, msgs, with_engine=False)
        with_ = await run(tmp, msgs, with_engine=True)
        four = await run(tmp, msgs, with_engine=True, workers=4)
        times = decision_times(tmp)
    print(f"{args.messages} messages in {args.threads} threads, half with the keyword")
    print(f"  stored, no auto-reply:   {without['stored']:.2f} s")
    print(
        f"  stored, with auto-reply: {with_['stored']:.2f} s "
        f"(ratio {with_['stored'] / without['stored']:.2f})"
    )
    print(f"  every reply queued after {with_['replied']:.2f} s: {with_['outbox']} outbox items")
    print(
        f"  with 4 engine workers: stored {four['stored']:.2f} s "
        f"(ratio {four['stored'] / without['stored']:.2f}), replies after {four['replied']:.2f} s"
    )
    for label, values in times.items():
        print(
            f"  decision ({label}): p50 {statistics.median(values) * 1000:.2f} ms, "
            f"p99 {pct(values, 0.99):.2f} ms"
        )


if __name__ == "__main__":
    asyncio.run(main())
