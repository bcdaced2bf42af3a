"""`superparty-daemon backup` beside a busy writer: backup time, and the writer's commit latency
with and without a backup running, measured side by side in one run.

A store of `--docs` message documents is built first; then a writer commits one document per
transaction (as the inbound writer does a small batch) for `--seconds`, once alone and once while
a backup of the store runs (repeated back to back), alternating rounds so machine noise hits
both. Prints the backup time and size, the writer's commits per second and p50/p99 latency in
both conditions, and the ratio busy/alone (1.0: a backup does not slow the daemon down; WAL lets
the writer go on while the backup's read transaction copies pages).

    python bench/backup.py [--docs 100000] [--seconds 3] [--rounds 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

from session_daemon.ops.backup import create_backup
from session_daemon.ops.layout import Layout
from shared.store.sqlite import SqliteStore


def message_docs(n: int) -> list[tuple[str, dict[str, object]]]:
    return [
        (
            f"threads/acc1__4072{i % 1000:07d}@s.whatsapp.net/messages/3EB0{i:016X}",
            {"accountId": "acc1", "body": f"Mesajul {i}: bună ziua, o rezervare", "n": i},
        )
        for i in range(n)
    ]


def build(path: Path, docs: int) -> None:
    store = SqliteStore(path)
    try:
        batch = store.batch()
        for n, (doc_path, data) in enumerate(message_docs(docs), 1):
            batch.create(doc_path, data)
            if n % 1000 == 0:
                batch.commit()
                batch = store.batch()
        batch.commit()
    finally:
        store.close()


def write_for(store: SqliteStore, seconds: float, tag: str) -> list[float]:
    latencies = []
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        started = time.perf_counter()
        store.set(f"counters/bench-{tag}-{n}", {"n": n})
        latencies.append(time.perf_counter() - started)
        n += 1
    return latencies


def layout(folder: Path, store: Path) -> Layout:
    return Layout(
        store_url=f"sqlite:///{store}", store_file=store, journal=folder / "none.db",
        sessions=folder / "sessions", data_dir=folder, media_dir=None, media_key=None,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db = folder / "store.db"
        build(db, args.docs)
        store = SqliteStore(db)
        alone: list[float] = []
        busy: list[float] = []
        backups: list[float] = []
        for r in range(args.rounds):
            alone += write_for(store, args.seconds, f"a{r}")
            stop = threading.Event()

            def back_up(r: int = r, stop: threading.Event = stop) -> None:
                k = 0
                while not stop.is_set():
                    started = time.perf_counter()
                    create_backup(layout(folder, db), folder / f"backup-{r}-{k}")
                    backups.append(time.perf_counter() - started)
                    k += 1

            worker = threading.Thread(target=back_up)
            worker.start()
            busy += write_for(store, args.seconds, f"b{r}")
            stop.set()
            worker.join()
        store.close()
        size = db.stat().st_size / 1e6

    def summary(xs: list[float]) -> str:
        q = statistics.quantiles(xs, n=100)
        rate = len(xs) / (args.seconds * args.rounds)
        return f"{rate:7.0f} commits/s  p50 {q[49] * 1e3:6.2f} ms  p99 {q[98] * 1e3:6.2f} ms"

    print(f"store: {args.docs} messages, {size:.1f} MB")
    print(f"backup: {len(backups)} runs, median {statistics.median(backups):.2f} s")
    print(f"writer alone:         {summary(alone)}")
    print(f"writer during backup: {summary(busy)}")
    qa, qb = statistics.quantiles(alone, n=100), statistics.quantiles(busy, n=100)
    print(
        f"ratio during/alone: commits/s {len(busy) / len(alone):.2f}, "
        f"p50 {qb[49] / qa[49]:.2f}, p99 {qb[98] / qa[98]:.2f}"
    )


if __name__ == "__main__":
    main()
