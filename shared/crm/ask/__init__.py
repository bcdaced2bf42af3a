"""`clientCrmAsk`: answers about one client from its own data, in Romanian, numbers exact.

Pure logic: the caller loads the client document and its events. A question is read once
(`question.read_question`: folded text, named and relative dates, tense), narrowed to the
parties it is about (`scope.scope_of`: child, character, service, place, dates, first / last /
next), then answered by the first matching entry of the table of question kinds
(`table.KINDS`, from `kinds_*`): a matcher and a pure answer over the client's normalized
parties. Every figure is computed from the events and every source is an event that supports
it.

A question no kind answers goes to the language model when one is configured; its answer is
kept only if it passes the guard (`guard`: cited events exist, every number is in the data).
Otherwise, and without a model, the answer says honestly that the data does not tell, and what
is known."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from shared.crm.ask.answer import AskAnswer, FreeTextModel
from shared.crm.ask.guard import grounded_sources as _grounded
from shared.crm.ask.guard import public_event, unsupported_numbers
from shared.crm.ask.party import Party, party_of
from shared.crm.ask.question import Question, read_question
from shared.crm.ask.render import day_text, parties_word, sum_text
from shared.crm.ask.table import KINDS, data_answer
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
