"""Outbound sends through the real outbox worker: SqliteStore (temp file) + SimulatedTransport.

1. Latency, pacing off: items are enqueued at a steady rate over several accounts with
   `shared.outbox.enqueue_send` (the proxy's transaction); for each one we time from just before
   the enqueue to the moment its `sent` record has committed. Prints p50/p90/p99/max
   (target: p99 < 100 ms). Delivery receipts of the simulated phones are applied as they come,
   as in the daemon, so the store sees its usual write load.
2. Throughput, pacing on: every account gets a backlog at once; prints the aggregate rate, the
   smallest gap between the starts of two sends of one account (never below the configured
   minimum), how soon every account made its first send and how evenly the accounts finished
   (one busy account never delays another).

    python bench/send.py [--latency-items 500] [--rate 20] [--accounts 5]
                         [--paced-accounts 10] [--paced-per-account 5] [--gap 1.5] [--jitter 2.0]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from session_daemon.outbox import items
from session_daemon.outbox.config import OutboxConfig
from session_daemon.outbox.worker import OutboxWorker
from session_daemon.receipts import apply_receipts
from session_daemon.transport.port import ReceiptReceived, SendResult, TransportEvent
from session_daemon.transport.simulated import SimulatedTransport
from shared.ids import thread_id
from shared.outbox import enqueue_send
from shared.store.sqlite import SqliteStore


class Rig:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.store = SqliteStore(folder / "store.db")
        self.transport = SimulatedTransport(qr_interval=3600)
        self.done_at: dict[str, float] = {}
        self.sent_at: dict[str, list[float]] = {}
        self._lock = threading.Lock()
        self.closed = False

    def sink(self, event: TransportEvent) -> None:
        if isinstance(event, ReceiptReceived) and not self.closed:
            apply_receipts(self.store, event)

    async def add_account(self, account_id: str, n: int) -> None:
        await self.transport.start_session(account_id, self.folder / f"{account_id}.db", self.sink)
        self.transport.pair(account_id, f"+4072{n:07d}")
        self.store.set(f"accounts/{account_id}", {"status": "connected"})

    def thread(self, account_id: str, client: str) -> str:
        tid = thread_id(account_id, client)
        if self.store.get(f"threads/{tid}") is None:
            self.store.create(f"threads/{tid}", {"accountId": account_id, "clientJid": client})
        return tid

    def enqueue(self, account_id: str, client: str, text: str) -> str:
        return enqueue_send(
            self.store,
            thread_id=thread_id(account_id, client),
            account_id=account_id,
            to_jid=client,
            text=text,
            uid="bench",
            client_message_id=text,
        ).request_id

    def instrument(self) -> None:
        """Stamp the moment each `sent` record commits (wraps the worker's record step)."""
        original: Callable[..., Any] = items.record_sent

        def record_sent(
            store: Any, rid: str, attempt_id: str, result: SendResult, **kw: Any
        ) -> Any:
            out = original(store, rid, attempt_id, result, **kw)
            with self._lock:
                self.done_at[rid] = time.perf_counter()
            return out

        items.record_sent = record_sent  # type: ignore[assignment]

    async def close(self) -> None:
        self.closed = True
        await self.transport.close()
        await asyncio.sleep(0.1)
        self.store.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def latency(n_items: int, rate: float, n_accounts: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        rig = Rig(Path(tmp))
        rig.instrument()
        accounts = [f"acc{i}" for i in range(n_accounts)]
        for i, acc in enumerate(accounts):
            await rig.add_account(acc, i)
        clients = [f"4071{j:07d}@s.whatsapp.net" for j in range(20)]
        for acc in accounts:
            for client in clients:
                rig.thread(acc, client)
        worker = OutboxWorker(
            rig.store, rig.transport, instance_id="bench", config=OutboxConfig.unpaced()
        )
        await worker.start()
        started: dict[str, float] = {}
        interval = 1.0 / rate
        t_next = time.perf_counter()
        for n in range(n_items):
            acc, client = accounts[n % n_accounts], clients[(n // n_accounts) % len(clients)]
            t0 = time.perf_counter()
            rid = await asyncio.to_thread(rig.enqueue, acc, client, f"bench {n}")
            started[rid] = t0
            t_next += interval
            await asyncio.sleep(max(0.0, t_next - time.perf_counter()))
        deadline = time.perf_counter() + 60
        while len(rig.done_at) < n_items and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        await worker.stop()
        await rig.close()
        lat = [(rig.done_at[r] - t0) * 1000 for r, t0 in started.items() if r in rig.done_at]
        return {
            "items": n_items,
            "recorded": len(lat),
            "p50_ms": percentile(lat, 0.50),
            "p90_ms": percentile(lat, 0.90),
            "p99_ms": percentile(lat, 0.99),
            "max_ms": max(lat),
            "mean_ms": statistics.fmean(lat),
        }


async def throughput(
    n_accounts: int, per_account: int, gap: float, jitter: float
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        rig = Rig(Path(tmp))
        rig.instrument()
        accounts = [f"acc{i}" for i in range(n_accounts)]
        for i, acc in enumerate(accounts):
            await rig.add_account(acc, i)
        config = OutboxConfig(pace_min_gap_s=gap, pace_jitter_s=jitter, recipient_max=20)
        worker = OutboxWorker(rig.store, rig.transport, instance_id="bench", config=config)
        calls: dict[str, list[float]] = {}  # account -> when each transport send started
        original_send = rig.transport.send_text

        async def timed_send(account_id: str, to_jid: str, text: str) -> SendResult:
            calls.setdefault(account_id, []).append(time.perf_counter())
            return await original_send(account_id, to_jid, text)

        rig.transport.send_text = timed_send  # type: ignore[method-assign]
        owner: dict[str, str] = {}
        for acc in accounts:
            for m in range(per_account):
                client = f"4071{m % 3:07d}@s.whatsapp.net"
                rig.thread(acc, client)
                owner[rig.enqueue(acc, client, f"{acc} paced {m}")] = acc
        t0 = time.perf_counter()
        await worker.start()
        total = n_accounts * per_account
        deadline = t0 + per_account * (gap + jitter) * 2 + 30
        while len(rig.done_at) < total and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - t0
        await worker.stop()
        await rig.close()
        gaps: list[float] = []
        for times in calls.values():
            gaps.extend(b - a for a, b in itertools.pairwise(sorted(times)))
        first = [min(t) - t0 for t in calls.values()]
        finish = [max(t) - t0 for t in calls.values()]
        return {
            "accounts": n_accounts,
            "messages": len(rig.done_at),
            "seconds": elapsed,
            "msgs_per_s": len(rig.done_at) / elapsed,
            "min_gap_s": min(gaps) if gaps else 0.0,
            "mean_gap_s": statistics.fmean(gaps) if gaps else 0.0,
            "first_send_max_s": max(first),
            "first_account_done_s": min(finish),
            "last_account_done_s": max(finish),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency-items", type=int, default=500)
    parser.add_argument("--rate", type=float, default=20.0, help="enqueues per second")
    parser.add_argument("--accounts", type=int, default=5)
    parser.add_argument("--paced-accounts", type=int, default=10)
    parser.add_argument("--paced-per-account", type=int, default=5)
    parser.add_argument("--gap", type=float, default=1.5, help="pacing: minimum gap (s)")
    parser.add_argument("--jitter", type=float, default=2.0, help="pacing: jitter (s)")
    args = parser.parse_args()

    lat = asyncio.run(latency(args.latency_items, args.rate, args.accounts))
    print(
        f"latency (pacing off, {lat['items']} items at {args.rate:g}/s over {args.accounts} "
        f"accounts, enqueue -> sent committed): p50 {lat['p50_ms']:.1f} ms, "
        f"p90 {lat['p90_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms, max {lat['max_ms']:.1f} ms "
        f"[{'OK' if lat['p99_ms'] < 100 else 'ABOVE'} target p99 < 100 ms]"
    )
    tp = asyncio.run(throughput(args.paced_accounts, args.paced_per_account, args.gap, args.jitter))
    print(
        f"throughput (pacing on: gap {args.gap:g} s + jitter 0..{args.jitter:g} s, "
        f"{tp['accounts']} accounts x {args.paced_per_account}): {tp['messages']} messages in "
        f"{tp['seconds']:.1f} s = {tp['msgs_per_s']:.2f} msg/s; gap between two sends of one "
        f"account min {tp['min_gap_s']:.2f} s, mean {tp['mean_gap_s']:.2f} s; every account's "
        f"first send within {tp['first_send_max_s']:.2f} s; accounts finished between "
        f"{tp['first_account_done_s']:.1f} s and {tp['last_account_done_s']:.1f} s"
    )


if __name__ == "__main__":
    main()
