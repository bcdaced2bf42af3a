"""The model path's guard: the model is asked only what no kind answers; its answer is kept only
when the events it cites exist and every number in it is in the client's data; otherwise the
honest data answer stands."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import pytest

from shared.crm.ask import answer_question
from shared.crm.ask.guard import known_numbers, unsupported_numbers
from shared.crm.ask.party import party_of
from shared.events import normalize_event

EVENTS = [
    {
        "eventShortId": 7,
        "date": "10-05-2025",
        "childName": "Ana",
        "childAge": 4,
        "payment": {"amount": 500, "status": "PAID"},
        "rolesBySlot": {
            "7A": {"roleType": "ANIMATOR", "startTime": "16:00", "details": {"character": "Elsa"}}
        },
    },
    {
        "eventShortId": 9,
        "date": "09-05-2026",
        "childName": "Ana",
        "childAge": 5,
        "payment": {"amount": 700, "status": "UNPAID"},
    },
]
PARTIES = [party_of(normalize_event(e), e) for e in EVENTS]


class Scripted:
    def __init__(self, text: str, cited: list[Any]) -> None:
        self.reply = (text, cited)
        self.calls = 0

    def answer(
        self, client: Mapping[str, Any], events: list[dict[str, Any]], question: str
    ) -> tuple[str, list[Any]]:
        self.calls += 1
        return self.reply


def ask(model: Scripted, question: str = "Cum a reacționat copilul la Elsa?") -> Any:
    errors: list[Exception] = []
    answer = answer_question(
        {}, EVENTS, question, model=model, today=date(2026, 6, 1), on_model_error=errors.append
    )
    return answer, errors


def test_numbers_from_the_data_pass_and_others_do_not() -> None:
    known = known_numbers(PARTIES, "")
    assert {"500", "700", "1200", "10-05-2025", "16:00", "4", "5", "2"} <= known
    text = "Ana (4 ani) a avut Elsa pe 10.05.2025 la 16:00; în total 1200 lei."
    assert unsupported_numbers(text, PARTIES, "") == []
    assert unsupported_numbers("A plătit 1250 lei pe 11-05-2025.", PARTIES, "") == [
        "1250",
        "11-05-2025",
    ]


def test_the_client_document_and_today_are_data_too() -> None:
    text = "Clientul (+40722111222) a cheltuit 1200 lei; azi e 01-06-2026."
    assert (
        unsupported_numbers(
            text, PARTIES, "", ["+40722111222", date(2026, 6, 1).strftime("%d-%m-%Y")]
        )
        == []
    )
    assert unsupported_numbers(text, PARTIES, "") == ["40722111222", "01-06-2026"]


def test_a_grounded_model_answer_is_kept_with_its_real_sources() -> None:
    model = Scripted("Ana a fost încântată de Elsa (10-05-2025).", [7, 999, "7"])
    answer, errors = ask(model)
    assert answer.used_model and answer.answer.startswith("Ana a fost încântată")
    assert [s["eventShortId"] for s in answer.sources] == [7] and errors == []


@pytest.mark.parametrize(
    ("text", "cited"),
    [
        ("Ana a plătit 950 lei și a fost încântată.", [7]),  # a number not in the data
        ("Petrecerea din 12-12-2025 a fost superbă.", [9]),  # a date of no party
        ("   ", []),  # nothing said
    ],
)
def test_a_model_answer_that_fails_the_check_falls_back_to_the_data(
    text: str, cited: list[Any]
) -> None:
    answer, errors = ask(Scripted(text, cited))
    assert not answer.used_model and answer.sources == []
    assert answer.answer.startswith("Datele clientului nu spun asta")
    assert "1200 lei" in answer.answer and len(errors) == 1


def test_the_model_is_not_asked_what_the_data_answers() -> None:
    model = Scripted("1 000 000 lei", [])
    answer, _ = ask(model, "Cât a plătit clientul?")
    assert model.calls == 0 and "500 lei" in answer.answer and not answer.used_model
