"""The table of question kinds, in the order they are tried, and the two ways a question is
matched against it: whole, or as two questions joined by "și" / "iar".

Each entry is a `Kind` (a matcher over the folded question and a pure answer over the client's
parties in scope). The order is the precedence: specific kinds ("câte ursitoare", "la ce
oră") come before general ones ("câte petreceri", "când"), and `not_in_data` comes first so a
question about the cake never reads as an order of services."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from shared.crm.ask import kinds_money, kinds_people, kinds_roles, kinds_time
from shared.crm.ask.answer import AskAnswer, Kind, reply
from shared.crm.ask.party import Party
from shared.crm.ask.question import Question, read_question
from shared.crm.ask.scope import Scope, scope_of
from shared.crm.heuristics.text import fold

# Topics the events never hold: answered honestly (or by the model), never by a near kind.
_NOT_IN_DATA = (
    r"\be-?mail\w*|\btort\w*|\bmeniu\w*|\bmancare\w*|\bbautur\w*|\bparere\w*|\bimpresi\w*|"
    r"\bfeedback\w*|\brecenzi\w*|\bcadou\w*|\bfacebook|\binstagram|\breactionat\b|"
    r"\bmultumit\w*|\bplacut\w*|\bcomentari\w*|\bfactur\w*|\bavans\w*|\bparola\w*|\bcnp\b|"
    r"\bculoare\w*|\btema\b"
)


def _not_in_data(q: Question, scope: Scope) -> AskAnswer | None:
    return None  # the model (when configured) or the honest answer


def _contact(client: Mapping[str, Any]) -> Callable[[Question, Scope], AskAnswer]:
    def answer(q: Question, scope: Scope) -> AskAnswer:
        phone = client.get("phoneE164")
        name = client.get("displayName")
        parents = sorted(
            {str(p.event.get("parentName")) for p in scope.parties if p.event.get("parentName")}
        )
        facts = []
        if name:
            facts.append(f"nume: {name}")
        if parents:
            facts.append(f"părinte trecut la petreceri: {', '.join(parents)}")
        if phone:
            facts.append(f"telefon: {phone}")
        if not facts:
            return reply("Nu am numele sau telefonul clientului în date.")
        return reply("Clientul — " + "; ".join(facts) + ".")

    return answer


KINDS: list[Kind] = [
    Kind("not_in_data", _NOT_IN_DATA, _not_in_data, final=True),
    *kinds_time.KINDS,
    *kinds_money.KINDS,
    *kinds_roles.KINDS,
    *kinds_people.KINDS,
    *kinds_time.COUNT_KINDS,
    *kinds_money.LATER_KINDS,
    *kinds_time.LATER_KINDS,
    *kinds_people.LATER_KINDS,
    *kinds_roles.LATER_KINDS,
    *kinds_time.DETAIL_KINDS,
]
_CONTACT = (
    r"\btelefon\w*|\bnumarul\s+(?:de\s+telefon|clientului)\b|\bnumele\s+client\w*|"
    r"\bcum\s+se\s+numeste\s+client\w*|\bcum\s+o\s+cheama\s+pe\s+client\w*"
)


def _kind_answer(
    q: Question, scope: Scope, client: Mapping[str, Any]
) -> tuple[str, AskAnswer | None]:
    """(the kind's name, its answer) for the first kind of the table that matches and
    applies; ("", None) when no kind does."""
    if q.has(_CONTACT) and not q.has(_NOT_IN_DATA):
        return "contact", _contact(client)(q, scope)
    for kind in KINDS:
        if kind.matches(q):
            found = kind.answer(q, scope)
            if found is not None or kind.final:
                return kind.name, found
    return "", None


# "Câte petreceri a avut Ana și cât a plătit?": a second question joined by "și" / "iar".
_SECOND = re.compile(
    r"\s*(?:,\s*)?\b(?:si|iar)\s+(?=(?:cat|cate|cati|cand|unde|cine|cum|la\s+ce\s+ora)\b)"
)


# A second half with these words refers to what the first half found.
_POINTS_BACK = r"\b(?:o|il|ii|le|ei|ea|el|ele|acolo|atunci|aceea|aceasta|acesta|asta)\b"
# Kinds whose subject is not a scope the second half could share (the cancelled parties), or
# that only restate the parties ("când").
_WHOLE_ONLY = frozenset({"details", "cancelled", "not_in_data", ""})


def _two_questions(
    q: Question, parties: list[Party], client: Mapping[str, Any]
) -> AskAnswer | None:
    """Both halves answered by different kinds, the second half on the first's parties when it
    names none of its own. A half that only asks "when" (the generic details kind) refers to
    the first half's subject, so such a question is answered whole instead."""
    match = _SECOND.search(q.full)
    if match is None or match.start() < 8:
        return None
    head, tail = q.original[: match.start()], q.original[match.end() :]
    if re.search(_POINTS_BACK, fold(tail)):
        return None  # "…și cum o cheamă?": about the first half's answer, not its parties
    first = read_question(head, q.today)
    second = read_question(tail, q.today)
    first_scope = scope_of(first, parties)
    second_scope = scope_of(second, parties)
    if not second_scope.labels:
        # "…iar unde a fost ultima?": Eric's last one. The first half's child, character or
        # place carry over, its dates do not ("cât a plătit în 2024 și cât mai are de plătit")
        second_scope = scope_of(read_question(f"{first.text} {tail}", q.today), parties)
    name1, one = _kind_answer(first, first_scope, client)
    name2, two = _kind_answer(second, second_scope, client)
    if one is None or two is None or name1 == name2 or {name1, name2} & _WHOLE_ONLY:
        return None
    cited = {(s["eventShortId"], s["date"]) for s in one.sources}
    extra = [s for s in two.sources if (s["eventShortId"], s["date"]) not in cited]
    return AskAnswer(f"{one.answer} {two.answer}", [*one.sources, *extra])


def data_answer(q: Question, parties: list[Party], client: Mapping[str, Any]) -> AskAnswer | None:
    """The data's answer: two joined questions answered each by its kind, or the whole question
    by the first kind of the table that matches and applies; None when no kind does."""
    both = _two_questions(q, parties, client)
    if both is not None:
        return both
    return _kind_answer(q, scope_of(q, parties), client)[1]
