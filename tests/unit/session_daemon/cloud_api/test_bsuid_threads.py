"""BSUID threads on a real SQLite store: stored once, merged once, nothing deleted."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from session_daemon.cloud_api.bsuid_threads import merge_bsuid_thread, store_bsuid_messages
from session_daemon.cloud_api.identity import ClientRef, client_thread_id
from session_daemon.cloud_api.last_inbound import last_inbound_at
from session_daemon.cloud_api.model import CloudMessage
from session_daemon.inbound.convert import thread_path
from shared import paths
from shared.store.port import query
from shared.store.sqlite import SqliteStore

ACC = "wa_40722000009"
BSUID = "RO.13491208655302741918"
PN = "40733111222@s.whatsapp.net"
NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)


def msg(wamid: str, ts: int, text: str, *, outbound: bool = False) -> CloudMessage:
    client = ClientRef(None, BSUID, profile_name="Ana", username="@ana")
    return CloudMessage(
        wamid,
        "1",
        "2",
        client,
        "outbound" if outbound else "inbound",
        "live",
        ts * 1000,
        "text",
        text=text,
    )


def messages(store: SqliteStore, tid: str) -> list[str]:
    snaps = store.query(query(paths.messages_collection(tid), order_by=["tsClientMs"]))
    return [s.data["waMessageId"] for s in snaps]


def test_store_merge_and_repeat(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    alias = client_thread_id(ACC, f"{BSUID}@bsuid")
    phone = client_thread_id(ACC, PN)
    batch = [msg("wamid.1", 100, "Bună"), msg("wamid.2", 200, "Pe 14?"), msg("wamid.1", 100, "B")]
    assert store_bsuid_messages(store, ACC, batch, NOW) == 2
    assert store_bsuid_messages(store, ACC, batch, NOW) == 0  # Meta's retry
    assert messages(store, alias) == ["wamid.1", "wamid.2"]
    first = merge_bsuid_thread(store, ACC, BSUID, PN, NOW)
    assert (first.merged, first.copied) == (True, 2)
    again = merge_bsuid_thread(store, ACC, BSUID, PN, NOW)
    assert (again.merged, again.copied) == (False, 0)
    assert messages(store, phone) == ["wamid.1", "wamid.2"]
    assert messages(store, alias) == ["wamid.1", "wamid.2"]  # kept
    thread = store.get(thread_path(phone))
    assert thread is not None and thread.data["unreadCount"] == 2
    assert thread.data["displayName"] == "Ana" and thread.data["normalizedPhone"] == "+40733111222"
    assert thread.data["lastMessageText"] == "Pe 14?"
    store.close()


def test_a_mapping_seen_first_sends_later_messages_to_the_phone_thread(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    outcome = merge_bsuid_thread(store, ACC, BSUID, PN, NOW)  # phone and BSUID seen together
    assert (outcome.merged, outcome.copied) == (True, 0)
    alias = store.get(thread_path(client_thread_id(ACC, f"{BSUID}@bsuid")))
    # a bare alias: hidden, and without lastMessageAt never in the app's thread list
    assert alias is not None and alias.data["hidden"] and "lastMessageAt" not in alias.data
    assert store_bsuid_messages(store, ACC, [msg("wamid.9", 300, "Salut")], NOW) == 1
    assert messages(store, client_thread_id(ACC, PN)) == ["wamid.9"]
    store.close()


def test_last_inbound_is_the_window_start_and_follows_a_merge(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    assert last_inbound_at(store, ACC, PN) is None
    store_bsuid_messages(
        store, ACC, [msg("wamid.1", 100, "Bună"), msg("wamid.2", 200, "Noi", outbound=True)], NOW
    )
    assert last_inbound_at(store, ACC, f"{BSUID}@bsuid") == datetime.fromtimestamp(100, UTC)
    merge_bsuid_thread(store, ACC, BSUID, PN, NOW)
    assert last_inbound_at(store, ACC, PN) == datetime.fromtimestamp(100, UTC)
    # through the alias too, and only inbound messages count
    assert last_inbound_at(store, ACC, f"{BSUID}@bsuid") == datetime.fromtimestamp(100, UTC)
    assert last_inbound_at(store, ACC, PN, scan=1) is None  # the newest is ours
    store.close()


def test_a_changed_bsuid_and_then_a_phone_make_one_chain(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    store_bsuid_messages(store, ACC, [msg("wamid.1", 100, "Bună")], NOW)
    # user_changed_user_id: the old BSUID's thread follows the new BSUID
    merge_bsuid_thread(store, ACC, BSUID, "RO.77@bsuid", NOW)
    newer = ClientRef(None, "RO.77", profile_name="Ana")
    later = CloudMessage("wamid.2", "1", "2", newer, "inbound", "live", 200_000, "text", text="Eu")
    store_bsuid_messages(store, ACC, [later], NOW)
    new_tid = client_thread_id(ACC, "RO.77@bsuid")
    assert messages(store, new_tid) == ["wamid.1", "wamid.2"]
    # then the phone appears for the new BSUID; a message to the oldest id follows the chain
    merge_bsuid_thread(store, ACC, "RO.77", PN, NOW)
    store_bsuid_messages(store, ACC, [msg("wamid.3", 300, "Tot eu")], NOW)
    assert messages(store, client_thread_id(ACC, PN)) == ["wamid.1", "wamid.2", "wamid.3"]
    store.close()
