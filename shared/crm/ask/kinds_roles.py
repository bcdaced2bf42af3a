"""Question kinds about what came to a party: characters, roles and services, and how many of
a kind (ursitoare, animators, balloons)."""

from __future__ import annotations

from collections.abc import Callable

from shared.crm.ask.answer import AskAnswer, Kind, one_or_more, reply
from shared.crm.ask.party import Party, Role
from shared.crm.ask.question import Question
from shared.crm.ask.render import ROLE_WORDS, day_text, role_text
from shared.crm.ask.scope import Scope

_NOUNS = (
    (r"ursitoar\w*", "URSITOARE"),
    (r"animatori?\w*|personaj\w*|eroi|mascot\w*", "ANIMATOR"),
    (r"baloane\s+cu\s+heliu|baloane\s+heliu", "HELIUM_BALLOONS"),
    (r"baloane|balon\w*", "BALLOONS"),
    (r"aparate\w*|arcade", "ARCADE"),
    (r"mos\s+craciun\w*", "SANTA_CLAUS"),
)


def _listing(parties: list[Party], pick: Callable[[Role], bool]) -> tuple[str, list[Party]]:
    lines, used = [], []
    for p in parties:
        roles = [r for r in p.roles if pick(r)]
        if roles:
            lines.append(f"{day_text(p.day)}: {', '.join(role_text(r) for r in roles)}")
            used.append(p)
    return "; ".join(lines), used


def characters(q: Question, scope: Scope) -> AskAnswer:
    pool = scope.active or scope.chosen
    with_chars = [p for p in pool if p.characters]
    if not with_chars:
        return reply(f"Nu apar personaje la petrecerile clientului{scope.suffix}.")
    names: list[str] = []
    for p in with_chars:
        names.extend(c for c in p.characters if c not in names)
    detail = "; ".join(f"{day_text(p.day)}: {', '.join(p.characters)}" for p in with_chars)
    return reply(f"Personaje{scope.suffix}: {', '.join(names)} ({detail}).", with_chars)


def services(q: Question, scope: Scope) -> AskAnswer:
    pool = scope.active or scope.chosen
    text, used = _listing(pool, lambda r: True)
    if not used:
        return reply(f"Nu apar servicii la petrecerile clientului{scope.suffix}.")
    return reply(f"Servicii{scope.suffix}: {text}.", used)


def role_count(q: Question, scope: Scope) -> AskAnswer | None:
    kinds = [kind for pattern, kind in _NOUNS if q.has(rf"\b(?:cate|cati)\s+(?:\w+\s+)?{pattern}")]
    if not kinds:
        return None
    kind = kinds[0]
    chosen = one_or_more(q, scope) if scope.narrowed else (scope.active or scope.chosen)

    def pick(r: Role) -> bool:
        return r.kind == kind

    lines, cited, total = [], [], 0
    for p in chosen:
        roles = [r for r in p.roles if pick(r)]
        if not roles:
            continue
        n = sum(r.count or 1 for r in roles) if kind != "ANIMATOR" else len(roles)
        total += n
        cited.append(p)
        lines.append(f"{day_text(p.day)}: {', '.join(role_text(r) for r in roles)}")
    word = ROLE_WORDS.get(kind, kind.lower())
    if not cited:
        return reply(f"Nu apare {word} la petrecerile cerute{scope.suffix}.")
    head = f"{total} {word}" if len(cited) == 1 else f"{total} {word} în total"
    return reply(f"{head}{scope.suffix} ({'; '.join(lines)}).", cited)


KINDS = [
    Kind("role_count", r"\b(?:cate|cati)\b", role_count),
]

LATER_KINDS = [
    Kind(
        "characters",
        r"\b(?:ce|care|cine|ce\s+fel\s+de|cu)\b(?:\s+\w+){0,2}\s+(?:personaj\w*|animator\w*|"
        r"erou\w*|eroi|mascot\w*)\b|\bcine\s+a\s+venit|\bpersonajele\b|\bcine\s+(?:vine|vin)\b",
        characters,
    ),
    Kind(
        "services",
        r"\bservicii\w*|\broluri\w*|\bce\s+a\s+(?:comandat|rezervat|avut|luat)\b|"
        r"\bce\s+au\s+(?:avut|comandat|rezervat|luat)\b|\bce\s+(?:vine|vin|avem)\s+la\b|"
        r"\bce\s+include\b|\bpachet\w*",
        services,
    ),
]
