"""Accessors that work on legacy and V3 event documents alike, without normalizing the whole
event: date, amount, status, phone, archived, short id, start time, sort key."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any

from shared.events.payment import canonical_payment_status
from shared.events.values import (
    as_bool,
    as_short_id,
    first_of,
    normalize_time,
    parse_event_date,
    parse_number,
)
from shared.events.vocabulary import LOCAL_TZ
from shared.phones import to_e164


def event_date(event: Mapping[str, Any]) -> date | None:
    """The party day as a real date (``date`` or legacy ``data``); None if missing/unreadable."""
    return parse_event_date(first_of(event, "date", "data", "dataEveniment"))


def event_amount(event: Mapping[str, Any]) -> int | float:
    """The event's price (``payment.amount`` or legacy ``incasare.suma``); 0 when unknown."""
    payment = first_of(event, "payment", "incasare", "plata")
    if not isinstance(payment, Mapping):
        return 0
    amount = parse_number(first_of(payment, "amount", "suma", "valoare"))
    return amount if amount is not None else 0


def event_status(event: Mapping[str, Any]) -> str:
    """The payment status, PAID, UNPAID or CANCELLED; UNPAID when missing or unknown."""
    payment = first_of(event, "payment", "incasare", "plata")
    if not isinstance(payment, Mapping):
        return "UNPAID"
    return canonical_payment_status(first_of(payment, "status", "stare")) or "UNPAID"


def event_phone(event: Mapping[str, Any]) -> str | None:
    """The client's E.164 phone (``phoneE164``, legacy ``telefonClientE164``, raw fallbacks)."""
    for name in ("phoneE164", "telefonClientE164", "telefonE164", "phoneRaw", "telefonClient"):
        e164 = to_e164(event.get(name))
        if e164 is not None:
            return e164
    return None


def is_archived(event: Mapping[str, Any]) -> bool:
    """``isArchived`` when the event has it (the app writes it, also to unarchive an event the
    old system archived), else legacy ``esteArhivat``/``arhivat``: the same precedence as
    :func:`normalize_event`."""
    for name in ("isArchived", "esteArhivat", "arhivat"):
        if name in event:
            return as_bool(event[name])
    return False


def event_short_id(event: Mapping[str, Any]) -> int | None:
    return as_short_id(first_of(event, "eventShortId", "idScurt", "codScurt", "shortId"))


def _earliest_start(event: Mapping[str, Any]) -> str | None:
    roles = first_of(event, "rolesBySlot", "roluriPeSlot")
    starts: list[str] = []
    if isinstance(roles, Mapping):
        for role in roles.values():
            if isinstance(role, Mapping):
                start = normalize_time(first_of(role, "startTime", "oraStart", "ora"))
                if start is not None:
                    starts.append(start)
    return min(starts) if starts else None


def event_start_datetime(event: Mapping[str, Any]) -> datetime | None:
    """When the party starts, as an aware UTC datetime: the date at the earliest role start
    (midnight without one), Romanian local time. For ``clients.lastEventAt``."""
    day = event_date(event)
    if day is None:
        return None
    start = _earliest_start(event) or "00:00"
    hour, minute = (int(part) for part in start.split(":"))
    local = datetime.combine(day, time(hour, minute), tzinfo=LOCAL_TZ)
    return local.astimezone(UTC)


def event_sort_key(event: Mapping[str, Any]) -> tuple[int, date, str]:
    """Sort events by real date (then start time), never by the ``DD-MM-YYYY`` string.

    Undated events sort first ascending, last with ``reverse=True`` (newest first).
    """
    day = event_date(event)
    if day is None:
        return (0, date.min, "")
    return (1, day, _earliest_start(event) or "")
