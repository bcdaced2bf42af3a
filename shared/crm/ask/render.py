"""Romanian wording of the answers: amounts, dates, counts, roles, one party's line, a source.

Numbers are written in digits (never "o petrecere", "două") and without thousands separators,
so every figure in an answer can be checked against the events."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from shared.crm.ask.party import Party, Role
from shared.events import format_event_date

ROLE_WORDS = {
    "ANIMATOR": "animator",
    "URSITOARE": "ursitoare",
    "ARCADE": "aparate arcade",
    "BALLOONS": "baloane",
    "COTTON_CANDY": "vată de zahăr",
    "POPCORN": "popcorn",
    "DECORATIONS": "decorațiuni",
    "HELIUM_BALLOONS": "baloane cu heliu",
    "SANTA_CLAUS": "Moș Crăciun",
    "DRY_ICE": "fum greu",
}
STATUS_WORDS = {"PAID": "plătită", "UNPAID": "neplătită", "CANCELLED": "anulată"}
METHOD_WORDS = {"CASH": "cash (numerar)", "CARD": "card", "TRANSFER": "transfer bancar"}


def money(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def sum_text(parties: Iterable[Party]) -> str:
    """'1200 lei', or '1200 lei și 150 EUR' when currencies mix (never added together)."""
    totals: dict[str, float] = {}
    for party in parties:
        totals[party.currency] = totals.get(party.currency, 0.0) + (party.amount or 0.0)
    if not totals:
        return "0 lei"
    order = sorted(totals, key=lambda c: c != "lei")
    return " și ".join(f"{money(totals[c])} {c}" for c in order)


def day_text(day: date | None) -> str:
    return format_event_date(day) if day else "fără dată"


def party_ref(day: date | None) -> str:
    """'petrecerea din 14-02-2026', or 'petrecerea fără dată'."""
    return f"petrecerea din {format_event_date(day)}" if day else "petrecerea fără dată"


def count_word(n: int, one: str, many: str) -> str:
    """'1 petrecere', '3 petreceri', '20 de petreceri' (Romanian 'de' from 20 on)."""
    if n == 1:
        return f"1 {one}"
    of = "de " if n % 100 >= 20 or (n % 100 == 0 and n) else ""
    return f"{n} {of}{many}"


def parties_word(n: int, singular_suffix: str = "", plural_suffix: str = "") -> str:
    text = count_word(n, "petrecere", "petreceri")
    suffix = singular_suffix if n == 1 else plural_suffix
    return f"{text} {suffix}" if suffix else text


def age_text(years: int) -> str:
    """'sub 1 an' (a baptism), '1 an', '5 ani', '21 de ani'."""
    return "sub 1 an" if years == 0 else count_word(years, "an", "ani")


def minutes_text(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    plain = count_word(minutes, "minut", "minute")
    if hours == 0:
        return plain
    spoken = count_word(hours, "oră", "ore") + (
        f" și {count_word(rest, 'minut', 'minute')}" if rest else ""
    )
    return f"{plain} ({spoken})"


def role_text(role: Role, *, with_time: bool = True) -> str:
    if role.kind == "ANIMATOR" and role.character:
        text = f"animator {role.character}"
    else:
        text = ROLE_WORDS.get(role.kind, role.kind.lower())
        if role.count and role.count != 1:
            text = f"{role.count} {text}"
        if role.character:
            text += f" ({role.character})"
    if with_time and role.start:
        text += f" la {role.start}"
    return text


def describe(party: Party) -> str:
    """One party on one line: date; child (age); start; address; guests; roles; price, status."""
    parts = [day_text(party.day)]
    kids = [f"{n} ({age_text(a)})" if a else n for n, a in party.children()]
    if kids:
        parts.append(", ".join(kids))
    if party.start:
        parts.append(f"ora {party.start}")
    if party.address:
        parts.append(party.address)
    if party.num_children:
        parts.append(f"{party.num_children} copii")
    if party.roles:
        parts.append(", ".join(role_text(r) for r in party.roles))
    price = (
        f"{money(party.amount)} {party.currency}" if party.amount is not None else "sumă netrecută"
    )
    parts.append(f"{price}, {STATUS_WORDS.get(party.status, party.status.lower())}")
    if party.archived:
        parts.append("arhivată")
    return "; ".join(parts)


def source(party: Party) -> dict[str, Any]:
    return {
        "eventShortId": party.short_id,
        "date": day_text(party.day),
        "details": describe(party),
    }


def listing(parties: Sequence[Party]) -> str:
    return " | ".join(describe(p) for p in parties)


def capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]
