"""A receipt that beat the send's record is applied by the record with everything a receipt
sets: the status and, once, `deliveredAt`/`readAt` (and `...Ms`) at the receipt's own time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from session_daemon.receipts import apply_receipts
from shared.store.sqlite import SqliteStore
from shared.timeutil import to_ms
from tests.integration.session_daemon.outbox import test_backends as test_outbox_backends
from tests.unit.session_daemon import test_receipts as base
from tests.unit.session_daemon.test_receipts import T0, TID, message, receipt, sent_message

store = base.store  # a real SqliteStore with the thread
both_stores = test_outbox_backends.store  # SQLite and the Firestore emulator, same thread


@pytest.mark.parametrize("status", ["delivered", "read", "played"])
def test_early_receipt_sets_its_times_when_the_record_applies_it(
    store: SqliteStore, status: str
) -> None:
    early = apply_receipts(store, receipt(["WA9"], status, seconds=3))  # type: ignore[arg-type]
    assert early.pending == 1
    rid = sent_message(store, "WA9")
    msg = message(store, rid)
    expected = "read" if status == "played" else status
    assert msg["status"] == expected
    at = T0 + timedelta(seconds=3)
    assert msg["deliveredAt"] == at and msg["deliveredAtMs"] == to_ms(at)
    if expected == "read":
        assert msg["readAt"] == at and msg["readAtMs"] == to_ms(at)
    else:
        assert msg.get("readAt") is None
    thread = store.get(f"threads/{TID}")
    assert thread is not None and thread.data["lastMessageStatus"] == expected
    # the same receipt delivered again changes nothing
    assert apply_receipts(store, receipt(["WA9"], status, seconds=9)).updated == 0  # type: ignore[arg-type]
    assert message(store, rid)["deliveredAt"] == at


def test_early_read_receipt_times_on_both_stores(both_stores: Any) -> None:
    """The same on the Firestore emulator (timestamps read back as Firestore's own type)."""
    early = apply_receipts(both_stores, receipt(["WA3"], "read", seconds=4))
    assert early.pending == 1
    rid = sent_message(both_stores, "WA3")
    snap = both_stores.get(f"threads/{TID}/messages/{rid}")
    assert snap is not None
    at = T0 + timedelta(seconds=4)
    assert snap.data["status"] == "read"
    assert snap.data["deliveredAt"] == at and snap.data["readAt"] == at
    assert snap.data["readAtMs"] == to_ms(at)


def test_early_delivered_then_read_keep_each_their_own_time(store: SqliteStore) -> None:
    apply_receipts(store, receipt(["WA5"], "delivered", seconds=2))
    apply_receipts(store, receipt(["WA5"], "read", seconds=7))
    apply_receipts(store, receipt(["WA5"], "delivered", seconds=9))
    rid = sent_message(store, "WA5")
    msg = message(store, rid)
    assert msg["status"] == "read"
    assert msg["deliveredAt"] == T0 + timedelta(seconds=2)
    assert msg["readAt"] == T0 + timedelta(seconds=7)
