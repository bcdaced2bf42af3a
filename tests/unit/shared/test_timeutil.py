"""shared.timeutil: aware UTC datetimes and exact milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.timeutil import ensure_utc, from_ms, from_seconds, parse_iso, to_ms, utc_now


def test_utc_now_is_aware() -> None:
    now = utc_now()
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("dt", "ms"),
    [
        (datetime(1970, 1, 1, tzinfo=UTC), 0),
        (datetime(2026, 1, 1, tzinfo=UTC), 1_767_225_600_000),
        (datetime(2026, 1, 1, 2, tzinfo=timezone(timedelta(hours=2))), 1_767_225_600_000),
        (datetime(2026, 1, 1), 1_767_225_600_000),  # naive means UTC
        (datetime(2026, 1, 1, 0, 0, 0, 999_999, tzinfo=UTC), 1_767_225_600_999),
        (datetime(1969, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC), -1),
    ],
)
def test_to_ms(dt: datetime, ms: int) -> None:
    assert to_ms(dt) == ms


def test_from_ms_and_seconds() -> None:
    assert from_ms(1_767_225_600_123) == datetime(2026, 1, 1, 0, 0, 0, 123_000, tzinfo=UTC)
    assert from_seconds(1_767_225_600) == datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(TypeError):
        from_ms(True)


def test_ensure_utc() -> None:
    local = datetime(2026, 6, 1, 12, tzinfo=timezone(timedelta(hours=3)))
    assert ensure_utc(local) == datetime(2026, 6, 1, 9, tzinfo=UTC)
    assert ensure_utc(local).tzinfo is UTC
    assert ensure_utc(datetime(2026, 6, 1)).tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-14T10:30:00+02:00", datetime(2026, 1, 14, 8, 30, tzinfo=UTC)),
        ("2026-01-14T08:30:00Z", datetime(2026, 1, 14, 8, 30, tzinfo=UTC)),
        ("2026-01-14T08:30:00", datetime(2026, 1, 14, 8, 30, tzinfo=UTC)),
        ("not a date", None),
        ("", None),
    ],
)
def test_parse_iso(text: str, expected: datetime | None) -> None:
    assert parse_iso(text) == expected


@given(st.integers(min_value=-(10**13), max_value=10**14))
def test_ms_round_trip(ms: int) -> None:
    assert to_ms(from_ms(ms)) == ms
