"""Receipts move outbound statuses forward only, in any order, with duplicates."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from session_daemon.outbox import items
from session_daemon.receipts import apply_receipts
from session_daemon.transport.port import ReceiptReceived, ReceiptStatus, SendResult
from shared.ids import thread_id
from shared.outbox import enqueue_send
from shared.store.sqlite import SqliteStore

ACC = "acc1"
CLIENT = "40722123456@s.whatsapp.net"
TID = thread_id(ACC, CLIENT)
T0 = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "store.db")
    s.create(f"threads/{TID}", {"accountId": ACC, "clientJid": CLIENT})
    yield s
    s.close()


def receipt(wa_ids: list[str], status: ReceiptStatus, seconds: int = 0) -> ReceiptReceived:
    return ReceiptReceived(ACC, tuple(wa_ids), CLIENT, status, T0 + timedelta(seconds=seconds))


def sent_message(store: SqliteStore, wa_id: str, cmid: str = "c1") -> str:
    """An app message taken through claim and record, as the worker does."""
    result = enqueue_send(
        store, thread_id=TID, account_id=ACC, to_jid=CLIENT, text="hi", uid="u",
        client_message_id=cmid, now=T0,
    )  # fmt: skip
    claimed = items.claim(
        store, result.request_id, instance_id="w", now=T0, lease_s=30, max_attempts=3,
        verdict=items.ACCOUNT_OK, backoff_s=1,
    )  # fmt: skip
    assert isinstance(claimed, items.Claimed)
    items.record_sent(store, result.request_id, claimed.attempt_id, SendResult(wa_id, T0), now=T0)
    return result.request_id


def message(store: SqliteStore, doc_id: str) -> dict[str, object]:
    snap = store.get(f"threads/{TID}/messages/{doc_id}")
    assert snap is not None
    return snap.data


ORDERS = list(itertools.permutations(["delivered", "read", "played", "delivered"]))


@pytest.mark.parametrize("order", ORDERS[:: max(1, len(ORDERS) // 8)])
def test_any_order_with_duplicates_ends_read(store: SqliteStore, order: tuple[str, ...]) -> None:
    rid = sent_message(store, "WA1")
    for n, status in enumerate(order):
        apply_receipts(store, receipt(["WA1"], status, n))  # type: ignore[arg-type]
    msg = message(store, rid)
    assert msg["status"] == "read"
    assert msg["readAt"] is not None and msg["deliveredAt"] is not None
    thread = store.get(f"threads/{TID}")
    assert thread is not None and thread.data["lastMessageStatus"] == "read"


def test_read_before_delivered_never_moves_back(store: SqliteStore) -> None:
    rid = sent_message(store, "WA1")
    first = apply_receipts(store, receipt(["WA1"], "read"))
    assert first.updated == 1
    again = apply_receipts(store, receipt(["WA1"], "delivered", 5))
    assert again.updated == 0 and again.unchanged == 1
    assert message(store, rid)["status"] == "read"


def test_receipt_before_the_send_is_recorded_is_kept_and_applied(store: SqliteStore) -> None:
    early = apply_receipts(store, receipt(["WA9"], "delivered"))
    assert early.pending == 1
    rid = sent_message(store, "WA9")
    assert message(store, rid)["status"] == "delivered"
    assert message(store, rid)["waMessageId"] == "WA9"


def test_messages_typed_on_the_phone_get_receipts_too(store: SqliteStore) -> None:
    store.create(
        f"threads/{TID}/messages/PHONE1",
        {"accountId": ACC, "clientJid": CLIENT, "direction": "outbound", "status": "sent",
         "waMessageId": "PHONE1", "body": "typed on the phone", "tsClient": T0},
    )  # fmt: skip
    store.create(
        f"threads/{TID}/messages/IN1",
        {"accountId": ACC, "clientJid": CLIENT, "direction": "inbound", "status": "delivered",
         "waMessageId": "IN1", "body": "from the client", "tsClient": T0},
    )  # fmt: skip
    out = apply_receipts(store, receipt(["PHONE1", "IN1"], "read"))
    assert (out.updated, out.unchanged) == (1, 1)
    assert message(store, "PHONE1")["status"] == "read"
    assert message(store, "IN1")["status"] == "delivered"  # inbound: not ours to change


def test_lid_chat_without_phone_falls_back_to_a_search(store: SqliteStore) -> None:
    rid = sent_message(store, "WA5")
    event = ReceiptReceived(ACC, ("WA5",), "123456789012345@lid", "delivered", T0)
    assert apply_receipts(store, event).updated == 1
    assert message(store, rid)["status"] == "delivered"


def test_failed_unknown_state_message_is_corrected_by_a_receipt(store: SqliteStore) -> None:
    rid = sent_message(store, "WA7")
    store.update(f"threads/{TID}/messages/{rid}", {"status": "failed"})
    apply_receipts(store, receipt(["WA7"], "delivered"))
    assert message(store, rid)["status"] == "delivered"
