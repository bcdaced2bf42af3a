"""`clientCrmAsk`: answers about one client from its own data, in Romanian, numbers exact.

Pure logic: the caller loads the client document and its events. A question is read once
(`question.read_question`: folded text, named and relative dates, tense), narrowed to the
parties it is about (`scope.scope_of`: child, character, service, place, dates, first / last /
next), then answered by the first matching entry of a table of question kinds (`kinds_*`): a
matcher and a pure answer over the client's normalized parties. Every figure is computed from
the events and every source is an event that supports it.

A question no kind answers goes to the language model when one is configured; its answer is
kept only if it passes the guard (`guard`: cited events exist, every number is in the data).
Otherwise, and without a model, the answer says honestly that the data does not tell, and what
is known."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from shared.crm.ask import kinds_money, kinds_people, kinds_roles, kinds_time
from shared.crm.ask.answer import AskAnswer, FreeTextModel, Kind, reply
from shared.crm.ask.guard import grounded_sources as _grounded
from shared.crm.ask.guard import public_event, unsupported_numbers
from shared.crm.ask.party import Party, party_of
from shared.crm.ask.question import Question, read_question
from shared.crm.ask.render import day_text, parties_word, sum_text
from shared.crm.ask.scope import Scope, scope_of
from shared.crm.heuristics.text import fold
from shared.events import LOCAL_TZ, event_sort_key, normalize_event

__all__ = [
    "CAPABILITIES",
    "KINDS",
    "AskAnswer",
    "FreeTextModel",
    "answer_question",
    "grounded_sources",
]

CAPABILITIES = (
    "Pot răspunde din datele clientului la: cât a cheltuit, cât a plătit și cât mai are de "
    "plătit (și cum a plătit), media și cea mai scumpă sau ieftină petrecere, câte petreceri a "
    "avut, prima, ultima sau următoarea petrecere, petrecerea dintr-o zi, lună sau an (și "
    "relativ: anul trecut, luna viitoare), ora de început, durata, copiii și vârsta lor la "
    "fiecare petrecere, personajele și serviciile, adresele, numărul de copii invitați și "
    "petrecerile anulate."
)

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


def grounded_sources(
    cited: Sequence[Any], events: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Only sources that are real events of this client, each once; made-up ids are dropped."""
    return _grounded(cited, [party_of(normalize_event(e)) for e in events])


def _what_is_known(q: Question, parties: list[Party]) -> str:
    live = [p for p in parties if not p.archived]
    active = [p for p in live if not p.cancelled]
    if not active:
        return "Ce știu: nicio petrecere activă (0 lei)."
    dated = [p for p in active if p.day]
    done = [p for p in active if p.status == "PAID"]
    owed = [p for p in active if p.status == "UNPAID"]
    span = f", de la {day_text(dated[0].day)} la {day_text(dated[-1].day)}" if dated else ""
    return (
        f"Ce știu: {parties_word(len(active))}{span}; total {sum_text(active)} "
        f"(plătit {sum_text(done)}, de plătit {sum_text(owed)})."
    )


def _honest(q: Question, parties: list[Party], reason: str = "") -> AskAnswer:
    head = reason or "Datele clientului nu spun asta: petrecerile nu au o astfel de informație."
    return AskAnswer(f"{head} {_what_is_known(q, parties)} {CAPABILITIES}", [])


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


def answer_question(
    client: Mapping[str, Any] | None,
    events: Sequence[Mapping[str, Any]],
    question: str,
    *,
    model: FreeTextModel | None = None,
    today: date | None = None,
    on_model_error: Callable[[Exception], None] | None = None,
) -> AskAnswer:
    """`today` is the day the question is asked in Romanian time (default: now in
    Europe/Bucharest); "next", "anul trecut", "luna viitoare" are relative to it."""
    today = today or datetime.now(LOCAL_TZ).date()
    text = " ".join(str(question or "").split())
    if not text:
        return AskAnswer("Întrebarea este goală: scrieți ce doriți să aflați despre client.", [])
    parties = sorted(
        (party_of(normalize_event(e), e) for e in events), key=lambda p: event_sort_key(p.event)
    )
    if not [p for p in parties if not p.archived]:
        if client is None:
            return AskAnswer(
                "Nu există niciun client cu acest număr și nicio petrecere înregistrată pe el "
                "(0 petreceri, 0 lei).",
                [],
            )
        return AskAnswer("Clientul nu are nicio petrecere înregistrată (0 petreceri, 0 lei).", [])
    q = read_question(text, today)
    found = data_answer(q, parties, client or {})
    if found is not None:
        return found
    if model is None:
        return _honest(q, parties)
    try:
        said, cited = model.answer(client or {}, [public_event(p) for p in parties], text)
    except Exception as exc:  # the model is optional: any failure falls back to the data
        if on_model_error is not None:
            on_model_error(exc)
        return _honest(q, parties, "Modelul de limbaj nu a răspuns acum.")
    said = said.strip() if isinstance(said, str) else ""
    context = [*(client or {}).values(), today.strftime("%d-%m-%Y"), today.year]
    wrong = unsupported_numbers(said, parties, text, context)
    if not said or wrong:
        if on_model_error is not None:
            on_model_error(ValueError(f"model answer not grounded in the data: {wrong or 'empty'}"))
        return _honest(q, parties)
    return AskAnswer(said, _grounded(cited, parties), used_model=True)
