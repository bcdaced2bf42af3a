"""The answer type and the helpers every question kind uses to build one."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from shared.crm.ask.party import Party
from shared.crm.ask.question import Question
from shared.crm.ask.render import source
from shared.crm.ask.scope import Scope

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


def reply(text: str, parties: Sequence[Party] = ()) -> AskAnswer:
    """An answer citing exactly the parties its facts come from (each once, in date order)."""
    seen: set[int] = set()
    cited = []
    for party in parties:
        if id(party) not in seen:
            seen.add(id(party))
            cited.append(source(party))
    return AskAnswer(text, cited)


# A kind's answer: None when the kind does not apply after all (the next kind is tried).
Answerer = Callable[[Question, Scope], AskAnswer | None]


@dataclass(frozen=True)
class Kind:
    """One kind of question: a matcher over the folded question and a pure answer over the
    client's parties in scope."""

    name: str
    pattern: str
    answer: Answerer
    unless: str | None = None  # a question matching this is not of this kind
    # when it matches and answers None, no later kind is tried: the data does not tell
    final: bool = False

    def matches(self, q: Question) -> bool:
        return q.has(self.pattern) and not (self.unless and q.has(self.unless))


def one_or_more(q: Question, scope: Scope) -> list[Party]:
    """The parties a single-value question ("at what time", "how much") is about: those the
    question narrows to; without any narrowing, by tense: the last one that happened for a
    past-tense question, else the next one (or the last one when nothing is booked)."""
    if scope.narrowed:
        return scope.active or scope.chosen
    dated = [p for p in scope.active if p.day is not None]
    past = [p for p in dated if p.day is not None and p.day <= q.today]
    coming = [p for p in dated if p.day is not None and p.day >= q.today]
    if len(scope.active) <= 1:
        return scope.active
    if q.tense == "past":
        return past[-1:] or coming[:1]
    return coming[:1] or past[-1:]
