"""Scoring rules of the CRM corpus (issue 6), used by `superparty-crm eval` and the tests.

Extraction: the intent must match; for BOOKING records each field counts when equal (dates,
times, numbers, status exactly; names case- and diacritic-insensitively; addresses when at least
80% of the expected address's words, lowercased, without diacritics and with street
abbreviations expanded, appear in the prediction; roles as a multiset of `roleType`).
Ask: an answer counts when it contains every `must_contain` string ("answers"; case- and
diacritic-insensitive). A record is *correct* when, besides, its cited events are among the
events that support the answer (`sources`, plus any `also_ok`), at least one is cited when
`sources` is not empty, and, for `honest: true` (the data cannot answer), the answer says so
instead of guessing. A cited source is *unverifiable* when no event of the record has its
`eventShortId` and its `DD-MM-YYYY` date: the figure that must stay 0."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.crm.heuristics.text import strip_diacritics
from shared.events import normalize_event

SCORED_FIELDS = (
    "date",
    "startTime",
    "address",
    "childName",
    "childAge",
    "amount",
    "status",
    "roles",
)

_EXPANSIONS = {
    "str": "strada",
    "bd": "bulevardul",
    "bld": "bulevardul",
    "bdul": "bulevardul",
    "sos": "soseaua",
    "nr": "numarul",
    "bl": "bloc",
    "sc": "scara",
    "ap": "apartament",
    "et": "etaj",
    "jud": "judetul",
    "com": "comuna",
    "sect": "sector",
    "al": "aleea",
    "buc": "bucuresti",
    "sf": "sfantul",
    "pta": "piata",
    "prel": "prelungirea",
    "mun": "municipiul",
}


def address_words(address: str) -> list[str]:
    text = strip_diacritics(address).lower().replace("b-dul", "bdul")
    return [_EXPANSIONS.get(w, w) for w in re.findall(r"\w+", text)]


def address_matches(expected: str | None, predicted: str | None) -> bool:
    if expected is None or predicted is None:
        return expected is None and predicted is None
    wanted = address_words(expected)
    if not wanted:
        return True
    have = set(address_words(predicted))
    return sum(w in have for w in wanted) / len(wanted) >= 0.8


def _name_key(name: str | None) -> str | None:
    return None if name is None else " ".join(strip_diacritics(name).lower().split())


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def field_hits(expected: Mapping[str, Any], predicted: Mapping[str, Any] | None) -> dict[str, bool]:
    """Per scored field: does the predicted event match the expected one?"""
    pred = dict(predicted or {})
    exp_pay = expected.get("payment") or {}
    pred_pay = pred.get("payment") or {}
    exp_roles = Counter(r.get("roleType") for r in expected.get("roles") or [])
    pred_roles = Counter(r.get("roleType") for r in pred.get("roles") or [])
    return {
        "date": expected.get("date") == pred.get("date"),
        "startTime": expected.get("startTime") == pred.get("startTime"),
        "address": address_matches(expected.get("address"), pred.get("address")),
        "childName": _name_key(expected.get("childName")) == _name_key(pred.get("childName")),
        "childAge": _number(expected.get("childAge")) == _number(pred.get("childAge")),
        "amount": _number(exp_pay.get("amount")) == _number(pred_pay.get("amount")),
        "status": exp_pay.get("status") == pred_pay.get("status"),
        "roles": exp_roles == pred_roles,
    }


@dataclass
class ExtractionScore:
    records: int = 0
    intent_hits: int = 0
    booking_records: int = 0
    field_hits: Counter[str] = field(default_factory=Counter)
    misses: list[tuple[str, str]] = field(default_factory=list)

    def add(
        self,
        record_id: str,
        expected: Mapping[str, Any],
        predicted_intent: str,
        predicted_event: Mapping[str, Any] | None,
    ) -> None:
        self.records += 1
        if expected.get("intent") == predicted_intent:
            self.intent_hits += 1
        else:
            self.misses.append((record_id, "intent"))
        if expected.get("intent") != "BOOKING":
            return
        self.booking_records += 1
        event = predicted_event if predicted_intent == "BOOKING" else None
        for name, hit in field_hits(expected.get("event") or {}, event).items():
            self.field_hits[name] += hit
            if not hit:
                self.misses.append((record_id, name))

    @property
    def intent_accuracy(self) -> float:
        return self.intent_hits / self.records if self.records else 0.0

    def field_accuracy(self, name: str) -> float:
        return self.field_hits[name] / self.booking_records if self.booking_records else 0.0

    @property
    def overall_field_accuracy(self) -> float:
        total = self.booking_records * len(SCORED_FIELDS)
        return sum(self.field_hits[n] for n in SCORED_FIELDS) / total if total else 0.0

    def table(self) -> str:
        lines = [f"{'field':<12} {'accuracy':>8}  hits/total"]
        lines.append(
            f"{'intent':<12} {self.intent_accuracy:>8.3f}  {self.intent_hits}/{self.records}"
        )
        for name in SCORED_FIELDS:
            lines.append(
                f"{name:<12} {self.field_accuracy(name):>8.3f}  "
                f"{self.field_hits[name]}/{self.booking_records}"
            )
        lines.append(f"{'fields(all)':<12} {self.overall_field_accuracy:>8.3f}")
        return "\n".join(lines)


def _fold(text: str) -> str:
    return strip_diacritics(text).lower()


def answer_hits(answer: str, must_contain: list[str]) -> bool:
    low = _fold(answer)
    return all(_fold(str(s)) in low for s in must_contain)


# Ways a Romanian answer says "the data does not tell": what an honest answer must contain when
# the expected record is `honest` (an answer with none of them states something as known).
_HONEST_MARKERS = re.compile(
    r"\b(nu|nicio|niciun|niciunul|niciuna|lipseste|lipsesc|necunoscut\w*)\b"
)


def says_unknown(answer: str) -> bool:
    return _HONEST_MARKERS.search(_fold(answer)) is not None


def _source_id(source: Mapping[str, Any]) -> int | None:
    value = source.get("eventShortId")
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def unverifiable_sources(
    sources: Sequence[Mapping[str, Any]], events: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """The cited sources no event of the record backs: the id is unknown, or the date given is
    not that event's date (an event without a readable date is cited with an empty date)."""
    known: set[tuple[int | None, str]] = set()
    for raw in events:
        event = normalize_event(raw)
        day = event.get("date")
        known.add((_source_id(event), day if isinstance(day, str) else ""))
    out = []
    for source in sources:
        day = source.get("date")
        if (_source_id(source), day if isinstance(day, str) else "") not in known:
            out.append(source)
    return out


def sources_hit(expected: Mapping[str, Any], sources: Sequence[Mapping[str, Any]]) -> bool:
    """Every cited event supports the answer; one is cited when some event does."""
    wanted = {int(s) for s in expected.get("sources") or []}
    allowed = wanted | {int(s) for s in expected.get("also_ok") or []}
    cited = {_source_id(s) for s in sources}
    if not cited <= allowed:
        return False
    return bool(cited) or not wanted or bool(expected.get("honest"))


@dataclass
class AskScore:
    records: int = 0
    answer_hits: int = 0
    source_exact: int = 0
    correct: int = 0
    unverifiable: int = 0
    misses: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)

    def add(
        self,
        record_id: str,
        expected: Mapping[str, Any],
        answer: str,
        sources: Sequence[Mapping[str, Any]],
        events: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        self.records += 1
        text_ok = answer_hits(answer, list(expected.get("must_contain") or []))
        if text_ok:
            self.answer_hits += 1
        else:
            self.misses.append(record_id)
        wanted = sorted(int(s) for s in expected.get("sources") or [])
        got = sorted(int(s["eventShortId"]) for s in sources if s.get("eventShortId") is not None)
        self.source_exact += wanted == got
        if events is not None:
            self.unverifiable += len(unverifiable_sources(sources, events))
        honest_ok = not expected.get("honest") or says_unknown(answer)
        if text_ok and honest_ok and sources_hit(expected, sources):
            self.correct += 1
        else:
            self.wrong.append(record_id)

    @property
    def accuracy(self) -> float:
        return self.answer_hits / self.records if self.records else 0.0

    @property
    def correct_rate(self) -> float:
        return self.correct / self.records if self.records else 0.0

    def table(self) -> str:
        return "\n".join(
            [
                f"{'metric':<16} {'value':>8}  hits/total",
                f"{'answers':<16} {self.accuracy:>8.3f}  {self.answer_hits}/{self.records}",
                f"{'sources exact':<16} "
                f"{(self.source_exact / self.records if self.records else 0):>8.3f}  "
                f"{self.source_exact}/{self.records}",
                f"{'correct':<16} {self.correct_rate:>8.3f}  {self.correct}/{self.records}",
                f"{'unverifiable':<16} {self.unverifiable:>8}  cited sources no event backs",
            ]
        )
