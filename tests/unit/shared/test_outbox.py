"""`shared.outbox`: validation, the thread checks and the idempotent enqueue transaction."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.ids import send_request_id, thread_id
from shared.outbox import (
    EnqueueResult,
    SendRejected,
    check_send_allowed,
    enqueue_send,
    status_rank,
    validate_send_request,
)
from shared.store.sqlite import SqliteStore

ACCOUNT = "wa_40700000001"
CLIENT = "40722123456@s.whatsapp.net"
THREAD = thread_id(ACCOUNT, CLIENT)
T0 = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "store.db")
    s.create(f"threads/{THREAD}", {"accountId": ACCOUNT, "clientJid": CLIENT})
    yield s
    s.close()


def _send(store: SqliteStore, uid: str = "u1", cmid: str = "c1", **kw: object) -> EnqueueResult:
    args: dict[str, object] = {
        "thread_id": THREAD,
        "account_id": ACCOUNT,
        "to_jid": CLIENT,
        "text": "Bună ziua!",
        "uid": uid,
        "client_message_id": cmid,
        "now": T0,
    }
    args.update(kw)
    return enqueue_send(store, **args)  # type: ignore[arg-type]


def test_enqueue_writes_outbox_message_and_thread(store: SqliteStore) -> None:
    result = _send(store)
    assert result.request_id == send_request_id(THREAD, "u1", "c1")
    assert not result.duplicate
    item = store.get(f"outbox/{result.request_id}")
    assert item is not None
    assert item.data["status"] == "queued"
    assert item.data["attemptCount"] == 0
    assert item.data["nextAttemptAt"] == T0
    assert item.data["payload"] == {"text": "Bună ziua!"}
    assert item.data["toJid"] == CLIENT
    assert item.data["createdByUid"] == "u1"
    msg = store.get(f"threads/{THREAD}/messages/{result.request_id}")
    assert msg is not None
    assert msg.data["direction"] == "outbound"
    assert msg.data["status"] == "queued"
    assert isinstance(msg.data["tsClient"], datetime)  # a Timestamp, never a string
    assert msg.data["tsClientMs"] == int(T0.timestamp() * 1000)
    assert msg.data["createdAtMs"] == msg.data["tsClientMs"]
    assert result.message_doc["body"] == "Bună ziua!"
    thread = store.get(f"threads/{THREAD}")
    assert thread is not None
    assert thread.data["ownerUid"] == "u1"
    assert thread.data["lastMessageDirection"] == "outbound"
    assert thread.data["lastMessageAt"] == T0
    assert thread.data["lastMessagePreview"] == "Bună ziua!"


def test_same_client_message_id_is_a_duplicate(store: SqliteStore) -> None:
    first = _send(store)
    again = _send(store, text="changed", now=T0 + timedelta(seconds=5))
    assert again.duplicate and again.request_id == first.request_id
    assert again.message_doc["body"] == "Bună ziua!"
    other = _send(store, cmid="c2")
    assert not other.duplicate and other.request_id != first.request_id


def test_owner_policy_and_co_writers(store: SqliteStore) -> None:
    _send(store, uid="owner")
    with pytest.raises(SendRejected) as err:
        _send(store, uid="intruder")
    assert err.value.code == "not_owner_or_cowriter" and err.value.http_status == 403
    store.update(f"threads/{THREAD}", {"coWriterUids": ["helper"]})
    assert not _send(store, uid="helper").duplicate
    # the daemon's service token skips the owner policy and never becomes the owner
    assert not _send(store, uid="service", privileged=True).duplicate
    thread = store.get(f"threads/{THREAD}")
    assert thread is not None and thread.data["ownerUid"] == "owner"


def test_thread_checks(store: SqliteStore) -> None:
    with pytest.raises(SendRejected) as err:
        _send(store, thread_id=thread_id(ACCOUNT, "40722999999@s.whatsapp.net"))
    assert err.value.code == "thread_not_found" and err.value.http_status == 404
    with pytest.raises(SendRejected) as err:
        _send(store, account_id="wa_other")
    assert err.value.code == "account_mismatch"
    with pytest.raises(SendRejected) as err:
        _send(store, to_jid="40722999999@s.whatsapp.net")
    assert err.value.code == "to_jid_mismatch"
    assert store.get(f"outbox/{send_request_id(THREAD, 'u1', 'c1')}") is None


def test_check_send_allowed_is_pure_and_tolerates_device_suffix() -> None:
    thread = {"accountId": ACCOUNT, "clientJid": CLIENT, "ownerUid": "a", "coWriterUids": ["b"]}
    to = "40722123456:3@s.whatsapp.net"

    def check(doc: Mapping[str, object] | None, uid: str, privileged: bool = False) -> str | None:
        return check_send_allowed(
            doc, account_id=ACCOUNT, to_jid=to, uid=uid, privileged=privileged
        )

    assert check(thread, "a") is None
    assert check(thread, "b") is None
    assert check(thread, "c") == "not_owner_or_cowriter"
    assert check(thread, "c", privileged=True) is None
    assert check(None, "a") == "thread_not_found"


def test_summary_never_moves_back(store: SqliteStore) -> None:
    later = T0 + timedelta(minutes=5)
    store.update(f"threads/{THREAD}", {"lastMessageAt": later, "lastMessageText": "newer"})
    _send(store)
    thread = store.get(f"threads/{THREAD}")
    assert thread is not None and thread.data["lastMessageText"] == "newer"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {
            "threadId": THREAD,
            "accountId": ACCOUNT,
            "toJid": CLIENT,
            "text": "",
            "clientMessageId": "x",
        },
        {
            "threadId": THREAD,
            "accountId": ACCOUNT,
            "toJid": CLIENT,
            "text": 5,
            "clientMessageId": "x",
        },
        {
            "threadId": "a/b",
            "accountId": ACCOUNT,
            "toJid": CLIENT,
            "text": "t",
            "clientMessageId": "x",
        },
        {"threadId": THREAD, "accountId": ACCOUNT, "toJid": CLIENT, "text": "t"},
    ],
)
def test_validate_rejects_bad_bodies(body: dict[str, object]) -> None:
    with pytest.raises(SendRejected) as err:
        validate_send_request(body)
    assert err.value.code == "invalid_request" and err.value.http_status == 400


def test_status_rank_orders_forward() -> None:
    order = ["failed", "queued", "sent", "delivered", "read"]
    assert [status_rank(s) for s in order] == sorted(status_rank(s) for s in order)
    assert status_rank("played") == status_rank("read")
