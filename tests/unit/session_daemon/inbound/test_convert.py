"""Pure conversion: wire messages → journal records → documents and thread patches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from session_daemon.inbound.convert import (
    InboundRecord,
    message_doc_id,
    message_document,
    record_from_wire,
    thread_patch,
)
from session_daemon.media.fields import REASON_TEXT
from session_daemon.transport.port import Media, WireMessage
from shared.store.sentinels import Increment

ACC = "acc1"
JID = "40733111222@s.whatsapp.net"
T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def wire(**kw: object) -> WireMessage:
    base: dict[str, object] = {
        "id": "3EB0AAAA",
        "chat_jid": JID,
        "sender_jid": JID,
        "from_me": False,
        "timestamp": T0,
        "text": "Bună",
    }
    base.update(kw)
    return WireMessage(**base)  # type: ignore[arg-type]


def record(**kw: object) -> InboundRecord:
    result = record_from_wire(ACC, wire(**kw), source="live", received_ms=1)
    assert isinstance(result, InboundRecord)
    return result


def test_skips_chats_that_are_not_clients() -> None:
    # groups are mirrored since issue 12 (tests/unit/session_daemon/inbound/test_kinds.py)
    cases = {
        "status@broadcast": "status",
        "123456@broadcast": "broadcast",
        "120363000000000002@newsletter": "newsletter",
        "garbage": "invalid",
    }
    for chat, reason in cases.items():
        assert record_from_wire(ACC, wire(chat_jid=chat), source="live", received_ms=0) == reason
    assert record_from_wire(ACC, wire(is_group=True), source="live", received_ms=0) == "group"
    assert record_from_wire(ACC, wire(message_type="reaction"), source="live", received_ms=0) == (
        "reaction"
    )
    assert record_from_wire(ACC, wire(text=""), source="live", received_ms=0) == "empty"


def test_device_suffix_is_stripped_and_lid_alt_is_kept() -> None:
    assert record(chat_jid="40733111222:12@s.whatsapp.net").addr_jid == JID
    lid = record(chat_jid="987:3@lid", chat_pn_jid="40733111222:3@s.whatsapp.net")
    assert (lid.addr_jid, lid.pn_jid) == ("987@lid", JID)
    assert record(chat_jid="987@lid", sender_pn_jid=JID).pn_jid == JID
    assert record(chat_jid="987@lid").pn_jid is None


def test_push_names_from_history_fill_in_missing_names_but_not_for_own_messages() -> None:
    names = {JID: "Ion"}
    got = record_from_wire(ACC, wire(), source="history", received_ms=0, push_names=names)
    assert isinstance(got, InboundRecord) and got.push_name == "Ion"
    mine = record_from_wire(
        ACC, wire(from_me=True), source="history", received_ms=0, push_names=names
    )
    assert isinstance(mine, InboundRecord) and mine.push_name is None


def test_message_document_fields_and_units() -> None:
    ts = T0 + timedelta(milliseconds=1234)
    media = Media(type="image", mimetype="image/jpeg")
    doc = message_document(record(timestamp=ts, text="", media=media, message_type="image"), JID)
    assert doc["tsClient"] == ts and doc["tsClientMs"] == int(ts.timestamp() * 1000)
    assert doc["createdAt"] == ts and doc["createdAtMs"] == doc["tsClientMs"]
    assert doc["media"] == {"type": "image", "url": None, "mimetype": "image/jpeg",
                            "filename": None, "thumbBase64": None, "sizeBytes": None,
                            "sha256": None, "attempts": 0, "status": "failed",
                            "reason": "no_download_info",
                            "reasonText": REASON_TEXT["no_download_info"]}  # fmt: skip
    assert doc["body"] == "" and doc["messageType"] == "image"
    out = message_document(record(from_me=True), JID)
    assert out["direction"] == "outbound" and out["status"] == "sent"


def test_new_thread_patch() -> None:
    patch = thread_patch(None, ACC, JID, [record(push_name="Ion Pop", text="x" * 150)], NOW)
    assert patch is not None
    assert patch["accountId"] == ACC and patch["clientJid"] == JID
    assert patch["normalizedPhone"] == patch["phoneE164"] == "+40733111222"
    assert patch["displayName"] == "Ion Pop"
    assert patch["lastMessageAt"] == T0 and len(patch["lastMessagePreview"]) == 100
    assert patch["unreadCount"] == Increment(1)
    assert patch["createdAt"] == patch["updatedAt"] == NOW


def test_media_without_caption_gets_a_placeholder_summary() -> None:
    media = Media(type="audio")
    patch = thread_patch(None, ACC, JID, [record(text="", media=media, message_type="audio")], NOW)
    assert patch is not None and patch["lastMessageText"] == "[Audio]"


def test_summary_only_moves_forward() -> None:
    existing = {
        "accountId": ACC,
        "clientJid": JID,
        "normalizedPhone": "+40733111222",
        "displayName": "Ion",
        "lastMessageAtMs": int(T0.timestamp() * 1000) + 1,
    }
    old = record_from_wire(ACC, wire(), source="history", received_ms=0)
    assert isinstance(old, InboundRecord)
    assert thread_patch(existing, ACC, JID, [old], NOW) is None  # nothing to change: no write


@given(st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=20))
def test_summary_is_the_newest_message_in_any_order(offsets: list[int]) -> None:
    records = [
        record(id=f"M{i}", timestamp=T0 + timedelta(seconds=o)) for i, o in enumerate(offsets)
    ]
    patch = thread_patch(None, ACC, JID, records, NOW)
    assert patch is not None
    assert patch["lastMessageAt"] == T0 + timedelta(seconds=max(offsets))


@given(st.text(min_size=1, max_size=200))
def test_doc_ids_are_safe_and_stable(wa_id: str) -> None:
    doc_id = message_doc_id(wa_id)
    assert doc_id == message_doc_id(wa_id)
    assert "/" not in doc_id and doc_id not in (".", "..") and 0 < len(doc_id) <= 128
    assert not (doc_id.startswith("__") and doc_id.endswith("__"))


def test_journal_record_round_trips() -> None:
    rec = record(media=Media(type="document", filename="oferta.pdf"), message_type="document")
    assert InboundRecord.from_json(rec.to_json()) == rec


def test_broken_utf16_text_is_repaired_not_fatal() -> None:
    got = record(text="ab\ud800cd", push_name="Io\udfffn")
    assert got.text == "ab\ufffdcd" and got.push_name == "Io\ufffdn"
    got.text.encode("utf-8")  # what SQLite and Firestore need


def test_a_summary_with_only_a_timestamp_is_respected() -> None:
    existing = {"accountId": ACC, "clientJid": JID, "normalizedPhone": "+40733111222",
                "displayName": "Ion", "lastMessageAt": T0 + timedelta(days=1)}  # fmt: skip
    patch = thread_patch(existing, ACC, JID, [record()], NOW)  # older, but live: unread only
    assert patch is not None and not any(k.startswith("lastMessage") for k in patch)
    assert patch["unreadCount"] == Increment(1)
