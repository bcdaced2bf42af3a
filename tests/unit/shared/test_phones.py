"""shared.phones: every common spelling of a number → E.164, junk → None."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.phones import digits_only, is_valid_e164, to_e164, to_e164_lenient

VALID: list[tuple[object, str]] = [
    # Romanian mobile, national and international spellings
    ("0722 123 456", "+40722123456"),
    ("0722123456", "+40722123456"),
    ("0722-123-456", "+40722123456"),
    ("0722.123.456", "+40722123456"),
    ("(0722) 123 456", "+40722123456"),
    ("0040722123456", "+40722123456"),
    ("0040 722 123 456", "+40722123456"),
    ("40722123456", "+40722123456"),
    ("+40722123456", "+40722123456"),
    ("+40 722-123-456", "+40722123456"),
    ("+40 (0) 722 123 456", "+40722123456"),
    ("  +40 722 123 456  ", "+40722123456"),
    ("722123456", "+40722123456"),
    ("tel:+40722123456", "+40722123456"),
    ("0722 123 456 ext 12", "+40722123456"),
    (40722123456, "+40722123456"),
    ("0732840171", "+40732840171"),
    ("0764 998 139", "+40764998139"),
    ("0773822474", "+40773822474"),
    # Romanian mobile blocks the phonenumbers metadata has no allocation for yet (real clients)
    ("0789 619 835", "+40789619835"),
    ("+40781632112", "+40781632112"),
    ("40789714753", "+40789714753"),
    # Romanian landlines and special numbers
    ("021 312 3456", "+40213123456"),
    ("+40 21 312 3456", "+40213123456"),
    ("0264 123 456", "+40264123456"),
    ("0800 800 800", "+40800800800"),
    # Foreign numbers
    ("+447911123456", "+447911123456"),
    ("447911123456", "+447911123456"),
    ("0044 7911 123456", "+447911123456"),
    ("+1 650 253 0000", "+16502530000"),
    ("+49 176 12345678", "+4917612345678"),
    ("+33 6 12 34 56 78", "+33612345678"),
    ("+39 312 345 6789", "+393123456789"),
    ("+373 69 123 456", "+37369123456"),
]

JUNK: list[object] = [
    None,
    "",
    "   ",
    "abc",
    "0722",
    "123",
    "07221234567",  # one digit too many
    "072212345",  # one digit too few
    "+4072212345",
    "+40 722 123 456 Ion",
    "1-800-FLOWERS",
    "12345678901234567890",
    "+999 123 456 789",
    "0000000000",
    "0123456789",  # no Romanian numbers start 01
    "0612345678",
    "0912345678",
    "+40 100 000 000",
    "0299 999 999",
    "40722123456@s.whatsapp.net",
    "x" * 500,
    "0" * 200,
    True,
    False,
    3.14,
    ["0722123456"],
    {"phone": "0722123456"},
]


@pytest.mark.parametrize(("raw", "expected"), VALID)
def test_valid_numbers_become_e164(raw: object, expected: str) -> None:
    assert to_e164(raw) == expected
    assert to_e164_lenient(raw) == expected


@pytest.mark.parametrize("raw", JUNK)
def test_junk_is_none(raw: object) -> None:
    assert to_e164(raw) is None


def test_default_region_is_used_for_national_numbers() -> None:
    assert to_e164("07911 123456", default_region="GB") == "+447911123456"
    assert to_e164("07911 123456") is None  # not a Romanian number


def test_lenient_accepts_possible_but_unassigned_numbers() -> None:
    # +40 7xx with a possible length but outside the assigned ranges the metadata knows.
    number = "+40" + "79" + "1234567"
    parsed = phonenumbers.parse(number)
    assert phonenumbers.is_possible_number(parsed)
    if not phonenumbers.is_valid_number(parsed):
        assert to_e164(number) is None
        assert to_e164_lenient(number) == number


def test_is_valid_e164() -> None:
    assert is_valid_e164("+40722123456")
    assert not is_valid_e164("0722123456")
    assert not is_valid_e164("+40 722 123 456")
    assert not is_valid_e164(40722123456)


def test_digits_only() -> None:
    assert digits_only("+40 (722) 123-456") == "40722123456"


@given(st.integers(min_value=700_000_000, max_value=799_999_999))
def test_every_romanian_mobile_round_trips(national: int) -> None:
    e164 = to_e164(f"0{national}")
    if e164 is not None:  # some 07x ranges are unassigned
        assert e164 == f"+40{national}"
        assert to_e164(e164) == e164
        assert to_e164(f"0040{national}") == e164
        assert to_e164(f"40{national}") == e164


@given(st.text(max_size=40))
def test_never_raises_and_output_is_canonical(raw: str) -> None:
    result = to_e164(raw)
    assert result is None or (result.startswith("+") and result[1:].isdigit())
    if result is not None:
        assert to_e164(result) == result
