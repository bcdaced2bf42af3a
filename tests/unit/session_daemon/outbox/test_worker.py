"""The outbox worker in-process: real SqliteStore, SimulatedTransport, real receipts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from session_daemon.outbox.config import OutboxConfig
from session_daemon.outbox.items import UNKNOWN_STATE_ERROR
from session_daemon.outbox.worker import OutboxWorker
from session_daemon.receipts import apply_receipts
from session_daemon.transport.port import ReceiptReceived, TransportError, TransportEvent
from session_daemon.transport.simulated import SimulatedTransport
from shared.ids import thread_id
from shared.jids import phone_jid
from shared.outbox import enqueue_send, new_message_doc, new_outbox_doc
from shared.store.port import query
from shared.store.sqlite import SqliteStore
from shared.timeutil import utc_now

FAST = OutboxConfig.unpaced(
    backoff_initial_s=0.05, backoff_max_s=0.2, poll_interval_s=0.5, max_attempts=50, lease_s=5.0
)


@dataclass
class Rig:
    store: SqliteStore
    transport: SimulatedTransport
    tmp: Path
    workers: list[OutboxWorker] = field(default_factory=list)
    receipts: list[ReceiptReceived] = field(default_factory=list)
    closed: bool = False
    busy: int = 0  # sinks running on transport threads

    def sink(self, account_id: str) -> Callable[[TransportEvent], None]:
        def sink(event: TransportEvent) -> None:
            if isinstance(event, ReceiptReceived) and not self.closed:
                self.busy += 1
                try:
                    self.receipts.append(event)
                    apply_receipts(self.store, event)
                finally:
                    self.busy -= 1

        return sink

    async def close(self) -> None:
        for worker in self.workers:
            await worker.stop()
        self.closed = True
        await self.transport.close()
        deadline = time.monotonic() + 5
        while self.busy and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        self.store.close()

    async def connect(self, account_id: str, phone: str) -> None:
        await self.transport.start_session(
            account_id, self.tmp / f"{account_id}.db", self.sink(account_id)
        )
        self.transport.pair(account_id, phone)
        self.store.set(f"accounts/{account_id}", {"name": account_id, "status": "connected"})

    def thread(self, account_id: str, client_phone: str) -> str:
        jid = phone_jid(client_phone)
        tid = thread_id(account_id, jid)
        if self.store.get(f"threads/{tid}") is None:
            self.store.create(f"threads/{tid}", {"accountId": account_id, "clientJid": jid})
        return tid

    def send(self, account_id: str, client_phone: str, text: str, cmid: str | None = None) -> str:
        tid = self.thread(account_id, client_phone)
        result = enqueue_send(
            self.store,
            thread_id=tid,
            account_id=account_id,
            to_jid=phone_jid(client_phone),
            text=text,
            uid="staff-1",
            client_message_id=cmid or text,
        )
        return result.request_id

    async def start_worker(self, config: OutboxConfig = FAST, name: str = "w1") -> OutboxWorker:
        worker = OutboxWorker(self.store, self.transport, instance_id=name, config=config)
        await worker.start()
        self.workers.append(worker)
        return worker

    def item(self, rid: str) -> dict[str, Any]:
        snap = self.store.get(f"outbox/{rid}")
        assert snap is not None
        return snap.data

    def message(self, rid: str) -> dict[str, Any]:
        item = self.item(rid)
        snap = self.store.get(f"threads/{item['threadId']}/messages/{rid}")
        assert snap is not None
        return snap.data


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    store = SqliteStore(tmp_path / "store.db")
    transport = SimulatedTransport(qr_interval=60, receipt_delay=0.01)
    r = Rig(store, transport, tmp_path)
    yield r
    await r.close()


async def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll `predicate` in a worker thread (store reads must not stall the worker's loop)."""
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(predicate):
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def statuses(rig: Rig, rids: list[str]) -> list[str]:
    snaps = rig.store.get_many([f"outbox/{r}" for r in rids])
    return [s.data["status"] if s else "missing" for s in snaps]


async def test_send_records_ids_and_mirrors_status(rig: Rig) -> None:
    await rig.connect("acc1", "+40700000001")
    await rig.start_worker()
    rid = rig.send("acc1", "+40722000001", "Salut!")
    await wait_for(lambda: rig.item(rid)["status"] == "sent")
    item = rig.item(rid)
    assert item["providerMessageId"] and item["attemptCount"] == 1
    assert item["sentAt"] is not None and item["lastError"] is None
    received = rig.transport.received_by("+40722000001")
    assert [(m.account_id, m.text) for m in received] == [("acc1", "Salut!")]
    assert received[0].message_id == item["providerMessageId"]
    # the automatic delivered receipt moves the message (and the thread summary) forward
    await wait_for(lambda: rig.message(rid)["status"] == "delivered")
    msg = rig.message(rid)
    assert msg["waMessageId"] == item["providerMessageId"] and msg["deliveredAt"] is not None
    thread = rig.store.get(f"threads/{item['threadId']}")
    assert thread is not None and thread.data["lastMessageStatus"] == "delivered"


async def test_unknown_and_logged_out_accounts_fail_with_clear_error(rig: Rig) -> None:
    await rig.connect("acc1", "+40700000001")
    rig.transport.logout("acc1")
    rig.store.set("accounts/acc1", {"status": "logged_out"})
    await rig.start_worker()
    ghost = rig.send("ghost", "+40722000001", "to nobody")
    gone = rig.send("acc1", "+40722000002", "to a logged out account")
    await wait_for(lambda: statuses(rig, [ghost, gone]) == ["failed", "failed"])
    assert "unknown account ghost" in rig.item(ghost)["lastError"]
    assert "logged out" in rig.item(gone)["lastError"]
    assert rig.message(ghost)["status"] == "failed" and rig.message(gone)["failedAt"] is not None
    assert rig.transport.sent_count == 0


async def test_retryable_failure_requeues_then_sends_permanent_fails(rig: Rig) -> None:
    await rig.connect("acc1", "+40700000001")
    rig.transport.fail_sends("retryable", count=2)
    await rig.start_worker()
    rid = rig.send("acc1", "+40722000001", "eventually")
    await wait_for(lambda: rig.item(rid)["status"] == "sent")
    assert rig.item(rid)["attemptCount"] == 3
    rig.transport.fail_sends("permanent", count=1)
    bad = rig.send("acc1", "+40722000001", "never")
    await wait_for(lambda: rig.item(bad)["status"] == "failed")
    assert "permanent" in rig.item(bad)["lastError"]
    assert [m.text for m in rig.transport.received_by("+40722000001")] == ["eventually"]


async def test_last_attempt_fails_item_and_message(rig: Rig) -> None:
    await rig.connect("acc1", "+40700000001")
    rig.transport.disconnect("acc1")
    await rig.start_worker(OutboxConfig.unpaced(backoff_initial_s=0.01, max_attempts=3))
    rid = rig.send("acc1", "+40722000001", "offline")
    await wait_for(lambda: rig.item(rid)["status"] == "failed")
    item = rig.item(rid)
    assert item["attemptCount"] == 3 and "not connected" in item["lastError"]
    assert rig.message(rid)["status"] == "failed"


async def test_expired_mid_send_claim_is_failed_not_resent(rig: Rig) -> None:
    """What a crash between send and record leaves behind: never sent again."""
    await rig.connect("acc1", "+40700000001")
    tid = rig.thread("acc1", "+40722000001")
    now = utc_now()
    doc = new_outbox_doc(
        request_id="r-crashed", thread_id=tid, account_id="acc1",
        to_jid=phone_jid("+40722000001"), text="maybe sent", uid="u", client_message_id="c",
        now=now - timedelta(minutes=2),
    )  # fmt: skip
    doc.update(
        status="processing", claimedBy="dead-daemon", attemptId="a1", attemptCount=1,
        sendStartedAt=now - timedelta(minutes=2), leaseUntil=now - timedelta(minutes=1),
    )  # fmt: skip
    rig.store.create("outbox/r-crashed", doc)
    rig.store.create(
        f"threads/{tid}/messages/r-crashed",
        new_message_doc(
            request_id="r-crashed", account_id="acc1", client_jid=phone_jid("+40722000001"),
            text="maybe sent", uid="u", client_message_id="c", now=now,
        ),
    )  # fmt: skip
    later = rig.send("acc1", "+40722000001", "next one")  # same thread: waits for the verdict
    await rig.start_worker()
    await wait_for(lambda: statuses(rig, ["r-crashed", later]) == ["failed", "sent"])
    assert rig.item("r-crashed")["lastError"] == UNKNOWN_STATE_ERROR
    assert rig.message("r-crashed")["status"] == "failed"
    assert [m.text for m in rig.transport.received_by("+40722000001")] == ["next one"]


async def test_two_hundred_items_five_accounts_one_disconnects(rig: Rig) -> None:
    accounts = [f"acc{i}" for i in range(5)]
    for i, acc in enumerate(accounts):
        await rig.connect(acc, f"+4070000000{i}")
    await rig.start_worker()
    clients = [f"+407220000{j:02d}" for j in range(8)]
    rids: list[str] = []
    for n in range(200):
        acc, client = accounts[n % 5], clients[(n // 5) % 8]
        rids.append(rig.send(acc, client, f"{acc}|{client}|{n:03d}"))
        if n == 60:
            rig.transport.disconnect("acc2")
        if n == 140:
            rig.transport.reconnect("acc2")
        if n % 20 == 0:
            await asyncio.sleep(0.01)
    await wait_for(lambda: all(s == "sent" for s in statuses(rig, rids)), timeout=30)
    # exactly once, in per-thread order
    for client in clients:
        got = [m.text for m in rig.transport.received_by(client)]
        assert len(got) == len(set(got))
        for acc in accounts:
            seq = [t for t in got if t.startswith(acc + "|")]
            assert seq == sorted(seq), f"order broken for {acc}->{client}"
    assert sum(len(rig.transport.received_by(c)) for c in clients) == 200
    assert rig.transport.sent_count == 200
    for rid in rids:
        assert rig.message(rid)["status"] in ("sent", "delivered")
        assert rig.message(rid)["waMessageId"] == rig.item(rid)["providerMessageId"]
    acc2 = rids[2::5]
    assert any(rig.item(r)["attemptCount"] > 1 for r in acc2)  # acc2 really retried


async def test_one_busy_account_does_not_delay_another(rig: Rig) -> None:
    await rig.connect("busy", "+40700000001")
    await rig.connect("quiet", "+40700000002")
    config = OutboxConfig.unpaced(pace_min_gap_s=0.2, poll_interval_s=0.5)
    await rig.start_worker(config)
    for n in range(10):
        rig.send("busy", "+40722000001", f"busy {n}")
    await asyncio.sleep(0.05)
    started = time.monotonic()
    rid = rig.send("quiet", "+40722000002", "quiet one")
    await wait_for(lambda: rig.item(rid)["status"] == "sent", timeout=5)
    assert time.monotonic() - started < 0.5
    # meanwhile the busy account is still paced
    busy_sent = [m.text for m in rig.transport.received_by("+40722000001")]
    assert len(busy_sent) < 10


async def test_recipient_cap_holds_thread_order(rig: Rig) -> None:
    await rig.connect("acc1", "+40700000001")
    config = OutboxConfig.unpaced(recipient_max=2, recipient_window_s=0.6)
    await rig.start_worker(config)
    rids = [rig.send("acc1", "+40722000001", f"m{n}") for n in range(4)]
    other = rig.send("acc1", "+40722000009", "other client")
    await wait_for(lambda: rig.item(other)["status"] == "sent", timeout=3)
    assert statuses(rig, rids)[:2] == ["sent", "sent"]
    assert statuses(rig, rids)[2:] == ["queued", "queued"]  # capped, not failed
    await wait_for(lambda: all(s == "sent" for s in statuses(rig, rids)), timeout=5)
    assert [m.text for m in rig.transport.received_by("+40722000001")] == ["m0", "m1", "m2", "m3"]


async def test_typing_presence_before_send(rig: Rig) -> None:
    await rig.connect("acc1", "+40700000001")
    calls: list[bool] = []
    original = rig.transport.send_presence

    async def spy(account_id: str, to_jid: str, composing: bool) -> None:
        calls.append(composing)
        await original(account_id, to_jid, composing)

    rig.transport.send_presence = spy  # type: ignore[method-assign]
    await rig.start_worker(OutboxConfig.unpaced(typing=True, typing_max_s=0.1))
    rid = rig.send("acc1", "+40722000001", "hello")
    await wait_for(lambda: rig.item(rid)["status"] == "sent")
    await wait_for(lambda: calls == [True, False])


async def test_wake_is_immediate_without_change_stream(rig: Rig) -> None:
    await rig.connect("acc1", "+40700000001")
    worker = await rig.start_worker(OutboxConfig.unpaced(poll_interval_s=30))
    assert worker._unwatch is not None
    worker._unwatch()  # no change stream: only wake() (the proxy's wake route) can help
    await asyncio.sleep(0.1)
    rid = rig.send("acc1", "+40722000001", "woken")
    await asyncio.sleep(0.2)
    assert rig.item(rid)["status"] == "queued"
    worker.wake()
    await wait_for(lambda: rig.item(rid)["status"] == "sent", timeout=2)


async def test_stats_report_counters(rig: Rig) -> None:
    await rig.connect("acc1", "+40700000001")
    worker = await rig.start_worker()
    rid = rig.send("acc1", "+40722000001", "x")
    await wait_for(lambda: rig.item(rid)["status"] == "sent")
    stats = worker.stats()
    assert stats["counters"]["sent"] == 1 and "acc1" in stats["lanes"]
    assert rig.store.query(query("outbox", where=[("status", "==", "processing")])) == []


async def test_ambiguous_transport_error_is_never_retried(rig: Rig) -> None:
    """WhatsApp got the message but the ack timed out (whatsmeow ErrMessageTimedOut)."""
    await rig.connect("acc1", "+40700000001")
    original = rig.transport.send_text

    async def ack_lost(account_id: str, to_jid: str, text: str) -> Any:
        await original(account_id, to_jid, text)
        raise TransportError("send failed: timed out waiting for message send response")

    rig.transport.send_text = ack_lost  # type: ignore[method-assign]
    await rig.start_worker()
    rid = rig.send("acc1", "+40722000001", "once only")
    await wait_for(lambda: rig.item(rid)["status"] == "failed")
    await asyncio.sleep(0.3)  # a retry would have happened by now
    item = rig.item(rid)
    assert item["attemptCount"] == 1 and item["lastError"].startswith(UNKNOWN_STATE_ERROR)
    assert [m.text for m in rig.transport.received_by("+40722000001")] == ["once only"]


def slow_sends(rig: Rig, seconds: float) -> None:
    original = rig.transport.send_text

    async def slow(account_id: str, to_jid: str, text: str) -> Any:
        await asyncio.sleep(seconds)
        return await original(account_id, to_jid, text)

    rig.transport.send_text = slow  # type: ignore[method-assign]


async def test_lease_is_renewed_during_a_long_send(rig: Rig) -> None:
    """A send slower than the lease: the holder renews it, so a second worker's sweep never
    takes the item for abandoned."""
    await rig.connect("acc1", "+40700000001")
    slow_sends(rig, 1.0)
    config = OutboxConfig.unpaced(lease_s=0.3, poll_interval_s=0.1)
    first = await rig.start_worker(config, name="w1")
    rid = rig.send("acc1", "+40722000001", "slow")
    await wait_for(lambda: rig.item(rid)["status"] == "processing")
    second = await rig.start_worker(config, name="w2")
    await wait_for(lambda: rig.item(rid)["status"] == "sent", timeout=5)
    assert first.counters.sent == 1
    assert first.counters.recovered_failed == second.counters.recovered_failed == 0
    assert len(rig.transport.received_by("+40722000001")) == 1


async def test_stop_lets_sends_in_flight_finish(rig: Rig) -> None:
    await rig.connect("acc1", "+40700000001")
    slow_sends(rig, 0.3)
    worker = await rig.start_worker()
    rid = rig.send("acc1", "+40722000001", "in flight at shutdown")
    await wait_for(lambda: rig.item(rid)["status"] == "processing")
    await worker.stop()
    assert rig.item(rid)["status"] == "sent"


async def test_restart_with_same_instance_id_settles_its_orphans_at_once(rig: Rig) -> None:
    """After a kill -9 and restart under the same instance id, the claims of the previous life
    are failed (unknown state) without waiting for their lease to lapse."""
    await rig.connect("acc1", "+40700000001")
    tid = rig.thread("acc1", "+40722000001")
    now = utc_now()
    doc = new_outbox_doc(
        request_id="r-orphan", thread_id=tid, account_id="acc1",
        to_jid=phone_jid("+40722000001"), text="x", uid="u", client_message_id="c", now=now,
    )  # fmt: skip
    doc.update(
        status="processing", claimedBy="w1", attemptId="old-life", attemptCount=1,
        sendStartedAt=now, leaseUntil=now + timedelta(minutes=5),
    )  # fmt: skip
    rig.store.create("outbox/r-orphan", doc)
    await rig.start_worker(name="w1")
    await wait_for(lambda: rig.item("r-orphan")["status"] == "failed", timeout=3)
    assert rig.item("r-orphan")["lastError"] == UNKNOWN_STATE_ERROR
    assert rig.transport.sent_count == 0


class Directory:
    """Stands in for the session manager: `started` turns true once sessions are restored."""

    def __init__(self) -> None:
        self.started = False

    def status_of(self, account_id: str) -> str | None:
        return "connected"


async def test_no_attempt_is_used_while_sessions_are_restored(rig: Rig) -> None:
    directory = Directory()
    worker = OutboxWorker(rig.store, rig.transport, instance_id="w1", config=FAST,
                          accounts=directory)  # fmt: skip
    await worker.start()
    rig.workers.append(worker)
    rid = rig.send("acc1", "+40722000001", "after restore")
    await asyncio.sleep(0.5)
    assert (rig.item(rid)["status"], rig.item(rid)["attemptCount"]) == ("queued", 0)
    await rig.connect("acc1", "+40700000001")
    directory.started = True
    await wait_for(lambda: rig.item(rid)["status"] == "sent", timeout=5)
    assert rig.item(rid)["attemptCount"] == 1


@pytest.mark.parametrize("started_first", [False, True], ids=["backlog-read", "change-stream"])
async def test_a_capped_recipient_with_a_full_lane_does_not_starve_other_chats(
    rig: Rig, started_first: bool
) -> None:
    """One client has more queued items than a lane holds and hits the recipient cap: another
    client of the same account is still served (and the capped client keeps its order)."""
    await rig.connect("acc1", "+40700000001")
    config = OutboxConfig.unpaced(recipient_max=3, recipient_window_s=30.0, poll_interval_s=0.2)
    assert config.lane_capacity == 50
    if started_first:  # the items arrive one by one through the change stream
        await rig.start_worker(config)
    flood = [rig.send("acc1", "+40722000001", f"f{n:02d}") for n in range(60)]
    other = [rig.send("acc1", "+40722000009", f"other {n}") for n in range(3)]
    if not started_first:  # the backlog is found by the scheduler's read
        await rig.start_worker(config)
    await wait_for(lambda: statuses(rig, other) == ["sent"] * 3, timeout=5)
    assert statuses(rig, flood)[:3] == ["sent"] * 3
    assert set(statuses(rig, flood)[3:]) == {"queued"}  # capped: waiting, no attempt used
    assert all(rig.item(r)["attemptCount"] == 0 for r in flood[3:])
    assert [m.text for m in rig.transport.received_by("+40722000009")] == [
        "other 0",
        "other 1",
        "other 2",
    ]
    assert [m.text for m in rig.transport.received_by("+40722000001")] == ["f00", "f01", "f02"]
