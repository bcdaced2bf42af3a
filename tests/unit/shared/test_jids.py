"""shared.jids: parse, format, strip devices, phone ↔ JID."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.jids import (
    STATUS_BROADCAST,
    Jid,
    chat_jid,
    is_phone_jid,
    jid_to_e164,
    normalize_jid,
    parse_jid,
    phone_jid,
)

# raw, normalized (device stripped), kind, E.164 of a phone JID
CASES: list[tuple[str, str, str, str | None]] = [
    ("40722123456@s.whatsapp.net", "40722123456@s.whatsapp.net", "phone", "+40722123456"),
    ("40722123456:12@s.whatsapp.net", "40722123456@s.whatsapp.net", "phone", "+40722123456"),
    ("40722123456:0@s.whatsapp.net", "40722123456@s.whatsapp.net", "phone", "+40722123456"),
    ("40722123456.0:1@s.whatsapp.net", "40722123456@s.whatsapp.net", "phone", "+40722123456"),
    ("40722123456.1:2@s.whatsapp.net", "40722123456@s.whatsapp.net", "phone", "+40722123456"),
    ("40722123456:2.1@s.whatsapp.net", "40722123456@s.whatsapp.net", "phone", "+40722123456"),
    ("40722123456@c.us", "40722123456@s.whatsapp.net", "phone", "+40722123456"),
    ("40722123456:99@hosted", "40722123456@s.whatsapp.net", "phone", "+40722123456"),
    ("123456789012345:99@hosted.lid", "123456789012345@lid", "lid", None),
    ("40722123456@S.WhatsApp.Net", "40722123456@s.whatsapp.net", "phone", "+40722123456"),
    (" 40722123456@s.whatsapp.net ", "40722123456@s.whatsapp.net", "phone", "+40722123456"),
    ("447911123456@s.whatsapp.net", "447911123456@s.whatsapp.net", "phone", "+447911123456"),
    ("16502530000:5@s.whatsapp.net", "16502530000@s.whatsapp.net", "phone", "+16502530000"),
    ("123456789012345@lid", "123456789012345@lid", "lid", None),
    ("123456789012345:7@lid", "123456789012345@lid", "lid", None),
    ("98765432109876.1:3@lid", "98765432109876@lid", "lid", None),
    ("120363025246125486@g.us", "120363025246125486@g.us", "group", None),
    ("40722123456-1600000000@g.us", "40722123456-1600000000@g.us", "group", None),
    ("status@broadcast", "status@broadcast", "status", None),
    ("1600000000@broadcast", "1600000000@broadcast", "broadcast", None),
    ("120363144038483540@newsletter", "120363144038483540@newsletter", "newsletter", None),
]

JUNK: list[object] = [
    None,
    "",
    "   ",
    "40722123456",
    "@s.whatsapp.net",
    "40722123456@",
    "abc@s.whatsapp.net",
    "+40722123456@s.whatsapp.net",
    "0722123456@s.whatsapp.net",
    "40722123456@example.com",
    "40722123456@s.whatsapp.net@g.us",
    "40722123456:x@s.whatsapp.net",
    "40722123456:1:2@s.whatsapp.net",
    "40722123456.a@s.whatsapp.net",
    "40722123456.1.2@s.whatsapp.net",
    "40722123456:99999@s.whatsapp.net",
    "40722123456.300:1@s.whatsapp.net",
    "120363025246125486:3@g.us",
    "friends@g.us",
    "news@newsletter",
    "s.whatsapp.net",
    "4" * 200 + "@s.whatsapp.net",
    40722123456,
    b"40722123456@s.whatsapp.net",
]


@pytest.mark.parametrize(("raw", "normalized", "kind", "e164"), CASES)
def test_parse_and_normalize(raw: str, normalized: str, kind: str, e164: str | None) -> None:
    jid = parse_jid(raw)
    assert jid is not None
    assert normalize_jid(raw) == normalized
    assert str(jid.to_non_device()) == normalized
    assert jid.is_phone == (kind == "phone")
    assert jid.is_lid == (kind == "lid")
    assert jid.is_group == (kind == "group")
    assert jid.is_broadcast == (kind in ("status", "broadcast"))
    assert jid.is_status == (kind == "status")
    assert jid.is_newsletter == (kind == "newsletter")
    assert jid_to_e164(raw) == e164
    assert is_phone_jid(raw) == (e164 is not None)


@pytest.mark.parametrize("raw", JUNK)
def test_junk_is_none(raw: object) -> None:
    assert parse_jid(raw) is None
    assert normalize_jid(raw) is None
    assert jid_to_e164(raw) is None


def test_parts_and_formatting() -> None:
    jid = parse_jid("40722123456.1:2@s.whatsapp.net")
    assert jid == Jid(user="40722123456", server="s.whatsapp.net", device=2, agent=1)
    assert str(jid) == "40722123456.1:2@s.whatsapp.net"
    assert str(Jid("40722123456", "s.whatsapp.net", device=3)) == "40722123456:3@s.whatsapp.net"
    assert str(Jid("status", "broadcast")) == STATUS_BROADCAST


@pytest.mark.parametrize(
    ("phone", "expected"),
    [
        ("+40722123456", "40722123456@s.whatsapp.net"),
        ("0722 123 456", "40722123456@s.whatsapp.net"),
        ("+447911123456", "447911123456@s.whatsapp.net"),
    ],
)
def test_phone_jid(phone: str, expected: str) -> None:
    assert phone_jid(phone) == expected
    assert jid_to_e164(expected) == phone_jid_e164(expected)


def phone_jid_e164(jid: str) -> str:
    return "+" + jid.split("@")[0]


@pytest.mark.parametrize("junk", ["", "abc", "0722", "40722123456@s.whatsapp.net"])
def test_phone_jid_rejects_junk(junk: str) -> None:
    with pytest.raises(ValueError, match="not a phone number"):
        phone_jid(junk)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("40722123456:4@s.whatsapp.net", "40722123456@s.whatsapp.net"),
        ("0722 123 456", "40722123456@s.whatsapp.net"),
        ("+40 722 123 456", "40722123456@s.whatsapp.net"),
        ("123456789012345:2@lid", "123456789012345@lid"),
        ("120363025246125486@g.us", "120363025246125486@g.us"),
        ("status@broadcast", None),
        ("120363144038483540@newsletter", None),
        ("junk", None),
        ("junk@s.whatsapp.net", None),
    ],
)
def test_chat_jid(raw: str, expected: str | None) -> None:
    assert chat_jid(raw) == expected


@given(
    user=st.from_regex(r"[1-9][0-9]{7,14}", fullmatch=True),
    device=st.integers(min_value=0, max_value=99),
    agent=st.integers(min_value=0, max_value=255),
    server=st.sampled_from(["s.whatsapp.net", "lid"]),
)
def test_format_parse_round_trip(user: str, device: int, agent: int, server: str) -> None:
    jid = Jid(user, server, device, agent)
    assert parse_jid(str(jid)) == jid
    assert normalize_jid(str(jid)) == f"{user}@{server}"


@given(st.text(max_size=60))
def test_parse_never_raises(raw: str) -> None:
    jid = parse_jid(raw)
    if jid is not None:
        assert normalize_jid(str(jid)) == str(jid.to_non_device())


def test_legacy_forms_whatsapp_keeps_still_get_a_phone() -> None:
    # Mexico's old mobile prefix "1" after 52: phonenumbers rejects it, WhatsApp still uses it.
    jid = "5215512345678@s.whatsapp.net"
    assert jid_to_e164(jid) == "+5215512345678"
    assert phone_jid("+5215512345678") == jid
    assert jid_to_e164("99912345678@s.whatsapp.net") is None  # no such country code


@given(st.from_regex(r"407[2-9][0-9]{7}", fullmatch=True))
def test_phone_jid_and_e164_round_trip(user: str) -> None:
    jid = f"{user}@s.whatsapp.net"
    e164 = jid_to_e164(jid)
    if e164 is not None:
        assert e164 == "+" + user
        assert phone_jid(e164) == jid
