"""Which of the client's parties a question is about: narrowed by a child, a character, a
service, a place and the dates it names, then (when it asks for one) the first, last or next.

Archived events are never parties (the app archives duplicates and deleted bookings). Cancelled
parties stay in `chosen` so a question about them can be answered; `active` leaves them out."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from shared.crm.ask.party import Party, name_key
from shared.crm.ask.question import DateSpec, Question
from shared.crm.ask.render import ROLE_WORDS
from shared.crm.heuristics.text import fold

SERVICE_WORDS = (
    (r"\bbotez\w*|\bursitoar\w*", "URSITOARE"),
    (r"\bmos\s+craciun\w*|\bcraciun\w*", "SANTA_CLAUS"),
    (r"\bheliu\w*", "HELIUM_BALLOONS"),
    (r"\bvat[aei]\b|\bvata\s+de\s+zahar", "COTTON_CANDY"),
    (r"\bpopcorn|\bfloricele", "POPCORN"),
    (r"\barcade|\baparat\w*", "ARCADE"),
    (r"\bfum(?:ul)?\s+greu|\bgheata\s+carbonica", "DRY_ICE"),
    (r"\bdecor\w*", "DECORATIONS"),
)

# Address words too common to name a place ("cea mai mare sumă" is not "Str. Mare").
_PLACE_STOPWORDS = frozenset(
    {
        "strada",
        "str",
        "numar",
        "numarul",
        "bloc",
        "scara",
        "etaj",
        "apartament",
        "sector",
        "bulevardul",
        "bdul",
        "soseaua",
        "sos",
        "calea",
        "aleea",
        "piata",
        "judet",
        "judetul",
        "comuna",
        "oras",
        "mare",
        "mica",
        "mic",
        "lunga",
        "scurta",
        "noua",
        "nou",
        "vechi",
        "veche",
        "centru",
        "central",
        "principala",
        "petrecere",
        "petrecerea",
        "restaurant",
        "sala",
        "casa",
        "loc",
        "joaca",
        "parc",
    }
)


@dataclass
class Scope:
    parties: list[Party]  # every non-archived party, in date order (undated last)
    chosen: list[Party]  # what the question narrows to (cancelled ones included)
    labels: list[str] = field(default_factory=list)  # what narrowed it, for the answer
    selector: str | None = None  # first | last | next | upcoming | past
    note: str = ""  # e.g. nothing on the day asked, the closest party instead
    pool: list[Party] = field(default_factory=list)  # `chosen` before first/last/next

    @property
    def active(self) -> list[Party]:
        return [p for p in self.chosen if not p.cancelled]

    @property
    def narrowed(self) -> bool:
        return bool(self.labels) or self.selector is not None

    @property
    def suffix(self) -> str:
        return f" ({', '.join(self.labels)})" if self.labels else ""


def _name_forms(name: str) -> set[str]:
    """'irina' → irina, irinei (of Irina); 'bianca' → biancai; 'tudor' → tudor, tudorului."""
    forms = {name}
    if name.endswith("a") and len(name) > 2:
        forms |= {name[:-1] + "ei", name[:-1] + "ai"}
    else:
        forms.add(name + "ului")
    return forms


def _children_named(q: Question, parties: list[Party]) -> dict[str, str]:
    """name key → the name as written in the events, for the children the question names."""
    words = set(re.findall(r"[a-z0-9]+", q.text))
    named: dict[str, str] = {}
    for party in parties:
        for child, _ in party.children():
            key = name_key(child)
            first = re.split(r"[\s-]", key)[0]
            if f" {key} " in f" {q.text} " or (first and words & _name_forms(first)):
                named.setdefault(key, child)
    return named


def celebrates(party: Party, children: set[str]) -> bool:
    return any(name_key(c) in children for c, _ in party.children())


def _character_pattern(name: str) -> str:
    parts = [re.escape(p) for p in re.split(r"[\s-]+", fold(name)) if p]
    return r"\b" + r"[\s-]?".join(parts) + r"\b"


def _characters_named(q: Question, parties: list[Party]) -> list[str]:
    names: list[str] = []
    for party in parties:
        for character in party.characters:
            key = fold(character)
            if key not in names and re.search(_character_pattern(character), q.text):
                names.append(key)
    return names


def _place_words(q: Question, parties: list[Party]) -> set[str]:
    words = set(re.findall(r"[a-z]{4,}", q.text)) - _PLACE_STOPWORDS
    found = set()
    for party in parties:
        if party.address:
            found |= words & set(re.findall(r"[a-z]{4,}", fold(party.address)))
    return found


def _by_dates(q: Question, parties: list[Party], spec: DateSpec) -> tuple[list[Party], str]:
    """Parties on the days named; a yearless month or day takes the year the tense points to;
    one day with nothing on it gives the closest party (said so in the note)."""
    dated = [p for p in parties if p.day is not None]
    hits = [p for p in dated if p.day is not None and spec.matches(p.day)]
    years = sorted({p.day.year for p in hits if p.day is not None})
    if spec.year is None and spec.start is None and len(years) > 1:
        past = [
            yr for yr in years if any(p.day and p.day.year == yr and p.day <= q.today for p in hits)
        ]
        future = [
            yr for yr in years if any(p.day and p.day.year == yr and p.day >= q.today for p in hits)
        ]
        if q.tense == "past" and past:
            year = past[-1]
        elif q.tense != "past" and future:
            year = future[0]
        else:
            year = (past or years)[-1]
        hits = [p for p in hits if p.day is not None and p.day.year == year]
    if hits or not spec.one_day:
        return hits, ""
    targets = spec.targets({p.day.year for p in dated if p.day} | {q.today.year})
    if not targets or not dated:
        return [], ""
    best = min(dated, key=lambda p: min(abs((p.day - t).days) for t in targets if p.day))
    asked = min(targets, key=lambda t: abs((best.day - t).days) if best.day else 0)
    gap = min(abs((p.day - asked).days) for p in [best] if p.day)
    closest = [p for p in dated if p.day == best.day]
    return closest, f"Nicio petrecere pe {asked:%d-%m-%Y}; cea mai apropiată e la {gap} zile"


def _select(q: Question, parties: list[Party]) -> tuple[list[Party], str | None]:
    active = [p for p in parties if not p.cancelled]
    dated = [p for p in active if p.day is not None]
    past = [p for p in dated if p.day is not None and p.day <= q.today]
    coming = [p for p in dated if p.day is not None and p.day >= q.today]
    if q.has(r"\bprim(?:a|ul|ei|ului)\b|\bcea\s+mai\s+veche\b|\bprima\s+data\b"):
        return dated[:1], "first"
    if q.has(
        r"\bultim(?:a|ul|ei|ului)\b|\bcea\s+mai\s+recenta\b|\bmai\s+recent\w*|\bdata\s+trecuta\b|\brecent\w*"
    ):
        if q.has(r"\bprogramat\w*") and dated:
            return dated[-1:], "last"
        return (past[-1:] if past else []), "last"
    if q.has(
        r"\burmatoare\w*|\burmatorul\b|\burmeaza\b|\bcare\s+vine\b|\bviitoare\b|\bin\s+curand\b"
    ):
        return coming[:1], "next"
    if q.has(r"\bprogramat\w*|\bin\s+viitor\b|\bde\s+acum\s+incolo\b|\bviitoarele\b"):
        return coming, "upcoming"
    if q.has(
        r"\bpana\s+(?:acum|azi|astazi|in\s+prezent)\b|\bdeja\b|\bau\s+avut\s+loc\b|"
        r"\ba\s+avut\s+loc\b|\bin\s+trecut\b"
    ):
        return [p for p in parties if p.day is not None and p.day <= q.today], "past"
    return parties, None


def scope_of(q: Question, parties: list[Party]) -> Scope:
    live = [p for p in parties if not p.archived]
    chosen = live
    labels: list[str] = []
    children = _children_named(q, chosen)
    if children:
        chosen = [p for p in chosen if celebrates(p, set(children))]
        labels.append(", ".join(sorted(children.values())))
    characters = _characters_named(q, chosen)
    if characters:
        every = [p for p in chosen if set(characters) <= {fold(c) for c in p.characters}]
        chosen = every or [p for p in chosen if set(characters) & {fold(c) for c in p.characters}]
        written = {fold(c): c for p in chosen for c in p.characters}
        labels.append("cu " + ", ".join(written.get(c, c) for c in characters))
    for pattern, role_type in SERVICE_WORDS:
        if q.has(pattern):
            chosen = [p for p in chosen if any(r.kind == role_type for r in p.roles)]
            labels.append(ROLE_WORDS.get(role_type, role_type.lower()))
    places = _place_words(q, chosen)
    if places:
        at = [
            p
            for p in chosen
            if p.address and places & set(re.findall(r"[a-z]{4,}", fold(p.address)))
        ]
        if at and len(at) < len(chosen):
            chosen = at
            labels.append("la " + ", ".join(sorted(places)))
    if q.has(
        r"\bfara\s+data\b|\bnu\s+(?:are|avem|e|este|am)\s+(?:inca\s+)?(?:o\s+)?data\b|\bnedatat\w*"
    ):
        chosen = [p for p in chosen if p.day is None]
        labels.append("fără dată")
    note = ""
    if q.dates:
        # several dates ("în 2024 și 2025", "pe 14.02 sau 21.03") are alternatives: the union
        hits: set[int] = set()
        for spec in q.dates:
            found, said = _by_dates(q, chosen, spec)
            hits |= {id(p) for p in found}
            note = note or said
        chosen = [p for p in chosen if id(p) in hits]
        labels.append(" și ".join(spec.label for spec in q.dates))
    pool = chosen
    chosen, selector = _select(q, chosen)
    return Scope(live, chosen, labels, selector, note, pool)
