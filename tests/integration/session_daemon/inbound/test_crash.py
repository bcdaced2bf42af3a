"""kill -9 during a burst of 10,000 inbound messages, then restart: every message whose delivery
was acknowledged (the transport's sink returned) before the kill is stored exactly once.

A real child process runs SimulatedTransport → InboundPipeline → SqliteStore and appends each
acknowledged message id to a file (unbuffered `os.write`: it survives SIGKILL). The parent kills it
mid-burst with SIGKILL, then a *fresh* process opens the same journal and store, replays, drains
and stops. The parent then reads the SQLite file directly.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
BURST = 10_000

CHILD = r"""
import asyncio, json, os, sys, threading
from pathlib import Path
from session_daemon.transport.port import HistorySyncChunk
from session_daemon.inbound.pipeline import InboundPipeline
from session_daemon.transport.simulated import SimulatedTransport
from shared.store.sqlite import SqliteStore

mode, work, burst = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])

async def main():
    store = SqliteStore(work / "store.db")
    pipeline = InboundPipeline(store, work / "journal", max_batch=500, flush_interval=0.02)
    await pipeline.start()
    if mode == "recover":
        ok = await pipeline.drain(timeout=120)
        print("STATS1 " + json.dumps({"drained": ok, **pipeline.stats()}, default=str))
        # Only now does the phone tell us who the LID client is (a history-sync mapping).
        mapping = {"12345678901234@lid": "40799999999@s.whatsapp.net"}
        await asyncio.to_thread(pipeline.submit, HistorySyncChunk("acc1", (), lid_to_pn=mapping))
        ok = await pipeline.drain(timeout=120)
        stats = pipeline.stats()
        await pipeline.stop()
        print("STATS2 " + json.dumps({"drained": ok, **stats}, default=str))
        return
    sim = SimulatedTransport(auto_delivered=False)
    await sim.start_session("acc1", work / "acc1.session", pipeline.submit)
    await sim.arun(sim.pair, "acc1", "+40700000001", "Owner")
    fd = os.open(work / "acked.txt", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    lock = threading.Lock()

    def produce(worker: int, workers: int) -> None:
        for i in range(worker, burst, workers):
            msg_id = f"3EB0{i:016X}"
            if i % 7 == 0:
                sim.deliver_message("acc1", "12345678901234@lid", f"lid {i}", msg_id=msg_id)
            else:
                sim.deliver_message("acc1", f"+4072{i % 97:07d}", f"msg {i}", msg_id=msg_id,
                                    push_name=f"Client {i % 97}")
            with lock:
                os.write(fd, (msg_id + "\n").encode())  # acknowledged: record it

    threads = [threading.Thread(target=produce, args=(w, 8)) for w in range(8)]
    for t in threads:
        t.start()
    print("READY", flush=True)
    for t in threads:
        t.join()
    print("DONE", flush=True)
    await asyncio.sleep(3600)  # wait to be killed

asyncio.run(main())
"""


def _run_child(mode: str, work: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, mode, str(work), str(BURST)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _acked(work: Path) -> list[str]:
    path = work / "acked.txt"
    if not path.exists():
        return []
    lines = path.read_text().split("\n")
    return [line for line in lines[:-1] if line]  # the last piece may be a torn line


@pytest.mark.timeout(180)
def test_kill_9_mid_burst_loses_and_duplicates_nothing_acknowledged(tmp_path: Path) -> None:
    child = _run_child("burst", tmp_path)
    deadline = time.monotonic() + 90
    # Kill mid-burst: once a good share is acknowledged (and flushes to the store are running).
    while len(_acked(tmp_path)) < BURST * 0.4:
        assert child.poll() is None, child.stderr.read() if child.stderr else ""
        assert time.monotonic() < deadline, "the burst did not progress"
        time.sleep(0.01)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    acked = _acked(tmp_path)
    assert BURST * 0.4 <= len(acked) < BURST, "the kill should land mid-burst"
    assert len(set(acked)) == len(acked)

    recover = _run_child("recover", tmp_path)
    out, err = recover.communicate(timeout=150)
    assert recover.returncode == 0, err
    before_mapping = json.loads(out.split("STATS1 ", 1)[1].split("\n", 1)[0])
    after_mapping = json.loads(out.split("STATS2 ", 1)[1].split("\n", 1)[0])
    assert before_mapping["drained"] and after_mapping["drained"]
    assert after_mapping["storeErrors"] == 0
    lid_ids = {f"3EB0{i:016X}" for i in range(0, BURST, 7)}
    # LID messages without a known phone were kept (parked in the journal), never dropped ...
    assert before_mapping["pendingLid"] >= sum(1 for m in acked if m in lid_ids) > 0
    # ... and re-homed into the phone thread once the mapping arrived.
    assert after_mapping["pendingLid"] == 0

    conn = sqlite3.connect(tmp_path / "store.db")
    rows = conn.execute(
        "SELECT json_extract(data, '$.waMessageId'), parent FROM docs WHERE coll = 'messages'"
    ).fetchall()
    conn.close()
    stored_ids = [r[0] for r in rows]
    assert len(stored_ids) == len(set(stored_ids)), "a message was stored twice"
    stored = set(stored_ids)
    missing = [m for m in acked if m not in stored]
    assert not missing, f"{len(missing)} acknowledged messages lost, e.g. {missing[:3]}"
    by_id = dict(rows)
    for m in acked:
        expected = "acc1__40799999999@s.whatsapp.net" if m in lid_ids else "@s.whatsapp.net"
        assert expected in by_id[m] and by_id[m].endswith("@s.whatsapp.net/messages")
