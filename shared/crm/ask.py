"""`clientCrmAsk`: answers about one client from its own data, in Romanian, numbers exact.

Pure logic: the caller loads the client document and its events. Questions about money (spent,
paid, still to pay, average), counts, first/last/next party, the most expensive one, characters,
addresses, ages, cancellations, and a specific party's details are answered from the events
themselves. Only other questions go to the language model (when one is configured), and every
source it cites must be an event of this client; without a model the answer says what can be
asked."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from shared.crm.heuristics.dates import MONTHS
from shared.crm.heuristics.text import fold
from shared.events import (
    event_amount,
    event_date,
    event_short_id,
    event_sort_key,
    event_status,
    format_event_date,
    is_archived,
    normalize_event,
)

CAPABILITIES = (
    "Pot răspunde din datele clientului la: cât a cheltuit în total, cât a plătit, cât mai are "
    "de plătit, costul mediu al unei petreceri, câte petreceri a avut (sau a plătit integral), "
    "prima, ultima sau următoarea petrecere, cea mai scumpă petrecere, ce personaje au venit, "
    "la ce adrese, ce vârstă avea copilul, ce petreceri au fost anulate și detaliile unei "
    "petreceri (după numele copilului, lună sau an)."
)
NO_MODEL = "Nu am un model de limbaj configurat pentru întrebări libere. " + CAPABILITIES


_DATE = re.compile(r"\d{2}-\d{2}-\d{4}")


@dataclass
class AskAnswer:
    answer: str
    sources: list[dict[str, Any]] = field(default_factory=list)
    used_model: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The `clientCrmAsk` result. CONTRACT section 3: each source's `date` is `DD-MM-YYYY`,
        so an event without a readable date is described in the answer but not listed."""
        sources = [s for s in self.sources if _DATE.fullmatch(str(s.get("date")))]
        return {"answer": self.answer, "sources": sources}


class FreeTextModel(Protocol):
    """Answers a free-text question from the client JSON and events JSON; returns the answer and
    the eventShortIds it cites. Raises on any failure."""

    def answer(
        self, client: Mapping[str, Any], events: list[dict[str, Any]], question: str
    ) -> tuple[str, list[Any]]: ...


# ---- event helpers -----------------------------------------------------------------------------


def _fmt_money(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def _currency(event: Mapping[str, Any]) -> str:
    payment = event.get("payment") or {}
    currency = payment.get("currency") if isinstance(payment, Mapping) else None
    return "EUR" if isinstance(currency, str) and currency.upper() in ("EUR", "EURO") else "lei"


def _sum_text(events: Sequence[Mapping[str, Any]]) -> str:
    """'1200 lei', or '1200 lei și 150 EUR' when currencies mix."""
    totals: dict[str, float] = {}
    for event in events:
        totals[_currency(event)] = totals.get(_currency(event), 0) + float(event_amount(event))
    if not totals:
        return "0 lei"
    order = sorted(totals, key=lambda c: c != "lei")
    return " și ".join(f"{_fmt_money(totals[c])} {c}" for c in order)


def _roles(event: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    roles = event.get("rolesBySlot") or {}
    if not isinstance(roles, Mapping):
        return []
    return [roles[k] for k in sorted(roles) if isinstance(roles[k], Mapping)]


def _characters(event: Mapping[str, Any]) -> list[str]:
    out = []
    for role in _roles(event):
        details = role.get("details") or {}
        character = details.get("character") if isinstance(details, Mapping) else None
        if role.get("roleType") == "ANIMATOR" and isinstance(character, str) and character:
            out.append(character)
    return out


_ROLE_WORDS = {
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
_STATUS_WORDS = {"PAID": "plătită", "UNPAID": "neplătită", "CANCELLED": "anulată"}


def _role_text(role: Mapping[str, Any]) -> str:
    details = role.get("details") or {}
    details = details if isinstance(details, Mapping) else {}
    kind = str(role.get("roleType") or role.get("label") or "rol")
    character = details.get("character")
    count = details.get("count")
    if kind == "ANIMATOR" and character:
        text = f"animator {character}"
    else:
        text = _ROLE_WORDS.get(kind, kind.lower())
        if isinstance(count, int | float) and count and count != 1:
            text = f"{_fmt_money(count)} {text}"
    if role.get("startTime"):
        text += f" la {role['startTime']}"
    return text


def _date_text(event: Mapping[str, Any]) -> str:
    day = event_date(event)
    return format_event_date(day) if day else "fără dată"


def describe(event: Mapping[str, Any]) -> str:
    parts = [_date_text(event)]
    if event.get("childName"):
        age = event.get("childAge")
        shown = isinstance(age, int | float) and not isinstance(age, bool) and age > 0
        parts.append(
            f"{event['childName']}" + (f" ({_fmt_money(float(age or 0))} ani)" if shown else "")
        )
    start = _start_time(event)
    if start:
        parts.append(f"ora {start}")
    if event.get("address"):
        parts.append(str(event["address"]))
    kids = event.get("numChildren")
    if isinstance(kids, int) and not isinstance(kids, bool) and kids > 0:
        parts.append(f"{kids} copii")
    roles = [_role_text(r) for r in _roles(event)]
    if roles:
        parts.append(", ".join(roles))
    parts.append(
        f"{_fmt_money(event_amount(event))} {_currency(event)}, "
        f"{_STATUS_WORDS[event_status(event)]}"
    )
    if is_archived(event):
        parts.append("arhivată")
    return "; ".join(parts)


def _start_time(event: Mapping[str, Any]) -> str | None:
    starts = [str(r["startTime"]) for r in _roles(event) if r.get("startTime")]
    if isinstance(event.get("startTime"), str):
        starts.append(event["startTime"])
    return min(starts) if starts else None


def source(event: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "eventShortId": event_short_id(event),
        "date": _date_text(event),
        "details": describe(event),
    }


def _party_word(n: int, singular_suffix: str = "", plural_suffix: str = "") -> str:
    """'o petrecere neplătită' / '2 petreceri neplătite' / '20 de petreceri'."""
    if n == 1:  # digits, not "o": answers are checked for exact numbers
        return "1 petrecere" + (f" {singular_suffix}" if singular_suffix else "")
    of = "de " if n % 100 >= 20 or (n % 100 == 0 and n) else ""
    return f"{n} {of}petreceri" + (f" {plural_suffix}" if plural_suffix else "")


# ---- question analysis -----------------------------------------------------------------------


@dataclass
class _Question:
    text: str
    events: list[dict[str, Any]]  # normalized, sorted by real date
    today: date

    def has(self, pattern: str) -> bool:
        return re.search(pattern, self.text) is not None


def _name_forms(name: str) -> set[str]:
    """A first name as a question may write it: 'irina', 'irinei' (of Irina), 'ilincai'."""
    forms = {name}
    if name.endswith("a") and len(name) > 2:
        forms |= {name[:-1] + "ei", name[:-1] + "ai"}
    return forms


def _filters(
    question: _Question, events: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Narrow events by a child's name, a year, a month or a kind of party named in the question."""
    applied: list[str] = []
    words = set(re.findall(r"\w+", question.text))
    names = {
        fold(str(e.get("childName") or "")).split(" ")[0] for e in events if e.get("childName")
    }
    named = [n for n in names if n and words & _name_forms(n)]
    if named:
        events = [e for e in events if fold(str(e.get("childName") or "")).split(" ")[0] in named]
        applied.append("copil")
    year = re.search(r"\b(20\d\d)\b", question.text)
    if year:
        events = [e for e in events if (d := event_date(e)) and d.year == int(year.group(1))]
        applied.append("an")
    month = re.search(
        r"\b(?:din|in|pe|luna)\s+(" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\b",
        question.text,
    )
    if month:
        number = MONTHS[month.group(1)]
        events = [e for e in events if (d := event_date(e)) and d.month == number]
        applied.append("luna")
    for pattern, role_type in _SERVICE_WORDS:
        if question.has(pattern):
            events = [e for e in events if any(r.get("roleType") == role_type for r in _roles(e))]
            applied.append(role_type)
    return events, applied


_SERVICE_WORDS = (
    (r"\bbotez|\bursitoar", "URSITOARE"),
    (r"\bmos\s+craciun|\bcraciun", "SANTA_CLAUS"),
    (r"\bheliu", "HELIUM_BALLOONS"),
    (r"\bvat[aei]\b|\bvata\s+de\s+zahar", "COTTON_CANDY"),
    (r"\bpopcorn|\bfloricele", "POPCORN"),
    (r"\barcade|\baparat", "ARCADE"),
    (r"\bfum\s+greu", "DRY_ICE"),
    (r"\bdecor", "DECORATIONS"),
)


def _active(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Parties that count: not archived, not cancelled."""
    return [e for e in events if not is_archived(e) and event_status(e) != "CANCELLED"]


def _answer(text: str, events: Sequence[Mapping[str, Any]]) -> AskAnswer:
    return AskAnswer(text, [source(e) for e in events])


def _data_answer(q: _Question) -> AskAnswer | None:
    filtered, applied = _filters(q, q.events)
    active = _active(filtered)
    scope = " (pentru petrecerile cerute)" if applied else ""
    if not q.events:
        # the numbers still have an exact answer: nothing spent, no party
        return AskAnswer("Clientul nu are nicio petrecere înregistrată (0 petreceri, 0 lei).", [])
    # "plătite sau nu", "și cele neplătite", "indiferent de plată": every party, paid or not
    both = q.has(
        r"\bplatit\w*\s+(?:sau|si|ori)\s+(?:nu\b|ne\s*platit\w*|neplatit\w*)|\bindiferent\b|"
        r"\b(?:si|cu\s+tot\s+cu|inclusiv)\s+(?:cele\s+)?neplatit\w*"
    )

    if q.has(r"\banulat\w*|\banulari\w*|\banulate\b"):
        cancelled = [e for e in filtered if event_status(e) == "CANCELLED"]
        if not cancelled:
            return AskAnswer(f"Nicio petrecere anulată{scope}.", [])
        listing = "; ".join(describe(e) for e in cancelled)
        count = _party_word(len(cancelled), "anulată", "anulate")
        return _answer(f"{count[0].upper()}{count[1:]}{scope}: {listing}.", cancelled)

    if (
        q.has(
            r"\bmai\s+(?:are|avem)\s+de\s+(?:platit|incasat|achitat)|\bde\s+achitat\b|\bde\s+plata\b|\bdatoreaz\w*|\brestant\w*|\bneplatit\w*|\bnu\s+a\s+platit|\brest\w*\s+de\s+plata|\bde\s+incasat|\bdatori"
        )
        and not both
    ):
        unpaid = [e for e in active if event_status(e) == "UNPAID"]
        return _answer(
            f"Clientul mai are de plătit {_sum_text(unpaid)}{scope} "
            f"({_party_word(len(unpaid), 'neplătită', 'neplătite')}).",
            unpaid,
        )

    if (
        q.has(r"\b(?:cate|cati|numarul)\b")
        and q.has(
            r"\bplatit\w*\s+integral|\bplatite\b|\bachitat\w*|\bplatit\w*\s+complet|\bintegral"
        )
        and not both
    ):
        paid = [e for e in active if event_status(e) == "PAID"]
        return _answer(
            f"Clientul a plătit integral {_party_word(len(paid))}{scope}: "
            f"{_sum_text(paid)} în total.",
            paid,
        )

    if q.has(r"\bmedi[ea]\b|\bin\s+medie\b|\bmediu\b"):
        if not active:
            return AskAnswer(f"Nu există petreceri valide pentru o medie{scope}.", [])
        average = sum(float(event_amount(e)) for e in active) / len(active)
        return _answer(
            f"O petrecere a costat în medie {_fmt_money(round(average, 2))} lei{scope} "
            f"({_party_word(len(active))}, total {_sum_text(active)}).",
            active,
        )

    if q.has(
        r"\b(?:cate|cati)\b(?:\s+\w+){0,3}?\s+(?:petreceri|evenimente|rezervari|botezuri|aniversari|"
        r"ori)\b|\bde\s+cate\s+ori\b|\bnumarul\s+de\s+(?:petreceri|evenimente)"
    ):
        cancelled = [e for e in filtered if event_status(e) == "CANCELLED" and not is_archived(e)]
        extra = f" (plus {_party_word(len(cancelled), 'anulată', 'anulate')})" if cancelled else ""
        count = _party_word(len(active))
        return _answer(f"Clientul a avut {count}{scope}{extra}.", active)

    if (
        q.has(
            r"\b(?:a\s+platit|platit\s+deja|a\s+achitat|incasat\w*|s-a\s+platit|a\s+dat|platit[ae]?|"
            r"achitat[ae]?|platile|achitari)\b"
        )
        and not q.has(r"\bcheltuit")
        and not both
    ):
        paid = [e for e in active if event_status(e) == "PAID"]
        return _answer(
            f"Clientul a plătit {_sum_text(paid)}{scope} "
            f"({_party_word(len(paid), 'plătită', 'plătite')}).",
            paid,
        )

    if both or q.has(
        r"\bcheltuit\w*|\bcheltuieli|\bin\s+total\b|\bvaloare\w*|\bcat\s+a\s+costat\s+tot|\bsuma\s+totala|\bbani\b"
    ):
        paid = [e for e in active if event_status(e) == "PAID"]
        unpaid = [e for e in active if event_status(e) == "UNPAID"]
        return _answer(
            f"Clientul a cheltuit în total {_sum_text(active)}{scope} "
            f"pe {_party_word(len(active))} "
            f"(plătit: {_sum_text(paid)}; de plătit: {_sum_text(unpaid)}).",
            active,
        )

    if q.has(
        r"\bcea\s+mai\s+scump\w*|\bcel\s+mai\s+scump\w*|\bcea\s+mai\s+mare\s+suma|\bcel\s+mai\s+mult\b"
    ):
        if not active:
            return AskAnswer(f"Nicio petrecere validă{scope}.", [])
        top = max(active, key=lambda e: float(event_amount(e)))
        return _answer(
            f"Cea mai scumpă petrecere{scope}: {_fmt_money(event_amount(top))} "
            f"{_currency(top)}, pe {_date_text(top)} ({describe(top)}).",
            [top],
        )

    if q.has(r"\bcea\s+mai\s+ieftin\w*|\bcel\s+mai\s+ieftin\w*|\bcel\s+mai\s+putin\b"):
        if not active:
            return AskAnswer(f"Nicio petrecere validă{scope}.", [])
        low = min(active, key=lambda e: float(event_amount(e)))
        return _answer(
            f"Cea mai ieftină petrecere{scope}: {_fmt_money(event_amount(low))} "
            f"{_currency(low)}, pe {_date_text(low)} ({describe(low)}).",
            [low],
        )

    selected = _pick_one(q, active)

    if q.has(
        r"\b(?:ce|care|cine|ce\s+fel\s+de|cu)\b(?:\s+\w+){0,2}\s+(?:personaj\w*|animator\w*|"
        r"erou\w*|eroi)\b|\bcine\s+a\s+venit|\bpersonajele\b"
    ):
        chosen = [selected] if selected is not None else active
        with_chars = [e for e in chosen if _characters(e)]
        if not with_chars:
            return AskAnswer(f"Nu apar personaje în petrecerile clientului{scope}.", [])
        names: list[str] = []
        for e in with_chars:
            names.extend(c for c in _characters(e) if c not in names)
        detail = "; ".join(f"{_date_text(e)}: {', '.join(_characters(e))}" for e in with_chars)
        return _answer(f"Personaje{scope}: {', '.join(names)} ({detail}).", with_chars)

    if q.has(r"\bservicii\w*|\bce\s+a\s+(?:comandat|rezervat|avut|luat)\b|\bce\s+au\s+avut\b"):
        chosen = [selected] if selected is not None else active
        with_roles = [e for e in chosen if _roles(e)]
        if not with_roles:
            return AskAnswer(f"Nu apar servicii în petrecerile clientului{scope}.", [])
        detail = "; ".join(
            f"{_date_text(e)}: {', '.join(_role_text(r) for r in _roles(e))}" for e in with_roles
        )
        return _answer(f"Servicii{scope}: {detail}.", with_roles)

    # "adresa de email" is not where a party was (and the events do not hold an email)
    if q.has(r"\badres\w*|\bunde\b|\blocati\w*|\blocul\b") and not q.has(r"\be-?mail\w*|\bmail\w*"):
        chosen = [selected] if selected is not None else active
        with_address = [e for e in chosen if e.get("address")]
        if not with_address:
            return AskAnswer(f"Nu am adresă pentru petrecerile cerute{scope}.", [])
        detail = "; ".join(f"{_date_text(e)}: {e['address']}" for e in with_address)
        return _answer(f"Adresa{scope}: {detail}.", with_address)

    if q.has(r"\bcum\s+(?:se\s+numeste|il\s+cheama|o\s+cheama)|\bnumele\s+(?:copil|sarbatorit)"):
        chosen = [selected] if selected is not None else active
        named = [e for e in chosen if e.get("childName")]
        children: list[str] = []
        for e in named:
            if str(e["childName"]) not in children:
                children.append(str(e["childName"]))
        if not children:
            return AskAnswer(f"Nu am numele copilului{scope}.", [])
        detail = "; ".join(f"{_date_text(e)}: {e['childName']}" for e in named)
        label = "Sărbătorit" if len(children) == 1 else "Sărbătoriți"
        return _answer(f"{label}{scope}: {', '.join(children)} ({detail}).", named)

    if q.has(r"\bvarsta\b|\bcati\s+ani\b|\bce\s+varsta"):
        event = selected or (active[-1] if active else None)
        if event is None or event.get("childAge") in (None, ""):
            return AskAnswer(f"Nu am vârsta copilului{scope}.", [event] if event else [])
        return _answer(
            f"{event.get('childName') or 'Copilul'} avea {event['childAge']} ani "
            f"la petrecerea din {_date_text(event)}.",
            [event],
        )

    if selected is not None and q.has(
        r"\b(?:prima|primul|ultima|ultimul|urmatoare\w*|cand|recent\w*|viitoare)\b"
    ):
        return _answer(
            f"{_when_label(q)}{scope}: {_date_text(selected)} ({describe(selected)}).", [selected]
        )

    if applied and filtered:
        return _answer(
            f"Detalii{scope}: " + " | ".join(describe(e) for e in filtered) + ".", filtered
        )
    return None


def _when_label(q: _Question) -> str:
    if q.has(r"\bprima\b|\bprimul\b"):
        return "Prima petrecere"
    if q.has(r"\burmatoare\w*|\bviitoare\b"):
        return "Următoarea petrecere"
    return "Ultima petrecere"


def _pick_one(q: _Question, active: list[dict[str, Any]]) -> dict[str, Any] | None:
    """'prima' → the earliest; 'următoarea' → the next one from today; 'ultima' → the latest
    that already happened (or the latest at all)."""
    dated = [e for e in active if event_date(e) is not None]
    if not dated:
        return None
    if q.has(r"\bprima\b|\bprimul\b|\bcea\s+mai\s+veche\b"):
        return dated[0]
    if q.has(r"\burmatoare\w*|\bviitoare\b|\burmeaza\b|\burmatorul\b"):
        upcoming = [e for e in dated if (event_date(e) or date.min) >= q.today]
        return upcoming[0] if upcoming else None
    if q.has(r"\bultima\b|\bultimul\b|\bcea\s+mai\s+recenta\b|\brecent\w*\b|\bcand\s+a\s+fost\b"):
        # "a fost / a avut": the latest one that already happened; otherwise the latest booked
        # (what clients.lastEventAt holds).
        if q.has(r"\ba\s+(?:fost|avut|venit|costat)\b|\bau\s+(?:fost|venit)\b"):
            past = [e for e in dated if (event_date(e) or date.max) <= q.today]
            return (past or dated)[-1]
        return dated[-1]
    return None


def answer_question(
    client: Mapping[str, Any] | None,
    events: Sequence[Mapping[str, Any]],
    question: str,
    *,
    model: FreeTextModel | None = None,
    today: date | None = None,
    on_model_error: Callable[[Exception], None] | None = None,
) -> AskAnswer:
    normalized = sorted((normalize_event(e) for e in events), key=event_sort_key)
    q = _Question(fold(question), normalized, today or datetime.now().date())
    answer = _data_answer(q)
    if answer is not None:
        return answer
    if model is None:
        return AskAnswer(NO_MODEL, [])
    try:
        text, cited = model.answer(client or {}, [_public(e) for e in normalized], question)
    except Exception as exc:  # the model is optional: any failure falls back to the data
        if on_model_error is not None:
            on_model_error(exc)
        return AskAnswer("Modelul de limbaj nu a răspuns acum. " + CAPABILITIES, [])
    return AskAnswer(
        text.strip() or CAPABILITIES, grounded_sources(cited, normalized), used_model=True
    )


def grounded_sources(
    cited: Sequence[Any], events: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Only sources that are real events of this client, each once; made-up ids are dropped."""
    by_id = {event_short_id(e): e for e in events if event_short_id(e) is not None}
    out: list[dict[str, Any]] = []
    seen: set[int] = set()
    for raw in cited:
        candidate = raw.get("eventShortId") if isinstance(raw, Mapping) else raw
        key: int | None = None
        if isinstance(candidate, int | str) and not isinstance(candidate, bool):
            try:
                key = int(candidate)
            except ValueError:
                key = None
        if key is None or key not in by_id or key in seen:
            continue
        seen.add(key)
        out.append(source(by_id[key]))
    return out


def _public(event: Mapping[str, Any]) -> dict[str, Any]:
    """An event as the model sees it: JSON-safe, no audit fields."""
    keep = (
        "eventShortId",
        "date",
        "address",
        "childName",
        "childAge",
        "numChildren",
        "payment",
        "rolesBySlot",
        "isArchived",
    )
    return json.loads(json.dumps({k: event.get(k) for k in keep}, default=str))
