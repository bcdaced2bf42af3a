"""The outbox transactions on both stores: SQLite and the Firestore emulator (npm).

The same steps the worker takes (enqueue, claim, record, requeue, fail, expired claims, receipts)
run against each backend, so the Firestore rules (reads before writes inside a transaction,
queries inside transactions) are exercised, not just SQLite's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from session_daemon.outbox import items
from session_daemon.outbox.config import OutboxConfig
from session_daemon.outbox.worker import OutboxWorker
from session_daemon.receipts import apply_receipts
from session_daemon.transport.port import ReceiptReceived, SendResult, TransportEvent
from session_daemon.transport.simulated import SimulatedTransport
from shared.ids import thread_id
from shared.outbox import enqueue_send
from shared.store.sqlite import SqliteStore
from tests.conftest import unique_project_id

ACC = "acc1"
CLIENT = "40722123456@s.whatsapp.net"
TID = thread_id(ACC, CLIENT)
T0 = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "firestore"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    if request.param == "sqlite":
        s: Any = SqliteStore(tmp_path / "store.db")
    else:
        host = request.getfixturevalue("firestore_emulator")
        from shared.store.firestore import FirestoreStore

        with monkeypatch.context() as env:
            env.setenv("FIRESTORE_EMULATOR_HOST", host)
            s = FirestoreStore(unique_project_id("outbox"))
    s.create(f"threads/{TID}", {"accountId": ACC, "clientJid": CLIENT})
    yield s
    s.close()


def enqueue(store: Any, cmid: str, at: datetime = T0, uid: str = "u1") -> str:
    return enqueue_send(
        store, thread_id=TID, account_id=ACC, to_jid=CLIENT, text=f"text {cmid}", uid=uid,
        client_message_id=cmid, now=at,
    ).request_id  # fmt: skip


def claim(store: Any, rid: str, at: datetime = T0, **kw: Any) -> items.ClaimOutcome:
    args: dict[str, Any] = {
        "instance_id": "w1", "now": at, "lease_s": 30, "max_attempts": 2,
        "verdict": items.ACCOUNT_OK, "backoff_s": 5,
    }  # fmt: skip
    args.update(kw)
    return items.claim(store, rid, **args)


def doc(store: Any, path: str) -> dict[str, Any]:
    snap = store.get(path)
    assert snap is not None, path
    return dict(snap.data)


def test_enqueue_duplicate_and_owner(store: Any) -> None:
    rid = enqueue(store, "c1")
    again = enqueue_send(
        store, thread_id=TID, account_id=ACC, to_jid=CLIENT, text="other", uid="u1",
        client_message_id="c1",
    )  # fmt: skip
    assert again.duplicate and again.request_id == rid
    assert doc(store, f"outbox/{rid}")["status"] == "queued"
    msg = doc(store, f"threads/{TID}/messages/{rid}")
    assert isinstance(msg["tsClient"], datetime) and msg["body"] == "text c1"
    assert doc(store, f"threads/{TID}")["ownerUid"] == "u1"


def test_claim_send_record_and_early_receipt(store: Any) -> None:
    rid = enqueue(store, "c1")
    apply_receipts(store, ReceiptReceived(ACC, ("WA1",), CLIENT, "delivered", T0))
    outcome = claim(store, rid)
    assert isinstance(outcome, items.Claimed)
    assert isinstance(claim(store, rid), items.Skipped)  # a second claim loses
    assert doc(store, f"outbox/{rid}")["sendStartedAt"] is not None
    items.record_sent(store, rid, outcome.attempt_id, SendResult("WA1", T0), now=T0)
    item = doc(store, f"outbox/{rid}")
    assert (item["status"], item["providerMessageId"]) == ("sent", "WA1")
    msg = doc(store, f"threads/{TID}/messages/{rid}")
    assert (msg["status"], msg["waMessageId"]) == ("delivered", "WA1")
    apply_receipts(store, ReceiptReceived(ACC, ("WA1",), CLIENT, "read", T0))
    apply_receipts(store, ReceiptReceived(ACC, ("WA1",), CLIENT, "delivered", T0))
    assert doc(store, f"threads/{TID}/messages/{rid}")["status"] == "read"
    assert doc(store, f"threads/{TID}")["lastMessageStatus"] == "read"


def test_thread_order_requeue_and_last_attempt(store: Any) -> None:
    first = enqueue(store, "c1", T0)
    second = enqueue(store, "c2", T0 + timedelta(seconds=1))
    soon = T0 + timedelta(seconds=2)
    blocked = claim(store, second, soon)
    assert isinstance(blocked, items.Skipped) and blocked.reason == "blocked"
    one = claim(store, first)
    assert isinstance(one, items.Claimed)
    failed = items.requeue_after_error(
        store, first, one.attempt_id, "TransportError: boom", now=T0, retryable=True,
        max_attempts=2, backoff_s=5,
    )  # fmt: skip
    assert not failed
    item = doc(store, f"outbox/{first}")
    assert (item["status"], item["attemptCount"], item["lastError"]) == (
        "queued", 1, "TransportError: boom",
    )  # fmt: skip
    behind = claim(store, second, soon)
    assert isinstance(behind, items.Skipped) and behind.reason == "blocked"  # behind the retry
    later = T0 + timedelta(seconds=10)
    two = claim(store, first, later)
    assert isinstance(two, items.Claimed) and two.attempt == 2
    assert items.requeue_after_error(
        store, first, two.attempt_id, "TransportError: boom", now=later, retryable=True,
        max_attempts=2, backoff_s=5,
    )  # fmt: skip
    assert doc(store, f"outbox/{first}")["status"] == "failed"
    assert doc(store, f"threads/{TID}/messages/{first}")["status"] == "failed"
    assert isinstance(claim(store, second, later), items.Claimed)  # failed no longer blocks


def test_account_verdicts(store: Any) -> None:
    rid = enqueue(store, "c1")
    gone = claim(store, rid, verdict=items.AccountVerdict("fail", "unknown account acc1"))
    assert isinstance(gone, items.Failed)
    assert doc(store, f"outbox/{rid}")["lastError"] == "unknown account acc1"
    rid2 = enqueue(store, "c2")
    later = claim(store, rid2, verdict=items.AccountVerdict("defer", "not connected"))
    assert isinstance(later, items.Deferred) and not later.failed
    assert doc(store, f"outbox/{rid2}")["nextAttemptAt"] == T0 + timedelta(seconds=5)


def test_expired_claim_is_failed_never_requeued(store: Any) -> None:
    rid = enqueue(store, "c1")
    assert isinstance(claim(store, rid), items.Claimed)
    after = T0 + timedelta(seconds=31)
    stuck = items.expired_claims(store, now=after, instance_id="w2", in_flight=set())
    assert [s.id for s in stuck] == [rid]
    assert items.resolve_expired(store, rid, now=after, instance_id="w2", in_flight=set()) == (
        "failed"
    )
    item = doc(store, f"outbox/{rid}")
    assert (item["status"], item["lastError"]) == ("failed", items.UNKNOWN_STATE_ERROR)


async def test_worker_sends_through_the_change_stream(store: Any, tmp_path: Path) -> None:
    transport = SimulatedTransport(qr_interval=3600)

    def sink(event: TransportEvent) -> None:
        if isinstance(event, ReceiptReceived):
            apply_receipts(store, event)

    await transport.start_session(ACC, tmp_path / "acc1.db", sink)
    transport.pair(ACC, "+40700000001")
    config = OutboxConfig.unpaced(poll_interval_s=30)  # only the change stream can wake it
    worker = OutboxWorker(store, transport, instance_id="w1", config=config)
    await worker.start()
    try:
        await asyncio.sleep(0.2)
        rids = [enqueue(store, f"c{n}", datetime.now(UTC)) for n in range(3)]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if all(doc(store, f"outbox/{r}")["status"] == "sent" for r in rids):
                break
            await asyncio.sleep(0.05)
        assert [doc(store, f"outbox/{r}")["status"] for r in rids] == ["sent"] * 3
        assert [m.text for m in transport.received_by("+40722123456")] == [
            "text c0", "text c1", "text c2",
        ]  # fmt: skip
    finally:
        await worker.stop()
        await transport.close()
