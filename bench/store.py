"""Batched message-document creates: `SqliteStore` against raw `sqlite3.executemany`.

Both sides write the same documents (same JSON text, same table layout and indexes, same pragmas,
same batch size) into fresh files in one run, alternating rounds so machine noise hits both.
Prints both rates and the ratio store/raw (target: at least 0.5).

    python bench/store.py [--docs 50000] [--batch 500] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from shared.store.sqlite import SqliteStore, encode_timestamp

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def message_docs(n: int, chats: int = 1000) -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for i in range(n):
        chat = i % chats
        ts = T0 + timedelta(seconds=i)
        thread = f"acc1__4072{chat:07d}@s.whatsapp.net"
        docs.append(
            (
                f"threads/{thread}/messages/3EB0{i:016X}",
                {
                    "accountId": "acc1",
                    "clientJid": f"4072{chat:07d}@s.whatsapp.net",
                    "direction": "inbound" if i % 3 else "outbound",
                    "body": f"Mesajul {i}: bună ziua, aș dori o rezervare pentru sâmbătă",
                    "status": "delivered",
                    "tsClient": ts,
                    "tsClientMs": int(ts.timestamp() * 1000),
                    "createdAt": ts,
                    "createdAtMs": int(ts.timestamp() * 1000),
                    "messageType": "text",
                    "waMessageId": f"3EB0{i:016X}",
                },
            )
        )
    return docs


def run_store(path: Path, docs: list[tuple[str, dict[str, Any]]], batch: int) -> float:
    store = SqliteStore(path)
    start = time.perf_counter()
    for i in range(0, len(docs), batch):
        b = store.batch()
        for doc_path, data in docs[i : i + batch]:
            b.create(doc_path, data)
        b.commit()
    elapsed = time.perf_counter() - start
    store.close()
    return len(docs) / elapsed


def run_raw(path: Path, docs: list[tuple[str, dict[str, Any]]], batch: int) -> float:
    # Same schema and indexes as SqliteStore builds (it creates them; then we reuse the file).
    SqliteStore(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")

    def enc(v: Any) -> Any:
        return encode_timestamp(v) if isinstance(v, datetime) else v

    start = time.perf_counter()
    seq = 0
    for i in range(0, len(docs), batch):
        rows = []
        for doc_path, data in docs[i : i + batch]:
            seq += 1
            parent = doc_path.rsplit("/", 1)[0]
            text = json.dumps(data, default=enc, separators=(",", ":"), ensure_ascii=False)
            rows.append((doc_path, parent, "messages", text, seq))
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO docs(path, parent, coll, data, seq) VALUES (?,?,?,?,?)", rows)
        conn.execute("UPDATE meta SET value = ? WHERE key = 'seq'", (seq,))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return len(docs) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    docs = message_docs(args.docs)
    store_rates: list[float] = []
    raw_rates: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            raw_rates.append(run_raw(Path(tmp) / f"raw{r}.db", docs, args.batch))
            store_rates.append(run_store(Path(tmp) / f"store{r}.db", docs, args.batch))
    store_rate, raw_rate = statistics.median(store_rates), statistics.median(raw_rates)
    print(f"docs={args.docs} batch={args.batch} rounds={args.rounds} (medians)")
    print(f"SqliteStore batched creates: {store_rate:,.0f} docs/s")
    print(f"raw sqlite3 executemany:     {raw_rate:,.0f} docs/s")
    print(f"ratio store/raw: {store_rate / raw_rate:.2f} (target >= 0.5)")


if __name__ == "__main__":
    main()
