"""A receipt from one chat never marks another chat's message; the cross-thread search is only
for a chat that cannot be mapped to its thread (a LID whose phone is unknown)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from session_daemon.inbound.pipeline import InboundPipeline
from session_daemon.outbox import items
from session_daemon.receipts import apply_receipts
from session_daemon.transport.port import ReceiptReceived, SendResult
from shared import paths
from shared.ids import thread_id
from shared.outbox import enqueue_send
from shared.store.sqlite import SqliteStore

ACC = "acc1"
CHAT_A = "40722123456@s.whatsapp.net"
CHAT_B = "40733999888@s.whatsapp.net"
LID_B = "987654321@lid"
TID_A = thread_id(ACC, CHAT_A)
T0 = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "store.db")
    for jid in (CHAT_A, CHAT_B):
        s.create(paths.thread_path(thread_id(ACC, jid)), {"accountId": ACC, "clientJid": jid})
    yield s
    s.close()


def sent_in_a(store: SqliteStore, wa_id: str) -> str:
    result = enqueue_send(
        store, thread_id=TID_A, account_id=ACC, to_jid=CHAT_A, text="hi", uid="u",
        client_message_id="c1", now=T0,
    )  # fmt: skip
    claimed = items.claim(
        store, result.request_id, instance_id="w", now=T0, lease_s=30, max_attempts=3,
        verdict=items.ACCOUNT_OK, backoff_s=1,
    )  # fmt: skip
    assert isinstance(claimed, items.Claimed)
    items.record_sent(store, result.request_id, claimed.attempt_id, SendResult(wa_id, T0), now=T0)
    return paths.message_path(TID_A, result.request_id)


def claimed_in_a(store: SqliteStore) -> tuple[str, str]:
    result = enqueue_send(
        store, thread_id=TID_A, account_id=ACC, to_jid=CHAT_A, text="hi", uid="u",
        client_message_id="c2", now=T0,
    )  # fmt: skip
    claimed = items.claim(
        store, result.request_id, instance_id="w", now=T0, lease_s=30, max_attempts=3,
        verdict=items.ACCOUNT_OK, backoff_s=1,
    )  # fmt: skip
    assert isinstance(claimed, items.Claimed)
    return result.request_id, claimed.attempt_id


def status(store: SqliteStore, path: str) -> object:
    snap = store.get(path)
    assert snap is not None
    return snap.data["status"]


def test_a_receipt_from_another_chat_does_not_touch_this_chat(store: SqliteStore) -> None:
    msg = sent_in_a(store, "WA1")
    outcome = apply_receipts(store, ReceiptReceived(ACC, ("WA1",), CHAT_B, "read", T0))
    assert (outcome.updated, outcome.pending) == (0, 1)  # kept for chat B, not applied to A
    assert status(store, msg) == "sent"
    outcome = apply_receipts(store, ReceiptReceived(ACC, ("WA1",), CHAT_A, "read", T0))
    assert outcome.updated == 1 and status(store, msg) == "read"


def test_an_early_receipt_from_another_chat_is_not_applied_when_the_send_is_recorded(
    store: SqliteStore,
) -> None:
    request_id, attempt = claimed_in_a(store)
    # the receipts race ahead of record_sent: one from chat B, one from chat A
    apply_receipts(store, ReceiptReceived(ACC, ("WA2",), CHAT_B, "read", T0))
    items.record_sent(store, request_id, attempt, SendResult("WA2", T0), now=T0)
    assert status(store, paths.message_path(TID_A, request_id)) == "sent"
    apply_receipts(store, ReceiptReceived(ACC, ("WA2",), CHAT_A, "delivered", T0))
    assert status(store, paths.message_path(TID_A, request_id)) == "delivered"


def test_an_early_receipt_from_its_own_chat_is_applied(store: SqliteStore) -> None:
    request_id, attempt = claimed_in_a(store)
    apply_receipts(store, ReceiptReceived(ACC, ("WA3",), CHAT_A, "read", T0))
    items.record_sent(store, request_id, attempt, SendResult("WA3", T0), now=T0)
    assert status(store, paths.message_path(TID_A, request_id)) == "read"


def test_an_unmappable_lid_chat_still_finds_its_message(store: SqliteStore) -> None:
    msg = sent_in_a(store, "WA1")
    outcome = apply_receipts(store, ReceiptReceived(ACC, ("WA1",), "555000111@lid", "read", T0))
    assert outcome.updated == 1 and status(store, msg) == "read"


async def test_the_pipeline_maps_a_lid_receipt_to_its_own_chat(
    store: SqliteStore, tmp_path: Path
) -> None:
    msg = sent_in_a(store, "WA1")
    pipeline = InboundPipeline(
        store,
        tmp_path / "journal",
        flush_interval=0.01,
        lid_resolver=lambda account, lid: CHAT_B if lid == LID_B else None,
    )
    await pipeline.start()
    try:
        pipeline.submit(ReceiptReceived(ACC, ("WA1",), LID_B, "read", T0))
        assert await pipeline.drain(5)
    finally:
        await pipeline.stop()
    assert status(store, msg) == "sent"  # chat B's receipt: never chat A's message
    assert pipeline.stats()["receiptsApplied"] == 1
