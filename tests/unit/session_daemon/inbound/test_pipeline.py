"""InboundPipeline on a real SqliteStore and journal, fed by SimulatedTransport."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from session_daemon.inbound.convert import message_doc_id
from session_daemon.inbound.journal import Journal
from session_daemon.inbound.pipeline import InboundPipeline, PipelineClosed
from session_daemon.transport.port import (
    HistorySyncChunk,
    MessageReceived,
    ReceiptReceived,
    WireMessage,
)
from session_daemon.transport.simulated import SimulatedTransport
from session_daemon.transport.simulated_wire import lid_for_phone
from shared.schemas import Message, Thread
from shared.store.port import DocumentStore, Snapshot, StoreError, WriteBatch, query
from shared.store.sqlite import SqliteStore

ACC = "acc1"
CLIENT = "+40733111222"
CLIENT_JID = "40733111222@s.whatsapp.net"
TID = f"{ACC}__{CLIENT_JID}"
T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


class CountingStore:
    """SqliteStore with a write counter and a switch that makes batch commits fail."""

    def __init__(self, inner: SqliteStore) -> None:
        self.inner = inner
        self.writes = 0
        self.fail_commits = 0
        self.largest_batch = 0
        self.poison: set[str] = set()  # message ids whose write always fails

    def batch(self) -> WriteBatch:
        return _Batch(self)

    def get_many(self, paths: Any) -> list[Snapshot | None]:
        return self.inner.get_many(paths)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class _Batch:
    def __init__(self, owner: CountingStore) -> None:
        self.owner = owner
        self.inner = owner.inner.batch()
        self.n = 0

    def create(self, path: str, data: dict[str, Any]) -> None:
        self.n += 1
        self.poisoned = (
            getattr(self, "poisoned", False) or path.rsplit("/", 1)[1] in self.owner.poison
        )
        self.inner.create(path, data)

    def set(self, path: str, data: dict[str, Any], *, merge: bool = False) -> None:
        self.n += 1
        self.inner.set(path, data, merge=merge)

    def update(self, path: str, data: dict[str, Any]) -> None:
        self.n += 1
        self.inner.update(path, data)

    def commit(self) -> None:
        if getattr(self, "poisoned", False):
            raise ValueError("this document cannot be written")
        if self.owner.fail_commits:
            self.owner.fail_commits -= 1
            raise StoreError("simulated outage")
        self.inner.commit()
        self.owner.writes += self.n
        self.owner.largest_batch = max(self.owner.largest_batch, self.n)


@dataclass
class Rig:
    store: CountingStore
    pipeline: InboundPipeline
    sim: SimulatedTransport
    tmp: Path

    def messages(self, thread_id: str = TID) -> list[Snapshot]:
        return self.store.query(query(f"threads/{thread_id}/messages", order_by=["tsClient"]))

    def thread(self, thread_id: str = TID) -> dict[str, Any]:
        snap = self.store.get(f"threads/{thread_id}")
        assert snap is not None, f"no thread {thread_id}"
        return snap.data

    async def drain(self) -> None:
        assert await self.pipeline.drain(5)


def make_pipeline(
    store: DocumentStore, tmp: Path, sim: SimulatedTransport | None = None
) -> InboundPipeline:
    return InboundPipeline(
        store,
        tmp / "journal",
        flush_interval=0.01,
        retry_initial=0.01,
        lid_resolver=sim.pn_for_lid if sim else None,
    )


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    store = CountingStore(SqliteStore(tmp_path / "store.db"))
    sim = SimulatedTransport(qr_interval=0.05, auto_delivered=False)
    pipeline = make_pipeline(store, tmp_path, sim)
    await pipeline.start()
    await sim.start_session(ACC, tmp_path / "acc1.session", pipeline.submit)
    await sim.arun(sim.pair, ACC, "+40722000111", "Superparty")
    yield Rig(store, pipeline, sim, tmp_path)
    await pipeline.stop()
    await sim.close()
    store.inner.close()


def wire(i: int, *, chat: str = CLIENT_JID, from_me: bool = False, at: datetime | None = None,
         text: str | None = None, name: str | None = "Ion Pop") -> WireMessage:  # fmt: skip
    return WireMessage(
        id=f"3EB0{i:016X}",
        chat_jid=chat,
        sender_jid="40722000111@s.whatsapp.net" if from_me else chat,
        from_me=from_me,
        timestamp=at or T0 + timedelta(minutes=i),
        text=f"mesaj {i}" if text is None else text,
        push_name=None if from_me else name,
    )


async def test_live_messages_become_contract_documents(rig: Rig) -> None:
    ids = [
        await rig.sim.adeliver_message(
            ACC, CLIENT, f"Bună ziua {i}", push_name="Ion Pop", timestamp=T0 + timedelta(seconds=i)
        )
        for i in range(3)
    ]
    await rig.drain()
    msgs = rig.messages()
    assert [m.id for m in msgs] == [message_doc_id(i) for i in ids]
    doc = msgs[0].data
    Message.model_validate(doc)
    assert doc["direction"] == "inbound" and doc["body"] == "Bună ziua 0"
    assert doc["tsClient"] == T0 and doc["tsClientMs"] == int(T0.timestamp() * 1000)
    assert doc["createdAt"] == T0 and doc["createdAtMs"] == doc["tsClientMs"]
    assert doc["waMessageId"] == doc["providerMessageId"] == ids[0]
    assert doc["clientJid"] == CLIENT_JID and doc["accountId"] == ACC
    assert doc["senderName"] == "Ion Pop" and doc["status"] == "delivered"

    thread = rig.thread()
    Thread.model_validate(thread)
    assert thread["lastMessageAt"] == T0 + timedelta(seconds=2)
    assert thread["lastMessageText"] == thread["lastMessagePreview"] == "Bună ziua 2"
    assert thread["lastMessageDirection"] == "inbound"
    assert thread["displayName"] == "Ion Pop"
    assert thread["normalizedPhone"] == thread["phoneE164"] == CLIENT
    assert thread["unreadCount"] == 3


async def test_redelivery_is_stored_once_and_counted_once(rig: Rig) -> None:
    for _ in range(3):
        await rig.sim.adeliver_message(ACC, CLIENT, "dublu", msg_id="DUP1", push_name="Ion")
        await rig.drain()
    assert len(rig.messages()) == 1
    assert rig.thread()["unreadCount"] == 1
    assert rig.pipeline.stats()["duplicatesSkipped"] == 2


async def test_history_overlap_keeps_one_document_and_the_newest_summary(rig: Rig) -> None:
    live = [wire(i) for i in range(100, 105)]
    for w in live:
        rig.pipeline.submit(MessageReceived(ACC, w))
    await rig.drain()
    writes_before = rig.store.writes
    older = [wire(i) for i in range(0, 95)]  # older messages, then an overlap with live ones
    chunk = HistorySyncChunk(ACC, tuple(older + live), push_names={CLIENT_JID: "Ion Pop"})
    await asyncio.to_thread(rig.pipeline.submit, chunk)
    await rig.drain()
    msgs = rig.messages()
    assert len(msgs) == 100 and len({m.id for m in msgs}) == 100
    thread = rig.thread()
    assert thread["lastMessageAtMs"] == live[-1].timestamp.timestamp() * 1000
    assert thread["lastMessageText"] == "mesaj 104"
    assert thread["unreadCount"] == 5  # history is not unread
    written = rig.store.writes - writes_before
    assert written / 95 <= 1.05, f"{written} writes for 95 new history messages"
    assert msgs[0].data["createdAt"] == T0  # sorts where it was written, not when synced


async def test_older_history_never_rewinds_the_summary(rig: Rig) -> None:
    rig.pipeline.submit(MessageReceived(ACC, wire(50)))
    await rig.drain()
    before = rig.thread()
    writes = rig.store.writes
    rig.pipeline.submit(HistorySyncChunk(ACC, (wire(1), wire(2))))
    await rig.drain()
    after = rig.thread()
    for key in ("lastMessageAt", "lastMessageText", "lastMessageDirection", "unreadCount"):
        assert after[key] == before[key]
    assert rig.store.writes - writes == 2  # the two messages; the thread did not need a write


async def test_lid_messages_land_in_the_phone_thread(rig: Rig) -> None:
    await rig.sim.adeliver_message(ACC, CLIENT, "via LID", via_lid=True, push_name="Ion")
    await rig.drain()
    assert [m.data["body"] for m in rig.messages()] == ["via LID"]
    assert rig.store.get(f"threads/{ACC}__{lid_for_phone(CLIENT)}") is None

    # The LID is known now (learned from that message): a bare-LID message joins the thread too.
    await rig.sim.adeliver_message(ACC, lid_for_phone(CLIENT), "doar LID")
    await rig.drain()
    assert [m.data["body"] for m in rig.messages()] == ["via LID", "doar LID"]


async def test_unknown_lid_is_parked_then_rehomed_by_history_mapping(rig: Rig) -> None:
    lid = "987654321@lid"
    rig.pipeline.submit(MessageReceived(ACC, wire(1, chat=lid, name="Maria")))
    rig.pipeline.submit(MessageReceived(ACC, wire(2, chat=lid, name="Maria")))
    await rig.drain()
    stats = rig.pipeline.stats()
    assert stats["pendingLid"] == 2 and stats["messagesStored"] == 0
    assert rig.store.query(query("threads")) == []

    rig.pipeline.submit(HistorySyncChunk(ACC, (), lid_to_pn={lid: "40744555666@s.whatsapp.net"}))
    await rig.drain()
    tid = f"{ACC}__40744555666@s.whatsapp.net"
    assert [m.data["body"] for m in rig.messages(tid)] == ["mesaj 1", "mesaj 2"]
    assert rig.thread(tid)["displayName"] == "Maria"
    stats = rig.pipeline.stats()
    assert stats["pendingLid"] == 0 and stats["rehomed"] == 2


async def test_parked_lid_is_resolved_through_the_transport_lid_store(rig: Rig) -> None:
    await rig.sim.adeliver_message(ACC, "111222333@lid", "cine sunt?")
    await rig.drain()
    assert rig.pipeline.stats()["pendingLid"] == 1
    rig.sim.learn_lid(ACC, "111222333@lid", "+40755000111")  # no event: only the LID store knows
    assert rig.pipeline.recheck_pending() == 1
    await rig.drain()
    assert len(rig.messages(f"{ACC}__40755000111@s.whatsapp.net")) == 1


async def test_parked_lid_messages_survive_a_restart(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "store.db")
    first = make_pipeline(store, tmp_path)
    await first.start()
    first.submit(MessageReceived(ACC, wire(7, chat="444@lid")))
    await first.drain()
    await first.stop()
    second = make_pipeline(store, tmp_path)
    await second.start()
    await second.drain()
    assert second.stats()["pendingLid"] == 1
    second.submit(HistorySyncChunk(ACC, (), lid_to_pn={"444@lid": "40766000000@s.whatsapp.net"}))
    await second.drain()
    await second.stop()
    assert store.get(f"threads/{ACC}__40766000000@s.whatsapp.net/messages/{wire(7).id}")
    assert Journal(tmp_path / "journal").count() == 0
    store.close()


async def test_status_and_newsletters_are_counted_not_mirrored(rig: Rig) -> None:
    for i, chat in enumerate(("status@broadcast", "120363000000000002@newsletter")):
        rig.pipeline.submit(MessageReceived(ACC, wire(i, chat=chat)))
    rig.pipeline.submit(MessageReceived(ACC, wire(9, text="")))  # empty protocol message
    await rig.drain()
    assert rig.store.query(query("threads")) == []
    stats = rig.pipeline.stats()
    assert (stats["groupsSkipped"], stats["statusSkipped"], stats["newsletterSkipped"]) == (0, 1, 1)
    assert stats["otherSkipped"] == 1 and stats["messagesStored"] == 0


async def test_messages_typed_on_the_phone_are_outbound_and_reset_unread(rig: Rig) -> None:
    await rig.sim.adeliver_message(ACC, CLIENT, "întrebare", push_name="Ion")
    await rig.drain()
    await rig.sim.atype_on_phone(ACC, CLIENT, "răspuns de pe telefon")
    await rig.drain()
    msgs = rig.messages()
    assert [m.data["direction"] for m in msgs] == ["inbound", "outbound"]
    assert msgs[1].data["status"] == "sent"
    thread = rig.thread()
    assert thread["unreadCount"] == 0 and thread["lastMessageDirection"] == "outbound"
    assert thread["displayName"] == "Ion"  # the owner's own name never becomes the client's


async def test_display_name_is_never_message_text(rig: Rig) -> None:
    await rig.sim.adeliver_message(ACC, CLIENT, "Vreau un animator pentru sâmbătă")
    await rig.drain()
    assert rig.thread()["displayName"] == CLIENT


async def test_a_sent_message_coming_back_from_the_phone_is_not_duplicated(rig: Rig) -> None:
    # The outbox stored the app's message under its requestId with the WhatsApp id it got.
    rig.store.set(f"threads/{TID}", {"accountId": ACC, "clientJid": CLIENT_JID,
                                     "lastMessageAt": T0, "lastMessageAtMs": 0})  # fmt: skip
    rig.store.create(
        f"threads/{TID}/messages/req123",
        {"accountId": ACC, "clientJid": CLIENT_JID, "direction": "outbound", "body": "hi",
         "status": "sent", "tsClient": T0, "waMessageId": "3EB0SENTBYAPP"},
    )  # fmt: skip
    echo = WireMessage("3EB0SENTBYAPP", CLIENT_JID, "40722000111@s.whatsapp.net", True, T0, "hi")
    rig.pipeline.submit(HistorySyncChunk(ACC, (echo,)))
    await rig.drain()
    assert [m.id for m in rig.messages()] == ["req123"]
    assert rig.pipeline.stats()["duplicatesSkipped"] == 1


async def test_receipts_move_outbound_status_forward_only(rig: Rig) -> None:
    sent = await rig.sim.send_text(ACC, CLIENT_JID, "confirmare")
    rig.store.set(
        f"threads/{TID}", {"accountId": ACC, "clientJid": CLIENT_JID, "lastMessageAt": T0}
    )
    rig.store.create(
        f"threads/{TID}/messages/req1",
        {"accountId": ACC, "clientJid": CLIENT_JID, "direction": "outbound", "body": "confirmare",
         "status": "sent", "tsClient": T0, "waMessageId": sent.message_id},
    )  # fmt: skip
    await rig.sim.arun(rig.sim.read, ACC, CLIENT)
    await rig.sim.areceipt(ACC, CLIENT, [sent.message_id], "delivered")  # late, reordered
    await rig.drain()
    doc = rig.store.get(f"threads/{TID}/messages/req1")
    assert doc is not None and doc.data["status"] == "read"
    assert rig.pipeline.stats()["receiptsApplied"] == 2


async def test_store_outage_is_retried_without_loss(rig: Rig) -> None:
    rig.store.fail_commits = 3
    for i in range(20):
        rig.pipeline.submit(MessageReceived(ACC, wire(i)))
    await rig.drain()
    assert len(rig.messages()) == 20
    stats = rig.pipeline.stats()
    assert stats["storeErrors"] == 3 and stats["lastError"].startswith("StoreError")
    assert rig.thread()["unreadCount"] == 20


async def test_unwritten_entries_are_replayed_after_restart(tmp_path: Path) -> None:
    store = CountingStore(SqliteStore(tmp_path / "store.db"))
    store.fail_commits = 10**6  # the store is down for this whole run
    first = InboundPipeline(store, tmp_path / "journal", flush_interval=0.01, retry_initial=0.01,
                            stop_timeout=0.2)  # fmt: skip
    await first.start()
    for i in range(30):
        first.submit(MessageReceived(ACC, wire(i)))
    first.submit(ReceiptReceived(ACC, ("X",), CLIENT_JID, "read", T0))
    await first.stop()
    # Batches fail; the receipt (a transaction) went through and left the journal.
    assert Journal(tmp_path / "journal").count() == 30

    store.fail_commits = 0
    second = make_pipeline(store, tmp_path)
    await second.start()
    await second.drain()
    assert second.stats()["replayed"] == 30
    await second.stop()
    assert len(store.query(query(f"threads/{TID}/messages"))) == 30
    assert Journal(tmp_path / "journal").count() == 0
    store.inner.close()


async def test_concurrent_submitters_are_group_committed(rig: Rig) -> None:
    def produce(worker: int) -> None:
        for i in range(worker, 400, 8):
            rig.sim.deliver_message(ACC, f"+4072{i % 10:07d}", f"m{i}", msg_id=f"C{i:05d}")

    threads = [threading.Thread(target=produce, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    await rig.drain()
    stats = rig.pipeline.stats()
    assert stats["messagesStored"] == 400
    assert stats["journalCommits"] < 400  # several events shared an fsync
    assert len(rig.store.query(query("messages", group=True))) == 400


async def test_submit_outside_the_running_window_is_refused(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "store.db")
    pipeline = make_pipeline(store, tmp_path)
    with pytest.raises(PipelineClosed):
        pipeline.submit(MessageReceived(ACC, wire(1)))
    await pipeline.start()
    await pipeline.stop()
    with pytest.raises(PipelineClosed):
        pipeline.submit(MessageReceived(ACC, wire(1)))
    store.close()


async def test_big_flushes_are_split_into_bounded_batches(tmp_path: Path) -> None:
    store = CountingStore(SqliteStore(tmp_path / "store.db"))
    pipeline = InboundPipeline(
        store, tmp_path / "journal", flush_interval=0.05, max_batch_writes=10
    )
    await pipeline.start()
    others = [f"4074400000{k}@s.whatsapp.net" for k in range(2)]
    chunk = [wire(i, name=f"Ion {i}") for i in range(40)]
    chunk += [wire(100 + i, chat=others[i % 2], name="Ana") for i in range(10)]
    pipeline.submit(MessageReceived(ACC, wire(1000, at=T0 - timedelta(days=1))))
    pipeline.submit(HistorySyncChunk(ACC, tuple(chunk)))
    for i in range(40, 45):  # live, inbound: unread
        pipeline.submit(MessageReceived(ACC, wire(i, name="Ion Pop")))
    assert await pipeline.drain(5)
    await pipeline.stop()
    assert store.largest_batch <= 10
    msgs = store.query(query(f"threads/{TID}/messages"))
    assert len(msgs) == 46
    thread = store.get(f"threads/{TID}")
    assert thread is not None
    assert thread.data["lastMessageText"] == "mesaj 44"
    assert thread.data["displayName"] == "Ion Pop"
    assert thread.data["unreadCount"] == 6  # the first live message and the five at the end
    for other in others:
        assert len(store.query(query(f"threads/{ACC}__{other}/messages"))) == 5
    store.inner.close()


async def test_a_poison_message_is_set_aside_and_does_not_block_the_rest(tmp_path: Path) -> None:
    store = CountingStore(SqliteStore(tmp_path / "store.db"))
    store.poison = {wire(3).id}
    pipeline = make_pipeline(store, tmp_path)
    await pipeline.start()
    pipeline.submit(HistorySyncChunk(ACC, tuple(wire(i) for i in range(10))))
    deadline = asyncio.get_running_loop().time() + 10
    while pipeline.stats()["quarantined"] == 0:
        assert asyncio.get_running_loop().time() < deadline, pipeline.stats()
        await asyncio.sleep(0.02)
    assert await pipeline.drain(5)
    for i in range(10, 13):  # later messages flow normally
        pipeline.submit(MessageReceived(ACC, wire(i)))
    assert await pipeline.drain(5)
    await pipeline.stop()
    stored = {m.id for m in store.query(query(f"threads/{TID}/messages"))}
    assert stored == {wire(i).id for i in range(13) if i != 3}
    assert Journal(tmp_path / "journal").count() == 1  # kept for the next start
    store.poison = set()
    again = make_pipeline(store, tmp_path)
    await again.start()
    assert await again.drain(5)
    await again.stop()
    assert len(store.query(query(f"threads/{TID}/messages"))) == 13
    store.inner.close()


async def test_backpressure_holds_only_the_account_that_is_behind(tmp_path: Path) -> None:
    store = CountingStore(SqliteStore(tmp_path / "store.db"))
    store.fail_commits = 10**6  # the store is down: account A's queue fills up
    pipeline = InboundPipeline(store, tmp_path / "journal", flush_interval=0.01, max_backlog=5,
                               max_batch=3, retry_initial=0.01, retry_max=0.05)  # fmt: skip
    await pipeline.start()
    done_a = threading.Event()

    def burst_a() -> None:
        for i in range(30):
            pipeline.submit(MessageReceived(ACC, wire(i)))
        done_a.set()

    producer = threading.Thread(target=burst_a)
    producer.start()
    await asyncio.sleep(0.5)
    assert not done_a.is_set(), "account A should be held back"
    other = wire(99, chat="40744000001@s.whatsapp.net")
    await asyncio.wait_for(asyncio.to_thread(pipeline.submit, MessageReceived("accB", other)), 2)
    store.fail_commits = 0  # the store is back
    await asyncio.to_thread(producer.join, 10)
    assert done_a.is_set()
    assert await pipeline.drain(10)
    await pipeline.stop()
    assert len(store.query(query(f"threads/{TID}/messages"))) == 30
    assert store.get(f"threads/accB__40744000001@s.whatsapp.net/messages/{other.id}")
    store.inner.close()


async def test_a_rehomed_lid_message_survives_a_store_outage(rig: Rig) -> None:
    """A parked message that was re-homed while the store is down must be retried like any
    other entry, not dropped from the queue (it used to carry the 'handled' mark of its parking
    and vanish until the next restart)."""
    lid = "444555666@lid"
    rig.pipeline.submit(MessageReceived(ACC, wire(1, chat=lid, name="Maria")))
    await rig.drain()
    assert rig.pipeline.stats()["pendingLid"] == 1

    rig.store.fail_commits = 2
    rig.pipeline.submit(HistorySyncChunk(ACC, (), lid_to_pn={lid: "40744555777@s.whatsapp.net"}))
    await rig.drain()
    tid = f"{ACC}__40744555777@s.whatsapp.net"
    assert rig.pipeline.stats()["storeErrors"] >= 1
    assert [m.data["body"] for m in rig.messages(tid)] == ["mesaj 1"]
    assert rig.pipeline.stats()["journalBacklog"] == 0


async def test_a_mapping_found_by_the_lid_store_also_rehomes_the_parked_messages(
    tmp_path: Path,
) -> None:
    """The LID store answers for a new message of a parked chat: the chat's parked messages go
    to the phone thread too, even if the LID store cannot answer again later (the session
    stopped)."""
    lid, pn = "777888999@lid", "40744999888@s.whatsapp.net"
    known: dict[str, str] = {}
    store = SqliteStore(tmp_path / "store.db")
    pipeline = InboundPipeline(
        store,
        tmp_path / "journal",
        flush_interval=0.01,
        retry_initial=0.01,
        pending_recheck_interval=0.05,
        lid_resolver=lambda _acc, jid: known.get(jid),
    )
    await pipeline.start()
    try:
        pipeline.submit(MessageReceived(ACC, wire(1, chat=lid, name="Maria")))
        assert await pipeline.drain(5)
        assert pipeline.stats()["pendingLid"] == 1

        known[lid] = pn  # the LID store learns it...
        pipeline.submit(MessageReceived(ACC, wire(2, chat=lid, name="Maria")))
        assert await pipeline.drain(5)
        known.clear()  # ...and forgets it again (the session stopped)
        await asyncio.sleep(0.2)  # a few re-checks
        assert await pipeline.drain(5)

        tid = f"{ACC}__{pn}"
        bodies = [s.data["body"] for s in store.query(query(f"threads/{tid}/messages"))]
        assert sorted(bodies) == ["mesaj 1", "mesaj 2"]
        assert pipeline.stats()["pendingLid"] == 0
    finally:
        await pipeline.stop()
        store.close()


# ---- receipts that arrive before the phone-typed (from-me) message is stored -----------------


def pending_receipt(store: DocumentStore, wa_id: str) -> dict[str, Any]:
    snap = store.get(f"pendingReceipts/{ACC}__{wa_id}")
    assert snap is not None, f"no pending receipt for {wa_id}"
    return snap.data


async def test_a_parked_phone_message_gets_the_receipt_that_came_before_it(rig: Rig) -> None:
    """Typed on the phone in a LID chat nobody can map yet: the message is parked, its read
    receipt is kept pending; once the mapping arrives the message is stored `read`."""
    lid, pn = "55500011122@lid", "40744555888@s.whatsapp.net"
    wa_id = await rig.sim.atype_on_phone(ACC, lid, "oferta e gata", timestamp=T0)
    await rig.drain()
    assert rig.pipeline.stats()["pendingLid"] == 1
    delivered_at, read_at = T0 + timedelta(seconds=5), T0 + timedelta(seconds=9)
    await rig.sim.areceipt(ACC, lid, [wa_id], "delivered", timestamp=delivered_at)
    await rig.sim.areceipt(ACC, lid, [wa_id], "read", timestamp=read_at)
    await rig.drain()
    assert pending_receipt(rig.store, wa_id)["status"] == "read"

    await rig.sim.ahistory_sync(ACC, (), lid_mappings={lid: pn})
    await rig.drain()
    tid = f"{ACC}__{pn}"
    [msg] = rig.messages(tid)
    assert msg.data["direction"] == "outbound" and msg.data["waMessageId"] == wa_id
    assert msg.data["status"] == "read"
    assert msg.data["deliveredAt"] == delivered_at  # the first receipt's own time
    assert msg.data["deliveredAtMs"] == int(delivered_at.timestamp() * 1000)
    assert msg.data["readAt"] == read_at and msg.data["readAtMs"] == int(read_at.timestamp() * 1000)
    Message.model_validate(msg.data)
    assert rig.thread(tid)["lastMessageStatus"] == "read"
    pending = pending_receipt(rig.store, wa_id)
    assert pending["appliedAt"] is not None
    assert pending["messagePath"] == f"threads/{tid}/messages/{msg.id}"


async def test_history_sync_applies_pending_receipts_to_phone_messages_only(rig: Rig) -> None:
    """A receipt for a phone-typed message that only comes later by history sync: applied when
    the message is created, forward-only; inbound messages of the chunk stay as they are."""
    mine, older, theirs = wire(1, from_me=True), wire(2, from_me=True), wire(3)
    at = T0 + timedelta(hours=1)
    await rig.sim.areceipt(ACC, CLIENT, [mine.id], "played", timestamp=at)
    await rig.drain()
    assert pending_receipt(rig.store, mine.id)["status"] == "read"

    reads: list[list[str]] = []
    get_many = rig.store.get_many

    def counting_get_many(paths: Any) -> list[Snapshot | None]:
        reads.append(list(paths))
        return get_many(paths)

    rig.store.get_many = counting_get_many  # type: ignore[method-assign]
    writes = rig.store.writes
    await rig.sim.ahistory_sync(ACC, (older, mine, theirs))
    await rig.drain()
    docs = {m.data["waMessageId"]: m.data for m in rig.messages()}
    assert docs[mine.id]["status"] == "read"
    assert docs[mine.id]["deliveredAt"] == docs[mine.id]["readAt"] == at
    assert docs[older.id]["status"] == "sent" and "deliveredAt" not in docs[older.id]
    assert docs[theirs.id]["status"] == "delivered" and "readAt" not in docs[theirs.id]
    assert pending_receipt(rig.store, mine.id)["appliedAt"] is not None
    # one batched read for the flush; no pending-receipt lookup for an inbound message
    assert len(reads) == 1
    assert not any(theirs.id in p for p in reads[0] if p.startswith("pendingReceipts/"))
    # three messages, the thread, and the pending receipt marked applied
    assert rig.store.writes - writes == 5
    assert rig.thread()["lastMessageId"] == message_doc_id(theirs.id)


async def test_a_quarantined_phone_message_gets_its_pending_receipt_when_retried(
    tmp_path: Path,
) -> None:
    store = CountingStore(SqliteStore(tmp_path / "store.db"))
    mine = wire(1, from_me=True)
    store.poison = {mine.id}
    # an idle flusher wakes at the recheck interval: the quarantine retry cannot come sooner
    pipeline = InboundPipeline(
        store, tmp_path / "journal", flush_interval=0.01, retry_initial=0.01,
        quarantine_retry_interval=0.3, pending_recheck_interval=0.3,
    )  # fmt: skip
    await pipeline.start()
    pipeline.submit(MessageReceived(ACC, mine))
    pipeline.submit(MessageReceived(ACC, wire(2)))
    deadline = asyncio.get_running_loop().time() + 10
    while pipeline.stats()["quarantined"] == 0:
        assert asyncio.get_running_loop().time() < deadline, pipeline.stats()
        await asyncio.sleep(0.02)
    at = T0 + timedelta(minutes=30)
    pipeline.submit(ReceiptReceived(ACC, (mine.id,), CLIENT_JID, "delivered", at))
    assert await pipeline.drain(5)
    assert pending_receipt(store, mine.id)["status"] == "delivered"
    store.poison = set()
    path = f"threads/{TID}/messages/{message_doc_id(mine.id)}"
    while store.get(path) is None:
        assert asyncio.get_running_loop().time() < deadline, pipeline.stats()
        await asyncio.sleep(0.05)
    await pipeline.stop()
    doc = store.get(path)
    assert doc is not None and doc.data["status"] == "delivered"
    assert doc.data["deliveredAt"] == at and doc.data.get("readAt") is None
    assert pending_receipt(store, mine.id)["appliedAt"] is not None
    store.inner.close()


async def test_applied_pending_receipts_count_in_the_batch_size_limit(tmp_path: Path) -> None:
    store = CountingStore(SqliteStore(tmp_path / "store.db"))
    pipeline = InboundPipeline(
        store, tmp_path / "journal", flush_interval=0.01, max_batch_writes=10
    )
    await pipeline.start()
    mine = [wire(i, from_me=True) for i in range(12)]
    pipeline.submit(ReceiptReceived(ACC, tuple(w.id for w in mine), CLIENT_JID, "delivered", T0))
    assert await pipeline.drain(5)
    pipeline.submit(HistorySyncChunk(ACC, tuple(mine)))
    assert await pipeline.drain(5)
    await pipeline.stop()
    msgs = store.query(query(f"threads/{TID}/messages"))
    assert len(msgs) == 12 and {m.data["status"] for m in msgs} == {"delivered"}
    assert 0 < store.largest_batch <= 10
    assert pipeline.stats()["pendingReceiptsApplied"] == 12
    store.inner.close()
