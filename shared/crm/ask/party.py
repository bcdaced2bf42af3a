"""One party as the answerer reads it: a normalized event (legacy or V3) flattened into the facts
questions are about. Pure; built once per question from `shared.events.normalize_event` output."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from shared.crm.heuristics.text import fold
from shared.events import (
    event_date,
    event_short_id,
    event_status,
    is_archived,
    parse_event_date,
    parse_number,
)

# Roles that set up before the guests come: their start is not when the party starts.
SETUP_ROLES = frozenset({"DECORATIONS", "BALLOONS", "HELIUM_BALLOONS"})
MAIN_ROLES = frozenset({"ANIMATOR", "URSITOARE", "SANTA_CLAUS"})


@dataclass(frozen=True)
class Role:
    kind: str  # roleType, or the label when the type is unknown
    character: str | None
    child: str | None
    child_age: int | None
    count: int | None
    start: str | None  # HH:MM
    duration: int | None  # minutes


@dataclass(frozen=True, eq=False)  # identity: two bookings alike are still two parties
class Party:
    event: Mapping[str, Any]  # the normalized event, for describe() and the model
    short_id: int | None
    day: date | None
    address: str | None
    child: str | None
    child_age: int | None
    child_dob: date | None
    num_children: int | None
    amount: float | None  # None when the event holds no price
    currency: str
    status: str  # PAID | UNPAID | CANCELLED
    method: str | None
    archived: bool
    roles: tuple[Role, ...]

    @property
    def cancelled(self) -> bool:
        return self.status == "CANCELLED"

    @property
    def main_roles(self) -> list[Role]:
        """The roles the party is built around (animators, ursitoare, Santa); without them,
        every role that is not set-up work. Extras (arcade, candy floss) run beside them."""
        main = [r for r in self.roles if r.kind in MAIN_ROLES]
        return main or [r for r in self.roles if r.kind not in SETUP_ROLES]

    @property
    def start(self) -> str | None:
        """When the party starts: the earliest start of a main role (set-up and extras begin
        earlier), else of any role, else the event's own start."""
        starts = [r.start for r in self.main_roles if r.start]
        starts = starts or [r.start for r in self.roles if r.start]
        own = self.event.get("startTime")
        if not starts and isinstance(own, str) and own:
            return own
        return min(starts) if starts else None

    @property
    def characters(self) -> list[str]:
        out: list[str] = []
        for role in self.roles:
            if role.character and role.character not in out:
                out.append(role.character)
        return out

    def children(self) -> list[tuple[str, int | None]]:
        """(name, age) of every child this party celebrates: the event's and the roles'."""
        out: list[tuple[str, int | None]] = []
        seen: set[str] = set()
        if self.child:
            out.append((self.child, self.child_age))
            seen.add(name_key(self.child))
        for role in self.roles:
            if role.child and name_key(role.child) not in seen:
                out.append((role.child, role.child_age))
                seen.add(name_key(role.child))
        return out


def name_key(name: str) -> str:
    return " ".join(fold(name).split())


def _int(value: object) -> int | None:
    number = parse_number(value)
    return int(number) if number is not None and float(number).is_integer() else None


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _role(raw: Mapping[str, Any]) -> Role:
    details = raw.get("details")
    details = details if isinstance(details, Mapping) else {}
    kind = _text(raw.get("roleType")) or _text(raw.get("label")) or "ROL"
    return Role(
        kind=kind,
        character=_text(details.get("character")),
        child=_text(details.get("childName")),
        child_age=_int(details.get("childAge")),
        count=_int(details.get("count")),
        start=_text(raw.get("startTime")),
        duration=_int(raw.get("durationMin")),
    )


def _written_amount(raw: Mapping[str, Any]) -> object:
    """The price as the document wrote it (normalization turns a missing one into 0)."""
    for name in ("payment", "incasare", "plata"):
        payment = raw.get(name)
        if isinstance(payment, Mapping):
            for key in ("amount", "suma", "valoare"):
                if payment.get(key) is not None:
                    return payment.get(key)
    return None


def party_of(event: Mapping[str, Any], raw: Mapping[str, Any] | None = None) -> Party:
    """A normalized event (and the document it came from) → a Party; unreadable values become
    None, never an error."""
    payment = event.get("payment")
    payment = payment if isinstance(payment, Mapping) else {}
    amount = parse_number(payment.get("amount") if raw is None else _written_amount(raw))
    currency = payment.get("currency")
    euro = isinstance(currency, str) and currency.strip().upper() in ("EUR", "EURO")
    slots = event.get("rolesBySlot")
    slots = slots if isinstance(slots, Mapping) else {}
    roles = tuple(_role(slots[k]) for k in sorted(slots, key=str) if isinstance(slots[k], Mapping))
    method = payment.get("method")
    return Party(
        event=event,
        short_id=event_short_id(event),
        day=event_date(event),
        address=_text(event.get("address")),
        child=_text(event.get("childName")),
        child_age=_int(event.get("childAge")),
        child_dob=parse_event_date(event.get("childDob")),
        num_children=_int(event.get("numChildren")),
        amount=float(amount) if amount is not None else None,
        currency="EUR" if euro else "lei",
        status=event_status(event),
        method=method if isinstance(method, str) and method else None,
        archived=is_archived(event),
        roles=roles,
    )
