"""The inbound flush planner is pure: records + snapshots in, the writes of a flush out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from session_daemon.inbound.convert import (
    InboundRecord,
    message_path,
    record_from_wire,
    thread_id_for,
    thread_path,
)
from session_daemon.inbound.plan import (
    Placed,
    candidates_sent_by_daemon,
    flush_reads,
    plan_pack,
    remember_patches,
    split_packs,
    without,
)
from session_daemon.transport.port import WireMessage
from shared.paths import pending_receipt_path
from shared.store.port import Snapshot

ACC = "acc1"
T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def placed(
    wa_id: str, phone: str = "40733111222", *, from_me: bool = False, sec: int = 0
) -> Placed:
    jid = f"{phone}@s.whatsapp.net"
    wire = WireMessage(
        id=wa_id,
        chat_jid=jid,
        sender_jid=jid,
        from_me=from_me,
        timestamp=T0 + timedelta(seconds=sec),
        text="Bună",
    )
    record = record_from_wire(ACC, wire, source="live", received_ms=1)
    assert isinstance(record, InboundRecord)
    tid = thread_id_for(ACC, jid)
    return Placed(record, tid, message_path(tid, wa_id))


def test_reads_dedup_within_the_batch_then_against_the_store() -> None:
    a, b, again = placed("A"), placed("B", from_me=True), placed("A")
    reads = flush_reads([a, b, again])
    assert reads.paths == [
        a.path,
        b.path,
        thread_path(a.thread_id),
        pending_receipt_path(ACC, "B"),
    ]
    stored = Snapshot(a.path, {"id": "A"})
    thread = Snapshot(thread_path(a.thread_id), {"displayName": "Ana"})
    view = reads.view([stored, None, thread, None])
    assert view.fresh == [b]
    assert view.threads == {a.thread_id: thread}
    assert view.receipts == {}
    assert candidates_sent_by_daemon(view) == [b]  # from me, in a thread that existed
    assert without(view.fresh, {(b.thread_id, "B")}) == []


def test_packs_keep_a_threads_messages_together_and_respect_the_limit() -> None:
    one = [placed(f"X{i}", "40733000001", sec=10 - i) for i in range(3)]
    two = [placed(f"Y{i}", "40733000002", sec=i) for i in range(3)]
    packs = split_packs(one + two, None, 4)  # 3 messages + 1 thread write per batch
    assert packs == [sorted(one, key=lambda p: p.record.ts_ms), two]
    assert all(len(pack) + 1 <= 4 for pack in packs)


def test_a_pack_applies_an_early_receipt_and_shows_it_in_the_summary() -> None:
    mine = placed("M1", from_me=True)
    receipt = Snapshot(
        pending_receipt_path(ACC, "M1"), {"status": "read", "receiptAt": T0, "threadIds": []}
    )
    threads: dict[str, Snapshot | None] = {mine.thread_id: None}
    plan = plan_pack([mine], threads, {mine.path: receipt}, NOW)
    [(path, doc, applied)] = plan.creates
    assert (path, doc["status"], applied) == (mine.path, "read", receipt)
    assert plan.receipts_applied == 1
    assert plan.threads[mine.thread_id]["lastMessageStatus"] == "read"
    remember_patches(threads, plan.threads)
    after = threads[mine.thread_id]
    assert after is not None and after.data["lastMessageId"] == "M1"
