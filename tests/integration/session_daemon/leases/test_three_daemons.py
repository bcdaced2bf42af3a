"""Three real daemon processes on one SQLite store and one shared simulated phone network
(`WHATSAPP_SIMULATOR=shared`), 30 paired accounts, lease 2 s, messages flowing both ways:

1. kill -9 of one daemon: its accounts are connected again on the others within 3 lease periods;
   every inbound message is stored exactly once, no phone receives an outbound message twice,
   every send ends `sent` (or `failed` with the unknown-state error, never resent), and the
   network never saw two live sessions of one account;
2. a rolling restart (SIGTERM, start again, one daemon after the other): no account is without a
   connected session for more than 2 lease periods, nothing lost, nothing twice;
3. SIGSTOP of a daemon past its lease, then SIGCONT: its session hosts end their sessions within
   the lease by themselves (the network never sees two live sessions of one account), and the
   resumed daemon makes no send under the leases it had.
"""

from __future__ import annotations

import itertools
import os
import secrets
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from session_daemon.hosts.proctree import descendants
from session_daemon.outbox.items import UNKNOWN_STATE_ERROR
from shared.paths import OUTBOX, THREADS
from shared.store.port import query
from shared.store.sqlite import SqliteStore
from tests.support.daemon import DaemonProcess

pytestmark = pytest.mark.timeout(240)

LEASE = 2.0
N = 30
CLIENT = "+40733111222"
ENV = {
    "WHATSAPP_SIMULATOR": "shared",
    "WHATSAPP_LEASE_SECONDS": str(LEASE),
    "WHATSAPP_OUTBOX_PACE_MIN_GAP_SECONDS": "0",
    "WHATSAPP_OUTBOX_PACE_JITTER_SECONDS": "0",
    "WHATSAPP_OUTBOX_RECIPIENT_MAX": "0",
    "WHATSAPP_OUTBOX_BACKOFF_INITIAL_SECONDS": "0.1",
    "WHATSAPP_OUTBOX_BACKOFF_MAX_SECONDS": "0.5",
    "WHATSAPP_OUTBOX_MAX_ATTEMPTS": "100",
    "WHATSAPP_OUTBOX_POLL_SECONDS": "0.5",
    # a killed daemon's claims lapse after this (then failed as unknown state, never resent);
    # live claims are renewed every third of it. The default 60 s was most of this file's time
    "WHATSAPP_OUTBOX_LEASE_SECONDS": "3",
}


class Cluster:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.token = secrets.token_urlsafe(32)
        self.store = tmp / "store.db"
        self.sessions = tmp / "sessions"
        self.daemons: dict[str, DaemonProcess] = {}
        self.accounts: list[str] = []
        self.sent_texts: list[str] = []
        self.inbound_texts: list[str] = []
        self.frozen: set[str] = set()  # SIGSTOPped: no requests go there
        self._seq = itertools.count()

    def start(self, name: str) -> DaemonProcess:
        d = self.daemons.get(name)
        if d is None:
            workdir = self.tmp / name
            workdir.mkdir()
            d = DaemonProcess(
                workdir=workdir,
                token=self.token,
                env={**ENV, "WHATSAPP_INSTANCE_ID": name},
                extra_args=["--sessions-path", str(self.sessions)],
                store_url=f"sqlite:///{self.store}",
            )
            self.daemons[name] = d
        d.start(timeout=60)
        return d

    def alive(self) -> list[DaemonProcess]:
        return [
            d
            for name, d in self.daemons.items()
            if d.proc is not None and d.proc.poll() is None and name not in self.frozen
        ]

    def any(self) -> DaemonProcess:
        return self.alive()[next(self._seq) % len(self.alive())]

    def state(self) -> dict[str, Any]:
        body: dict[str, Any] = self.any().get("/api/simulator/state").json()
        return body

    def connected(self) -> set[str]:
        return {a for a, s in self.state()["sessions"].items() if s == "connected"}

    def held(self, d: DaemonProcess) -> set[str]:
        return set(d.get("/diag").json()["leases"]["held"])

    def traffic(self, rounds: int) -> None:
        """One inbound message to, and one send from, `rounds` accounts in turn (any daemon)."""
        for _ in range(rounds):
            i = next(self._seq)
            account = self.accounts[i % N]
            text = f"in-{i}"
            d = self.any()
            reply = post(d, f"/api/simulator/messages/{account}", {"from": CLIENT, "text": text})
            assert reply.status == 200, (d.workdir.name, account, reply.status, reply.body)
            self.inbound_texts.append(text)
            out = f"out-{i}"
            jid = f"{CLIENT[1:]}@s.whatsapp.net"
            body = {"threadId": f"{account}__{jid}", "accountId": account, "toJid": jid,
                    "text": out, "clientMessageId": out}  # fmt: skip
            reply = post(d, "/api/whatsapp/send", body)
            assert reply.status == 200, reply.body
            self.sent_texts.append(out)


def post(d: DaemonProcess, path: str, body: Any) -> Any:
    for _ in range(20):
        try:
            reply = d.post(path, body)
        except OSError:
            time.sleep(0.1)
            continue
        if reply.status < 500:
            return reply
        time.sleep(0.1)
    raise AssertionError("request kept failing")


def wait(cond: Any, timeout: float, what: str) -> float:
    start = time.monotonic()
    while not cond():
        assert time.monotonic() - start < timeout, f"timed out: {what}"
        time.sleep(0.1)
    return time.monotonic() - start


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path)
    yield c
    for d in c.daemons.values():
        if d.proc is not None and d.proc.poll() is None:
            os.kill(d.proc.pid, signal.SIGCONT)
            try:
                d.stop(timeout=15)
            except RuntimeError:
                d.kill()


def status_is(d: DaemonProcess, account: str, status: str) -> Any:
    return lambda: d.account_status(account) == status


def pair_all(c: Cluster) -> None:
    for name in ("a", "b", "c"):
        c.start(name)
    for i in range(N):
        d = list(c.daemons.values())[i % 3]
        phone = f"+407220{i:05d}"
        account = str(d.post("/api/whatsapp/add-account", {"name": phone, "phone": phone})
                      .json()["accountId"])  # fmt: skip
        d.wait_for(status_is(d, account, "qr_ready"), what="QR")
        assert d.post(f"/api/simulator/pair/{account}", {"phone": phone}).status == 200
        d.wait_for(status_is(d, account, "connected"), what="connected")
        c.accounts.append(account)
    # the client writes first: every account gets its thread
    for account in c.accounts:
        c.any().post(f"/api/simulator/messages/{account}", {"from": CLIENT, "text": "hello"})
    wait(lambda: len(c.connected()) == N, 20, "30 connected")
    wait(lambda: sorted(len(c.held(d)) for d in c.alive()) == [10, 10, 10], 6 * LEASE, "10 each")


def check_books(c: Cluster, *, replaced_ok: bool = False, journaled_by_dead: int = 0) -> None:
    """Nothing lost, nothing twice, never two live sessions (`replaced_ok`: a frozen daemon's
    sessions were replaced by their new owners, as WhatsApp replaces a silent device)."""
    store = SqliteStore(c.store)
    try:
        wait(lambda: _settled(store, len(c.sent_texts)), 60, "every send settled")

        def inbound() -> Counter[str]:
            return Counter(
                str(s.data.get("body"))
                for s in store.query(query("messages", group=True))
                if s.data.get("direction") == "inbound"
            )

        # a message sent while its account had no session waits on the network: it arrives
        # when the new owner's session connects
        # `journaled_by_dead`: a killed daemon acknowledged these (its journal has them) and died
        # before storing them; they are stored when it comes back, not before
        def complete() -> bool:
            seen = inbound()
            return sum(1 for t in c.inbound_texts if not seen[t]) <= journaled_by_dead

        try:
            wait(complete, 30, "every inbound stored")
        except AssertionError:
            seen = inbound()
            missing = [t for t in c.inbound_texts if not seen[t]]
            raise AssertionError(f"inbound messages never stored: {missing}") from None
        bodies = inbound()
        assert all(bodies[t] <= 1 for t in c.inbound_texts), "an inbound message stored twice"
        items = [s.data for s in store.query(query(OUTBOX))]
    finally:
        store.close()
    received = Counter(m["text"] for m in c.any().get(f"/api/simulator/received/{CLIENT}")
                       .json()["messages"])  # fmt: skip
    assert all(n == 1 for n in received.values()), [t for t, n in received.items() if n > 1]
    for item in items:
        if item["status"] == "sent":
            assert received[item["body"]] == 1
        else:
            assert item["status"] == "failed" and item["lastError"] == UNKNOWN_STATE_ERROR
    if not replaced_ok:
        assert c.state().get("doubleSessions") == []


def _settled(store: SqliteStore, expected: int) -> bool:
    items = store.query(query(OUTBOX))
    return len(items) >= expected and all(s.data["status"] in ("sent", "failed") for s in items)


def test_kill_then_rolling_restart(cluster: Cluster) -> None:
    c = cluster
    pair_all(c)
    store = SqliteStore(c.store)
    wait(lambda: len(store.query(query(THREADS))) == N, 20, "a thread per account")
    store.close()

    # 1. kill -9 of b in the middle of traffic
    c.traffic(20)
    b = c.daemons["b"]
    orphans = c.held(b)
    b.kill()
    killed = time.monotonic()
    c.traffic(20)
    wait(lambda: orphans <= c.connected(), 3 * LEASE + 5, "b's accounts connected elsewhere")
    took = time.monotonic() - killed
    assert took <= 3 * LEASE + 1, f"takeover took {took / LEASE:.2f} lease periods"
    check_books(c, journaled_by_dead=len(orphans))

    # b comes back: what it journaled and had not stored is replayed now
    c.start("b")
    check_books(c)
    # then a rolling restart of all three
    wait(lambda: sorted(len(c.held(d)) for d in c.alive()) == [10, 10, 10], 6 * LEASE, "even")
    gaps: dict[str, float] = {}
    down_since: dict[str, float] = {}
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            try:
                up = c.connected()
            except (OSError, AssertionError, KeyError):
                continue
            now = time.monotonic()
            for acc in c.accounts:
                if acc in up:
                    if acc in down_since:
                        gaps[acc] = max(gaps.get(acc, 0.0), now - down_since.pop(acc))
                else:
                    down_since.setdefault(acc, now)
            time.sleep(0.1)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for name in ("a", "b", "c"):
            d = c.daemons[name]
            c.traffic(5)
            assert d.stop() == 0
            c.traffic(5)
            c.start(name)
            wait(lambda: sorted(len(c.held(x)) for x in c.alive()) == [10, 10, 10],
                 6 * LEASE, "even again")  # fmt: skip
        wait(lambda: len(c.connected()) == N, 10, "all connected")
        time.sleep(0.5)  # the watcher sees them connected too
    finally:
        stop.set()
        watcher.join()
    end = time.monotonic()
    for acc, since in down_since.items():  # a stale answer at the very end counts, too
        gaps[acc] = max(gaps.get(acc, 0.0), end - since)
    assert max(gaps.values(), default=0.0) <= 2 * LEASE, gaps
    check_books(c)


def test_a_paused_daemon_sends_nothing_after_it_resumes(cluster: Cluster) -> None:
    c = cluster
    pair_all(c)
    a = c.daemons["a"]
    assert a.proc is not None
    c.traffic(15)  # a sends for its accounts under its leases
    time.sleep(1.0)
    epochs = {acc: lease["epoch"] for acc, lease in a.get("/diag").json()["leases"]["held"].items()}
    processes = set(descendants(a.proc.pid))  # its zygote and its 10 session hosts
    os.kill(a.proc.pid, signal.SIGSTOP)
    paused = time.monotonic()
    c.frozen.add("a")
    # no request during the pause: a process frozen inside a SQLite write transaction holds
    # the store's write lock, and every daemon on the file waits for it (docs/leases.md)
    # Its session hosts end their sessions by themselves (lease watchdog) within the lease
    wait(lambda: len(processes - set(descendants(a.proc.pid))) >= len(epochs), 2 * LEASE, "hosts")
    hosts_ended = time.monotonic() - paused
    assert hosts_ended <= LEASE + 0.5, f"a paused daemon's hosts ended after {hosts_ended:.2f} s"
    time.sleep(max(0.0, 2.5 * LEASE - (time.monotonic() - paused)))
    c.frozen.discard("a")
    resumed = time.time()  # before the signal: it may act at once
    os.kill(a.proc.pid, signal.SIGCONT)
    c.traffic(10)
    time.sleep(2 * LEASE)
    store = SqliteStore(c.store)
    stale = [
        s.data
        for s in store.query(query(OUTBOX))
        if s.data.get("claimedBy") == "a"
        and s.data.get("sendStartedAt") is not None
        and s.data["sendStartedAt"].timestamp() >= resumed
        and epochs.get(s.data.get("accountId")) == s.data.get("accountLeaseEpoch")
    ]
    claimed_by_a = [s.data for s in store.query(query(OUTBOX)) if s.data.get("claimedBy") == "a"]
    store.close()
    assert stale == []
    assert claimed_by_a  # it did send under its leases before the pause (the check can fail)
    check_books(c)  # and never two live sessions of one account: its hosts had stopped
