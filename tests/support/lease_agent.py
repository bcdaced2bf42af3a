"""A lease agent process: the real coordinator, in real time, on a real SQLite store, with
sessions that only log (start/stop) and a sender that makes a fenced "send" for each session
it runs every 100 ms (a document created in the transaction that checks the fence).

    python tests/support/lease_agent.py --db S.db --name a --lease 1 --accounts 30 --log a.jsonl

Every line of the log is one JSON event with the wall time: start, stop, fenced (a send
refused by the fence), plus "ready" once registered. SIGTERM hands the leases over and exits.
Used by tests/integration/session_daemon/leases/test_agents.py and bench/leases.py, both through
tests/support/lease_agents.py.
"""

from __future__ import annotations

import argparse
import itertools
import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # run as a script: the repository root on the path
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from session_daemon.leases.coordinator import LeaseCoordinator
from session_daemon.leases.engine import LeaseEngine
from session_daemon.leases.fencing import Fenced, check_fence
from session_daemon.leases.instances import InstanceRegistry
from session_daemon.leases.record import Fence
from shared.paths import outbox_path
from shared.store.port import Transaction
from shared.store.sqlite import SqliteStore
from shared.timeutil import utc_now


class Log:
    def __init__(self, path: Path) -> None:
        self._fh = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def __call__(self, event: str, **fields: Any) -> None:
        line = json.dumps({"ev": event, "t": time.time(), **fields})
        with self._lock:
            self._fh.write(line + "\n")
            self._fh.flush()  # in the kernel: survives kill -9


class LoggingSessions:
    def __init__(self, log: Log) -> None:
        self.log = log
        self.live: dict[str, Fence] = {}
        self._lock = threading.Lock()

    def start(self, account_id: str, fence: Fence) -> None:
        with self._lock:
            self.live[account_id] = fence
        self.log("start", acc=account_id, epoch=fence.epoch)

    def stop(self, account_id: str) -> None:
        with self._lock:
            had = self.live.pop(account_id, None)
        if had is not None:
            self.log("stop", acc=account_id, epoch=had.epoch)

    def adopt(self, account_id: str) -> None:
        raise AssertionError("not used here")

    def running(self, account_id: str) -> bool:
        return account_id in self.live

    def snapshot(self) -> dict[str, Fence]:
        with self._lock:
            return dict(self.live)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--lease", type=float, default=1.0)
    ap.add_argument("--accounts", type=int, default=30)
    ap.add_argument("--log", required=True)
    ap.add_argument("--send-interval", type=float, default=0.1)
    args = ap.parse_args()

    log = Log(Path(args.log))
    store = SqliteStore(args.db, synchronous="NORMAL")
    accounts = [(f"wa_{i:02d}", False) for i in range(args.accounts)]
    sessions = LoggingSessions(log)
    engine = LeaseEngine(store, args.name, lease_seconds=args.lease, address=f"agent:{args.name}")
    registry = InstanceRegistry(
        store, args.name, lease_seconds=args.lease, address=None, max_pairings=3, clock=utc_now
    )
    coordinator = LeaseCoordinator(engine, registry, sessions, lambda: accounts)
    coordinator.register()
    log("ready")
    stop = threading.Event()
    lock = threading.Lock()  # ticks and the SIGTERM hand-over never interleave

    def on_term(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_term)

    def sender() -> None:
        seq = itertools.count()
        while not stop.is_set():
            for acc, fence in sessions.snapshot().items():
                if not coordinator.holds(acc):
                    continue
                doc_id = f"{args.name}-{acc}-{next(seq)}"

                def send(tx: Transaction, f: Fence = fence, d: str = doc_id) -> None:
                    check_fence(tx, f, now=utc_now())
                    tx.create(
                        outbox_path(d),
                        {
                            "acc": f.account_id,
                            "holder": f.holder,
                            "epoch": f.epoch,
                            "t": time.time(),
                        },
                    )

                try:
                    store.transaction(send)
                except Fenced:
                    log("fenced", acc=acc, epoch=fence.epoch)
            time.sleep(args.send_interval)

    def watchdog() -> None:
        while not stop.is_set():
            coordinator.expire_local()
            time.sleep(0.05)

    threads = [threading.Thread(target=sender), threading.Thread(target=watchdog)]
    for t in threads:
        t.start()
    while not stop.is_set():
        with lock:
            coordinator.tick()
        stop.wait(args.lease / 3)
    for t in threads:
        t.join()
    with lock:
        report = coordinator.hand_over_all(timeout=args.lease)
    log("exit", handedOver=len(report.handed_over))
    store.close()


if __name__ == "__main__":
    main()
