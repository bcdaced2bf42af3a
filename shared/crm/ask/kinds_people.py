"""Question kinds about people and places: the children celebrated (with their age at each
party), ages, birth dates, how many guests, the client's contact, and addresses."""

from __future__ import annotations

from datetime import date

from shared.crm.ask.answer import AskAnswer, Kind, one_or_more, reply
from shared.crm.ask.party import Party, name_key
from shared.crm.ask.question import Question
from shared.crm.ask.render import age_text, day_text, format_event_date, party_ref
from shared.crm.ask.scope import Scope, celebrates


def _ages(
    parties: list[Party], wanted: set[str] | None = None
) -> dict[str, list[tuple[Party, int | None]]]:
    """child → [(party, age at that party)], children in order of first appearance."""
    out: dict[str, list[tuple[Party, int | None]]] = {}
    names: dict[str, str] = {}
    for p in parties:
        for child, age in p.children():
            key = name_key(child)
            if wanted and key not in wanted:
                continue
            names.setdefault(key, child)
            out.setdefault(names[key], []).append((p, age))
    return out


def _named(q: Question, scope: Scope) -> set[str]:
    keys = set()
    for p in scope.parties:
        for child, _ in p.children():
            key = name_key(child)
            if celebrates(p, {key}) and f" {key.split(' ')[0]}" in f" {q.text}":
                keys.add(key)
    return keys


def children(q: Question, scope: Scope) -> AskAnswer:
    pool = scope.active or scope.chosen
    by_child = _ages(pool)
    if not by_child:
        return reply(f"Numele copilului nu este trecut la petrecerile clientului{scope.suffix}.")
    lines = []
    for child, seen in by_child.items():
        ages = ", ".join(
            (
                f"{age_text(a)} la {day_text(p.day)}"
                if a is not None
                else f"vârsta netrecută la {day_text(p.day)}"
            )
            for p, a in seen
        )
        lines.append(f"{child} ({ages})")
    count = len(by_child)
    head = "Sărbătorit" if count == 1 else f"{count} copii sărbătoriți"
    cited = {id(p) for seen in by_child.values() for p, _ in seen}
    text = f"{head}{scope.suffix}: " + "; ".join(lines) + "."
    return reply(text, [p for p in pool if id(p) in cited])


def age(q: Question, scope: Scope) -> AskAnswer:
    wanted = _named(q, scope) or None
    if (
        q.has(r"\bacum\b|\bin\s+prezent\b|\bazi\b|\bastazi\b")
        and not q.dates
        and not scope.selector
    ):
        return _age_now(q, scope, wanted)
    chosen = one_or_more(q, scope)
    by_child = _ages(chosen, wanted)
    if not by_child:
        return reply(f"Nicio petrecere cu copilul cerut{scope.suffix}.")
    lines = []
    cited: list[Party] = []
    for child, seen in by_child.items():
        for p, a in seen:
            cited.append(p)
            if a is None:
                lines.append(f"vârsta lui {child} nu este trecută la {party_ref(p.day)}")
            else:
                lines.append(f"{child} avea {age_text(a)} la {party_ref(p.day)}")
    text = "; ".join(lines)
    return reply(text[:1].upper() + text[1:] + ".", cited)


def _years_between(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def _age_now(q: Question, scope: Scope, wanted: set[str] | None) -> AskAnswer:
    lines = []
    cited = []
    for p in scope.active:
        if p.child_dob and (wanted is None or name_key(p.child or "") in wanted):
            lines.append(
                f"{p.child} are {age_text(_years_between(p.child_dob, q.today))} azi "
                f"(născut pe {format_event_date(p.child_dob)})"
            )
            cited.append(p)
            break
    if not lines:
        return age_at_last(q, scope, wanted)
    return reply(lines[0][:1].upper() + lines[0][1:] + ".", cited)


def age_at_last(q: Question, scope: Scope, wanted: set[str] | None) -> AskAnswer:
    by_child = _ages(
        [p for p in scope.active if p.day and p.day <= q.today] or scope.active, wanted
    )
    lines, cited = [], []
    for child, seen in by_child.items():
        p, a = seen[-1]
        if a is not None:
            lines.append(f"{child} avea {age_text(a)} la ultima petrecere ({day_text(p.day)})")
            cited.append(p)
    if not lines:
        return reply("Vârsta copilului nu este trecută în datele clientului.")
    return reply("Data nașterii nu este trecută; " + "; ".join(lines) + ".", cited)


def birth(q: Question, scope: Scope) -> AskAnswer:
    wanted = _named(q, scope)
    known = [
        p
        for p in scope.parties
        if p.child_dob and (not wanted or name_key(p.child or "") in wanted)
    ]
    if not known:
        ages = _ages(scope.active, wanted or None)
        if not ages:
            return reply("Data nașterii copilului nu este trecută în datele clientului.")
        return age_at_last(q, scope, wanted or None)
    seen: dict[str, Party] = {}
    for p in known:
        seen.setdefault(name_key(p.child or ""), p)
    lines = [
        f"{p.child or 'copilul'} s-a născut pe {format_event_date(p.child_dob)}"
        for p in seen.values()
        if p.child_dob
    ]
    text = "; ".join(lines)
    return reply(text[:1].upper() + text[1:] + ".", known)


def guests(q: Question, scope: Scope) -> AskAnswer:
    chosen = one_or_more(q, scope)
    if not chosen:
        return reply(f"Nicio petrecere{scope.suffix}.")
    lines = [
        f"la {party_ref(p.day)}: {p.num_children} copii"
        if p.num_children
        else f"numărul de copii nu este trecut la {party_ref(p.day)}"
        for p in chosen
    ]
    text = "; ".join(lines)
    return reply(text[:1].upper() + text[1:] + ".", chosen)


def address(q: Question, scope: Scope) -> AskAnswer:
    pool = scope.active or scope.chosen
    # every party asked about (all of them when the question names none): addresses differ
    chosen = pool
    located = [p for p in chosen if p.address]
    missing = len(chosen) - len(located)
    if not located:
        return reply(f"Adresa nu este trecută la petrecerile cerute{scope.suffix}.")
    lines = "; ".join(f"{day_text(p.day)}: {p.address}" for p in located)
    note = f" ({missing} fără adresă trecută)" if missing else ""
    return reply(f"Adresa{scope.suffix}: {lines}{note}.", located)


KINDS = [
    Kind(
        "guests",
        r"\bcati\s+copii\s+(?:au|vin|vor|va|participa|sunt|erau|au\s+fost|invitati|la|o\s+sa)\b|"
        r"\bnumarul\s+de\s+(?:copii|invitati)\b|\bcati\s+invitati\b|\bcati\s+copii\s+\w+\s+la\b",
        guests,
    ),
    Kind(
        "age",
        r"\bcati\s+ani\b|\bvarsta\b|\bce\s+varsta\b|\bimplin\w*|\bface\s+(?:\w+\s+)?ani\b",
        age,
    ),
]

LATER_KINDS = [
    Kind(
        "birth",
        r"\bnascut\w*|\bdata\s+nasterii\b|\bziua\s+de\s+nastere\s+(?:a|e|este)\b|\bcand\s+(?:e|este)\s+ziua\b",
        birth,
    ),
    Kind(
        "children",
        r"\bce\s+copii\b|\bcopiii\b|\bcum\s+(?:il|o|ii|le)\s+cheama\b|\bpentru\s+cine\b|"
        r"\bsarbatorit\w*|\bnumele\s+(?:copil\w*|sarbatorit\w*)|\bce\s+copil\b|\bcati\s+copii\b|"
        r"\bcum\s+se\s+numeste\s+(?:copil|fiul|fiica|baiatul|fetita)\w*|\bal\s+cui\b|\ba\s+cui\b|"
        r"\bcine\s+(?:e|este|sunt)\b",
        children,
    ),
    Kind(
        "address",
        r"\badres\w*|\bunde\b|\blocati\w*|\blocul\b|\bin\s+ce\s+loc\b|\bla\s+ce\s+restaurant\b",
        address,
        unless=r"\be-?mail\w*|\bmail\w*",
    ),
]
