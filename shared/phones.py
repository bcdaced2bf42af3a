"""Phone numbers to E.164 with ``phonenumbers`` (Romania is the default region).

Accepted: Romanian national (``0722 123 456``), ``0040…``, ``40…`` without a plus, ``+40 …`` with
any punctuation, and foreign numbers written with ``+`` or ``00``. A number must be valid for
its country, or have a possible length and sit in a numbering block the metadata knows (see
:func:`_in_known_block`); anything else returns None: callers treat None as "no phone", never
as an error.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TypeGuard

import phonenumbers

__all__ = ["digits_only", "is_valid_e164", "to_e164", "to_e164_lenient"]

# Longer than any real number with its formatting; bounds the work done on hostile input.
_MAX_INPUT_LEN = 64
_E164_RE = re.compile(r"^\+[1-9]\d{6,14}$")
# Letters are allowed only as a "tel:" prefix or an extension marker; anything else is junk
# (phonenumbers would otherwise read "1-800-FLOWERS" style keypad letters as digits).
_TEL_PREFIX_RE = re.compile(r"^tel:\s*", re.IGNORECASE)
_EXTENSION_RE = re.compile(r"\s*(ext\.?|x|int\.?)\s*\d{1,6}$", re.IGNORECASE)


def _has_stray_letters(text: str) -> bool:
    core = _EXTENSION_RE.sub("", _TEL_PREFIX_RE.sub("", text))
    return any(ch.isalpha() for ch in core)


def digits_only(raw: str) -> str:
    """Only the ASCII digits of ``raw``."""
    return "".join(ch for ch in raw if "0" <= ch <= "9")


def _parse(raw: object, default_region: str) -> phonenumbers.PhoneNumber | None:
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        return None
    text = str(raw).strip()
    if not text or len(text) > _MAX_INPUT_LEN or _has_stray_letters(text):
        return None
    if len(digits_only(text)) < 6:
        return None
    try:
        return phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        return None


def _candidates(raw: object, default_region: str) -> list[phonenumbers.PhoneNumber]:
    """The national reading first, then (for bare digits) the international one.

    A bare ``447911123456`` is not a Romanian number, but it is how WhatsApp writes a UK one.
    """
    parsed = _parse(raw, default_region)
    found = [parsed] if parsed is not None else []
    text = str(raw).strip() if isinstance(raw, str | int) and not isinstance(raw, bool) else ""
    if text and text[0] not in "+0" and text.isdigit():
        as_intl = _parse("+" + text, default_region)
        if as_intl is not None:
            found.append(as_intl)
    return found


def _format(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _in_known_block(number: phonenumbers.PhoneNumber) -> bool:
    """A possible number whose block (first two national digits) has valid numbers nearby.

    ``phonenumbers`` marks sub-ranges it has no allocation data for as invalid (Romanian
    ``0789 …`` today), yet operators hand them out; refusing a real client's number would split
    or lose their history. Varying the third digit finds whether the block is a real one
    (``078x`` is mobile) while ``0123 …`` or ``0612 …`` stay junk.
    """
    reason = phonenumbers.is_possible_number_with_reason(number)
    national = str(number.national_number)
    if reason != phonenumbers.ValidationResult.IS_POSSIBLE or len(national) < 6:
        return False
    for digit in "0123456789":
        variant = phonenumbers.PhoneNumber(
            country_code=number.country_code,
            national_number=int(national[:2] + digit + national[3:]),
        )
        if phonenumbers.is_valid_number(variant):
            return True
    return False


def _cacheable(raw: object) -> TypeGuard[str | int]:
    return isinstance(raw, str | int) and not isinstance(raw, bool)


# The same few thousand client numbers come back on every message; parsing costs ~50 µs.
@lru_cache(maxsize=8192)
def _strict_cached(raw: str | int, default_region: str) -> str | None:
    candidates = _candidates(raw, default_region)
    for number in candidates:
        if phonenumbers.is_valid_number(number):
            return _format(number)
    for number in candidates:
        if _in_known_block(number):
            return _format(number)
    return None


@lru_cache(maxsize=8192)
def _lenient_cached(raw: str | int, default_region: str) -> str | None:
    strict = _strict_cached(raw, default_region)
    if strict is not None:
        return strict
    for number in _candidates(raw, default_region):
        if phonenumbers.is_possible_number(number):
            return _format(number)
    return None


def to_e164(raw: object, default_region: str = "RO") -> str | None:
    """E.164 (``+40722123456``) for a real number, else None (junk, too short, no such range)."""
    if not _cacheable(raw) or not isinstance(default_region, str):
        return None
    return _strict_cached(raw, default_region)


def to_e164_lenient(raw: object, default_region: str = "RO") -> str | None:
    """Like :func:`to_e164`, but accepts numbers that are only *possible* for their country.

    For numbers WhatsApp itself vouches for (a JID's user part): the metadata of ``phonenumbers``
    can lag behind newly opened ranges, and refusing a real client's number would lose a thread.
    """
    if not _cacheable(raw) or not isinstance(default_region, str):
        return None
    return _lenient_cached(raw, default_region)


def is_valid_e164(value: object) -> bool:
    """True when ``value`` is already a canonical, valid E.164 string."""
    return isinstance(value, str) and bool(_E164_RE.fullmatch(value)) and to_e164(value) == value
