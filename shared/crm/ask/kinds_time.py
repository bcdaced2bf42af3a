"""Question kinds about when: cancelled parties, how many parties, days until one, start and
end times, durations, and the parties on a day, in a month or year, first, last and next."""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.crm.ask.answer import AskAnswer, Kind, one_or_more, reply
from shared.crm.ask.party import Party, Role
from shared.crm.ask.question import Question
from shared.crm.ask.render import (
    capitalize,
    count_word,
    day_text,
    describe,
    listing,
    minutes_text,
    parties_word,
    party_ref,
    role_text,
)
from shared.crm.ask.scope import SERVICE_WORDS, Scope


def cancelled(q: Question, scope: Scope) -> AskAnswer:
    gone = [p for p in scope.pool if p.cancelled]
    dated = [p for p in gone if p.day is not None]
    if scope.selector == "first" and dated:
        gone = dated[:1]
    elif scope.selector in ("last", "next") and dated:
        gone = dated[-1:]
    if not gone:
        return reply(f"Nicio petrecere anulată{scope.suffix}.")
    text = capitalize(parties_word(len(gone), "anulată", "anulate"))
    return reply(f"{text}{scope.suffix}: {listing(gone)}.", gone)


def count(q: Question, scope: Scope) -> AskAnswer:
    active = scope.active
    gone = [p for p in scope.chosen if p.cancelled]
    extra = f" (plus {parties_word(len(gone), 'anulată', 'anulate')})" if gone else ""
    days = ", ".join(day_text(p.day) for p in active)
    detail = f": {days}" if active else ""
    return reply(f"Clientul are {parties_word(len(active))}{scope.suffix}{extra}{detail}.", active)


def days_until(q: Question, scope: Scope) -> AskAnswer:
    pool = (
        scope.active if scope.narrowed else [p for p in scope.active if p.day and p.day >= q.today]
    )
    dated = [p for p in pool if p.day is not None]
    if not dated:
        return reply(f"Nicio petrecere programată după {q.today:%d-%m-%Y}{scope.suffix}.")
    lines = []
    for p in dated[:1] if not scope.narrowed else dated:
        assert p.day is not None
        gap = (p.day - q.today).days
        if gap > 0:
            lines.append(f"până la {party_ref(p.day)} mai sunt {count_word(gap, 'zi', 'zile')}")
        elif gap == 0:
            lines.append(f"{party_ref(p.day)} este azi")
        else:
            lines.append(f"{party_ref(p.day)} a fost acum {count_word(-gap, 'zi', 'zile')}")
    chosen = dated[:1] if not scope.narrowed else dated
    return reply(capitalize("; ".join(lines)) + f" (azi e {q.today:%d-%m-%Y}).", chosen)


def _named_roles(q: Question, party: Party) -> list[Role]:
    wanted = {role_type for pattern, role_type in SERVICE_WORDS if q.has(pattern)}
    if q.has(r"\banimator\w*|\bpersonaj\w*"):
        wanted.add("ANIMATOR")
    return [r for r in party.roles if r.kind in wanted]


def start(q: Question, scope: Scope) -> AskAnswer:
    chosen = one_or_more(q, scope)
    if not chosen:
        return reply(f"Nicio petrecere{scope.suffix}." + (f" {scope.note}." if scope.note else ""))
    lines = []
    for p in chosen:
        named = _named_roles(q, p)
        if named and all(r.start for r in named):
            times = ", ".join(role_text(r) for r in named)
            lines.append(f"{party_ref(p.day)}: {times}")
        elif p.start:
            others = [r for r in p.roles if r.start and r.start != p.start]
            extra = f" ({', '.join(role_text(r) for r in others)})" if others else ""
            lines.append(f"{party_ref(p.day)} începe la {p.start}{extra}")
        else:
            lines.append(f"ora de început nu este trecută pentru {party_ref(p.day)}")
    note = f"{scope.note}. " if scope.note else ""
    return reply(note + capitalize("; ".join(lines)) + ".", chosen)


def _show_minutes(p: Party) -> int | None:
    shows = [r.duration for r in p.main_roles if r.duration]
    return max(shows) if shows else None


def duration(q: Question, scope: Scope) -> AskAnswer:
    chosen = one_or_more(q, scope)
    if not chosen:
        return reply(f"Nicio petrecere{scope.suffix}.")
    lines = []
    for p in chosen:
        named = [r for r in _named_roles(q, p) if r.duration]
        if named:
            parts = ", ".join(
                f"{role_text(r, with_time=False)}: {minutes_text(r.duration or 0)}" for r in named
            )
            lines.append(f"{party_ref(p.day)}: {parts}")
            continue
        minutes = _show_minutes(p)
        if minutes is None:
            lines.append(f"durata nu este trecută pentru {party_ref(p.day)}")
            continue
        lines.append(f"{party_ref(p.day)} durează {minutes_text(minutes)}")
    return reply(capitalize("; ".join(lines)) + ".", chosen)


def end(q: Question, scope: Scope) -> AskAnswer:
    chosen = one_or_more(q, scope)
    if not chosen:
        return reply(f"Nicio petrecere{scope.suffix}.")
    lines = []
    for p in chosen:
        minutes = _show_minutes(p)
        if p.start is None or minutes is None:
            lines.append(f"ora de final nu se poate afla pentru {party_ref(p.day)}")
            continue
        begin = datetime.strptime(p.start, "%H:%M")
        finish = begin + timedelta(minutes=minutes)
        lines.append(
            f"{party_ref(p.day)} se termină la {finish:%H:%M} "
            f"(începe la {p.start}, durează {minutes_text(minutes)})"
        )
    return reply(capitalize("; ".join(lines)) + ".", chosen)


def _left_out(scope: Scope) -> str:
    """What the question's parties leave out that the staff should still hear about: cancelled
    ones, and ones without a date (first / last / next cannot place them)."""
    gone = [p for p in scope.pool if p.cancelled]
    undated = [p for p in scope.pool if p.day is None and not p.cancelled]
    out = ""
    if gone:
        days = ", ".join(day_text(p.day) for p in gone)
        out += f" {capitalize(parties_word(len(gone), 'anulată', 'anulate'))}: {days}."
    if undated and scope.selector:
        out += f" {capitalize(parties_word(len(undated), 'fără dată', 'fără dată'))}: "
        out += " | ".join(describe(p) for p in undated) + "."
    return out


def details(q: Question, scope: Scope) -> AskAnswer | None:
    """The parties the question narrows to, or (for "când", "ce petreceri") all of them."""
    chosen = scope.active or scope.chosen
    note = f"{scope.note}. " if scope.note else ""
    if scope.selector == "last" and not chosen:
        coming = [p for p in scope.pool if p.day and p.day >= q.today and not p.cancelled]
        text = f"Nicio petrecere încheiată până azi ({q.today:%d-%m-%Y}){scope.suffix}."
        text += _left_out(scope)
        if coming:
            return reply(text + f" Următoarea: {describe(coming[0])}.", coming[:1])
        return reply(text)
    if scope.selector in ("next", "upcoming") and not chosen:
        done = [p for p in scope.pool if p.day and p.day <= q.today and not p.cancelled]
        text = f"Nicio petrecere programată după {q.today:%d-%m-%Y}{scope.suffix}."
        text += _left_out(scope)
        if done:
            return reply(text + f" Ultima a fost: {describe(done[-1])}.", done[-1:])
        return reply(text)
    if not chosen:
        return reply(f"{note}Nicio petrecere{scope.suffix}.{_left_out(scope)}")
    coming = [p for p in chosen if p.day and p.day >= q.today]
    if scope.selector is None and not q.dates and coming and q.has(_WHEN_IS):
        chosen = coming[:1]  # "când e petrecerea Teodorei?": the one still to come
    label = {
        "first": "Prima petrecere",
        "last": "Ultima petrecere",
        "next": "Următoarea petrecere",
        "upcoming": "Petreceri programate",
    }.get(scope.selector or "", "Petreceri" if len(chosen) > 1 else "Petrecerea")
    return reply(f"{note}{label}{scope.suffix}: {listing(chosen)}.", chosen)


_WHEN_IS = r"\bcand\s+(?:e|este|va\s+fi|o\s+sa\s+fie|are\s+loc|vine|pica|cade)\b"

KINDS = [
    Kind(
        "cancelled",
        r"\banulat\w*|\banulari\w*|\banulare\w*|\bcontramandat\w*|\brenuntat\w*",
        cancelled,
        unless=r"\b(?:fara|exclus\w*|minus|in\s+afara)\s+(?:de\s+)?(?:cele\s+|celor\s+)?anula",
    ),
    Kind(
        "days_until",
        r"\bcate\s+zile\b|\bin\s+cate\s+zile\b|\bpeste\s+cate\s+zile\b|"
        r"\bcat\s+(?:mai\s+)?(?:e|este|avem|ramane)\s+pana\b|\bcat\s+timp\s+(?:mai\s+)?(?:e|este|avem)\s+pana\b",
        days_until,
    ),
]

COUNT_KINDS = [
    Kind(
        "count",
        r"\b(?:cate|cati)\b(?:\s+\w+){0,3}?\s+(?:petreceri|evenimente|rezervari|botezuri|"
        r"aniversari|zile\s+de\s+nastere|ori)\b|\bde\s+cate\s+ori\b|"
        r"\bnumarul\s+(?:de\s+|total\s+de\s+)?(?:petreceri|evenimente|rezervari)|"
        r"\bcate\s+(?:au\s+fost|a\s+avut|are)\b",
        count,
    ),
]

LATER_KINDS = [
    Kind(
        "end_time",
        r"\bpana\s+la\s+ce\s+ora\b|\bse\s+termina\b|\bcand\s+(?:se\s+)?termina\b|"
        r"\bora\s+de\s+(?:final|sfarsit|incheiere)\b|\bs-a\s+terminat\b",
        end,
    ),
    Kind(
        "start_time",
        r"\bla\s+ce\s+ora\b|\bce\s+ora\b|\bora\b|\bcand\s+(?:incepe|a\s+inceput|incep|intra|au\s+intrat|"
        r"a\s+intrat|vine|vin|ajung\w*|soseste|a\s+venit|au\s+venit)\b|\bla\s+cat\b|"
        r"\bde\s+la\s+ce\s+ora\b|\bora\s+de\s+(?:inceput|start)\b|\bla\s+ce\s+ore\b",
        start,
    ),
    Kind(
        "duration",
        r"\bcat\s+(?:timp\s+)?(?:dureaza|a\s+durat|tine|a\s+tinut|au\s+stat|sta|stau|a\s+stat)\b|"
        r"\bdurata\b|\bcate\s+ore\b|\bcat\s+timp\b|\bcat\s+de\s+lung\w*|\bcate\s+minute\b",
        duration,
    ),
]

DETAIL_KINDS = [
    Kind(
        "details",
        r"\bcand\b|\bce\s+data\b|\bin\s+ce\s+zi\b|\bce\s+zi\b|\bdata\b|\bce\s+petrecer\w*|"
        r"\bce\s+eveniment\w*|\bce\s+a\s+fost\b|\bce\s+avem\b|\bavem\s+ceva\b|\bare\s+ceva\b|"
        r"\bare\s+vreo\b|\bdetalii\w*|\bspune\w*|\bce\s+stii\b|\bistoric\w*|\blista\w*|"
        r"\bcare\s+(?:a\s+fost|e|este|sunt|au\s+fost)\b|\bpetreceri\w*\b|\bpetrecerea\b|"
        r"\bce\s+s-a\s+intamplat\b|\bce\s+are\b|\bcare\s+petrecere\b|\bvine\b|\bvin\b|"
        r"\b(?:a|au)\s+venit\b|\ba\s+fost\b",
        details,
    ),
]
