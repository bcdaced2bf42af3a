"""Value parsing for event documents: folded text, numbers and counts, dates and times,
timestamps, booleans, short ids, and field renaming. Pure helpers the other event modules share."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any, Final

from shared.events.vocabulary import LOCAL_TZ
from shared.timeutil import ensure_utc, from_ms, parse_iso


def fold(text: str) -> str:
    """Lowercase, without diacritics (ș/ş, ț/ţ, ă, â, î …), punctuation as spaces, one space."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    cleaned = re.sub(r"[^0-9a-z]+", " ", bare.lower())
    return cleaned.strip()


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_NUMBER_TOKEN_RE = re.compile(r"\d[\d.,\s]*")


def _clean_number_token(token: str) -> float | None:
    token = re.sub(r"\s+", "", token).rstrip(".,")
    if "." in token and "," in token:
        decimal_sep = "." if token.rfind(".") > token.rfind(",") else ","
        thousands = "," if decimal_sep == "." else "."
        token = token.replace(thousands, "").replace(decimal_sep, ".")
    elif "." in token or "," in token:
        sep = "." if "." in token else ","
        if re.fullmatch(rf"\d{{1,3}}(\{sep}\d{{3}})+", token):
            token = token.replace(sep, "")  # 1.200 / 1,200: thousands
        elif token.count(sep) == 1:
            token = token.replace(sep, ".")  # 12,5 / 12.5: decimal
        else:
            return None
    try:
        return float(token)
    except (ValueError, OverflowError):
        return None


def parse_number(value: object) -> int | float | None:
    """A non-negative amount or count from a number or text (``"1.200 RON"``, ``"12,5"``)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:  # an int beyond any float: not an amount
            return None
    elif isinstance(value, str):
        text = value.strip()
        if not text or text.startswith("-"):
            return None
        match = _NUMBER_TOKEN_RE.search(text)
        if match is None:
            return None
        cleaned = _clean_number_token(match.group(0))
        if cleaned is None:
            return None
        number = cleaned
    else:
        return None
    if number != number or number in (float("inf"), float("-inf")) or number < 0:
        return None
    return int(number) if number.is_integer() else number


def parse_count(value: object) -> int | None:
    """A whole count (children, years). ``"18 luni"`` (months) becomes years."""
    number = parse_number(value)
    if number is None:
        return None
    if isinstance(value, str) and re.search(r"\bluni\b|\bluna\b", fold(value)):
        return int(number) // 12
    return int(number)


# ---------------------------------------------------------------------------------------------
# Dates and times

_DMY_RE = re.compile(r"^(\d{1,2})[-./ ](\d{1,2})[-./ ](\d{2}|\d{4})$")
_YMD_RE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ].*)?$")


def parse_event_date(value: object) -> date | None:
    """``DD-MM-YYYY`` (also ``/``, ``.``, two-digit years, ISO ``YYYY-MM-DD``, a date or an
    aware datetime taken in Romanian time) → a real ``date``; None when it is no real day."""
    if isinstance(value, datetime):
        aware = ensure_utc(value) if value.tzinfo is None else value
        return aware.astimezone(LOCAL_TZ).date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        return None
    text = value.strip()
    day = month = year = 0
    if match := _DMY_RE.match(text):
        day, month, year = (int(g) for g in match.groups())
        if len(match.group(3)) == 2:
            year += 2000
    elif match := _YMD_RE.match(text):
        year, month, day = (int(g) for g in match.groups())
    else:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def format_event_date(value: date) -> str:
    """A date as the app stores it: ``DD-MM-YYYY``."""
    if isinstance(value, datetime):
        parsed = parse_event_date(value)
        assert parsed is not None
        value = parsed
    return f"{value.day:02d}-{value.month:02d}-{value.year:04d}"


_TIME_RE = re.compile(r"^(\d{1,2})(?:\s*(?:[:.hH]|\s)\s*(\d{1,2}))?\s*(?:h|ore|ora)?$")


def normalize_time(value: object) -> str | None:
    """``16``, ``16.30``, ``16:5``, ``ora 16``, ``16h30`` → ``HH:MM``; None if no real time."""
    if isinstance(value, time):
        return f"{value.hour:02d}:{value.minute:02d}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value) or value != int(value):
            return None
        value = str(int(value))
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    text = re.sub(r"^(la\s+)?(ora|orele)\s+", "", text)
    match = _TIME_RE.match(text)
    if match is None:
        return None
    hour = int(match.group(1))
    minute = int(match.group(2)) if match.group(2) else 0
    if hour > 23 or minute > 59:
        return None
    if match.group(2) and len(match.group(2)) == 1 and ":" not in text:
        return None  # "16.3" is ambiguous; only "16:5" is read as 16:05
    return f"{hour:02d}:{minute:02d}"


def to_timestamp(value: object) -> object:
    """Timestamps as aware datetimes; ms numbers and ISO strings converted; else unchanged."""
    if isinstance(value, datetime):
        return ensure_utc(value)
    # Numbers this large are milliseconds (seconds would be past the year 5000).
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 10**11:
        try:
            return from_ms(value)
        except (OverflowError, ValueError):  # past year 9999: not a timestamp, keep it
            return value
    if isinstance(value, str):
        parsed = parse_iso(value)
        return parsed if parsed is not None else value
    return value


def rename_fields(raw: Mapping[str, Any], aliases: Mapping[str, str]) -> dict[str, Any]:
    """Apply field aliases; a V3 name already present wins over its legacy alias."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in aliases:
            out[key] = value
    for key, value in raw.items():
        target = aliases.get(key)
        if target is not None and target not in out:
            out[target] = value
    return out


_TRUE_WORDS: Final = frozenset({"true", "da", "yes", "1"})


def as_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return fold(value) in _TRUE_WORDS
    if is_number(value):
        return value != 0
    return False


def as_short_id(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def first_of(event: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        value = event.get(name)
        if value is not None:
            return value
    return None
