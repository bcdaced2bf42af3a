"""Lease races on the real embedded store, in real time: several threads and several processes
compete for a few accounts. Each winner works inside its lease for a moment and logs the
interval; the intervals of one account never overlap, its epochs only grow, and every lease
that a holder abandons (never released) is taken over once it lapses."""

from __future__ import annotations

import itertools
import json
import multiprocessing
import random
import threading
import time
from pathlib import Path
from typing import Any

from session_daemon.leases.engine import Acquired, LeaseEngine
from session_daemon.leases.fencing import fence_is_held
from session_daemon.leases.record import Fence
from shared.store.port import Transaction
from shared.store.sqlite import SqliteStore

ACCOUNTS = ["wa_1", "wa_2", "wa_3"]
LEASE = 1.0
RUN_SECONDS = 2.5


def _compete(db: str, name: str, log_path: str, seed: int) -> None:
    """Grab any free account, check the fence inside a transaction, hold it a little, then
    release it, or (one time in four) walk away without releasing: the lease must lapse."""
    store = SqliteStore(db)
    engine = LeaseEngine(store, name, lease_seconds=LEASE)
    rng = random.Random(seed)
    out = []
    avoid: dict[str, float] = {}  # accounts this one abandoned: left for the others to take
    stop_at = time.monotonic() + RUN_SECONDS
    while time.monotonic() < stop_at:
        acc = rng.choice(ACCOUNTS)
        if avoid.get(acc, 0.0) > time.monotonic():
            time.sleep(0.002)
            continue
        got = engine.acquire(acc)
        if not isinstance(got, Acquired):
            time.sleep(rng.uniform(0.001, 0.01))
            continue
        start = time.time()
        held = got.held
        fence = held.lease.fence

        def check(tx: Transaction, f: Fence = fence) -> bool:
            return fence_is_held(tx, f, now=engine.clock())

        ok = store.transaction(check)
        time.sleep(rng.uniform(0.005, 0.03))
        end = time.time()
        # the interval is ours only if we still trusted the lease when it ended
        trusted = time.monotonic() < held.deadline
        out.append(
            {
                "account": acc,
                "holder": name,
                "epoch": fence.epoch,
                "kind": got.kind,
                "start": start,
                "end": end,
                "fenceOk": ok,
                "trusted": trusted,
            }
        )
        if rng.random() < 0.25:
            avoid[acc] = time.monotonic() + 1.5 * LEASE
            continue  # abandoned: nobody may get it before it lapses
        engine.release(held)
    store.close()
    Path(log_path).write_text(json.dumps(out), encoding="utf-8")


def _check(intervals: list[dict[str, Any]]) -> None:
    assert intervals
    for acc in ACCOUNTS:
        mine = sorted((i for i in intervals if i["account"] == acc), key=lambda i: i["epoch"])
        epochs = [i["epoch"] for i in mine]
        assert len(set(epochs)) == len(epochs), f"{acc}: an epoch was granted twice"
        for before, after in itertools.pairwise(mine):
            assert float(after["start"]) >= float(before["end"]), (acc, before, after)
        assert all(i["fenceOk"] for i in mine)
    kinds = {i["kind"] for i in intervals}
    assert "takeover" in kinds  # abandoned leases were taken over after lapsing
    assert all(i["trusted"] for i in intervals)


def test_threads_race_for_leases(tmp_path: Path) -> None:
    db = str(tmp_path / "store.db")
    SqliteStore(db).close()
    logs = [tmp_path / f"t{n}.json" for n in range(4)]
    threads = [
        threading.Thread(target=_compete, args=(db, f"t{n}", str(logs[n]), n)) for n in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    _check([i for log in logs for i in json.loads(log.read_text())])


def test_processes_race_for_leases(tmp_path: Path) -> None:
    db = str(tmp_path / "store.db")
    SqliteStore(db).close()
    ctx = multiprocessing.get_context("fork")
    logs = [tmp_path / f"p{n}.json" for n in range(3)]
    procs = [
        ctx.Process(target=_compete, args=(db, f"p{n}", str(logs[n]), 100 + n)) for n in range(3)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    intervals = [i for log in logs for i in json.loads(log.read_text())]
    _check(intervals)
    assert len({i["holder"] for i in intervals}) == 3  # each process won something
