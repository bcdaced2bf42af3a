"""Time helpers: every timestamp in the core is a timezone-aware UTC ``datetime``.

Firestore returns ``DatetimeWithNanoseconds`` (a ``datetime`` subclass) and the app stores
milliseconds since the epoch beside Timestamps (``lastMessageAtMs``, ``createdAtMs``), so these
helpers convert between the three without ever producing a naive datetime.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["UTC", "ensure_utc", "from_ms", "from_seconds", "parse_iso", "to_ms", "utc_now"]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utc_now() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


def ensure_utc(dt: datetime) -> datetime:
    """Return ``dt`` in UTC; a naive datetime is taken to already be UTC (never local time)."""
    if dt.tzinfo is None or dt.tzinfo.utcoffset(dt) is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def to_ms(dt: datetime) -> int:
    """Milliseconds since the Unix epoch (what ``*Ms`` fields hold). Exact, no float rounding."""
    delta = ensure_utc(dt) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def from_ms(ms: int | float) -> datetime:
    """Aware UTC datetime from milliseconds since the epoch."""
    if isinstance(ms, bool):
        raise TypeError("from_ms expects a number of milliseconds, not a bool")
    # timedelta arithmetic is exact; ms / 1000 through a float is not (to_ms must round-trip).
    return _EPOCH + timedelta(milliseconds=ms)


def from_seconds(s: int | float) -> datetime:
    """Aware UTC datetime from seconds since the epoch (WhatsApp message timestamps)."""
    if isinstance(s, bool):
        raise TypeError("from_seconds expects a number of seconds, not a bool")
    return datetime.fromtimestamp(s, UTC)


def parse_iso(text: str) -> datetime | None:
    """Parse an ISO-8601 timestamp (``Z`` accepted) to aware UTC; None when it is not one."""
    if not isinstance(text, str) or not text.strip():
        return None
    candidate = text.strip()
    if candidate.endswith(("Z", "z")):
        candidate = candidate[:-1] + "+00:00"
    try:
        return ensure_utc(datetime.fromisoformat(candidate))
    except ValueError:
        return None
