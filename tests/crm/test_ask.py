"""clientCrmAsk logic without a model: exact numbers from the events, real-date order, legacy
documents, filters by child, year, month and service, and grounding of cited sources."""

from __future__ import annotations

from datetime import date
from typing import Any

from shared.crm.ask import CAPABILITIES, answer_question, grounded_sources

TODAY = date(2026, 6, 1)


def event(short_id: int, day: str, amount: float, status: str = "PAID", **extra: Any) -> dict:
    return {
        "eventShortId": short_id,
        "date": day,
        "payment": {"amount": amount, "status": status},
        "isArchived": False,
        **extra,
    }


EVENTS = [
    # Day-of-month order would put 30-01 last; real-date order puts it first.
    event(
        1,
        "30-01-2025",
        500,
        childName="Ana",
        rolesBySlot={
            "01A": {"roleType": "ANIMATOR", "details": {"character": "Elsa"}, "startTime": "11:00"}
        },
    ),
    event(
        2,
        "02-03-2026",
        900,
        "UNPAID",
        childName="Ana",
        address="Str. Mare nr. 1, Iași",
        rolesBySlot={"02A": {"roleType": "HELIUM_BALLOONS", "details": {"count": 25}}},
    ),
    event(3, "15-02-2026", 700, "CANCELLED", childName="Dan"),
    event(4, "10-10-2026", 800, "UNPAID", childName="Dan", numChildren=14),
    event(5, "01-01-2026", 5000, "PAID", isArchived=True),
]


def ask(question: str, events: list[dict] | None = None) -> tuple[str, list[int]]:
    answer = answer_question({}, EVENTS if events is None else events, question, today=TODAY)
    return answer.answer, [s["eventShortId"] for s in answer.sources]


def test_money_questions_exclude_cancelled_and_archived() -> None:
    assert ask("Cât a cheltuit clientul?") == (
        "Clientul a cheltuit în total 2200 lei pe 3 petreceri "
        "(plătit: 500 lei; de plătit: 1700 lei).",
        [1, 2, 4],
    )
    assert "1700" in ask("Cât mai are de plătit?")[0]
    assert "500" in ask("Cât a plătit deja?")[0]
    text, sources = ask("Cât a costat în medie o petrecere?")
    assert "733.33" in text and sources == [1, 2, 4]


def test_first_last_next_use_real_dates() -> None:
    assert ask("Când a fost prima petrecere?")[1] == [1]
    text, sources = ask("Când a fost ultima petrecere?")
    assert sources == [2] and "02-03-2026" in text
    assert ask("Care e următoarea petrecere?")[1] == [4]


def test_filters_by_child_year_month_and_service() -> None:
    assert ask("Câte petreceri a avut Dan?") == (
        "Clientul are 1 petrecere (Dan) (plus 1 petrecere anulată): 10-10-2026.",
        [4],
    )
    assert ask("Câte petreceri au fost în 2025?")[1] == [1]
    assert "Str. Mare nr. 1" in ask("La ce adresă a fost petrecerea din martie?")[0]
    assert "25 baloane cu heliu" in ask("Câte baloane cu heliu au fost?")[0]
    assert "Elsa" in ask("Ce personaje a avut Ana?")[0]
    assert "14 copii" in ask("Câți copii vin la petrecerea din octombrie?")[0]


def test_cancelled_and_legacy_documents() -> None:
    assert ask("Care petrecere a fost anulată?")[1] == [3]
    legacy = [
        {"idScurt": 8, "data": "05-05-2025", "incasare": {"stare": "INCASAT", "suma": "1.200"}},
        {
            "idScurt": 9,
            "data": "06-06-2026",
            "incasare": {"stare": "NEINCASAT", "suma": 300},
            "esteArhivat": False,
        },
    ]
    text, sources = ask("Cât a cheltuit în total?", legacy)
    assert "1500 lei" in text and sources == [8, 9]


def test_currencies_are_not_added_together() -> None:
    mixed = [
        event(1, "01-01-2026", 600),
        {
            **event(2, "02-02-2026", 150),
            "payment": {"amount": 150, "status": "PAID", "currency": "EUR"},
        },
    ]
    assert "600 lei și 150 EUR" in ask("Cât a plătit clientul?", mixed)[0]


def test_no_events_and_no_model() -> None:
    assert ask("Cât a cheltuit?", [])[0] == (
        "Clientul nu are nicio petrecere înregistrată (0 petreceri, 0 lei)."
    )
    # the events hold no opinions: an honest answer with what is known, never a guess
    text, sources = ask("Ce părere a avut despre animator?")
    assert text.startswith("Datele clientului nu spun asta") and sources == []
    assert "3 petreceri" in text and "2200 lei" in text and CAPABILITIES in text


def test_grounding_drops_foreign_and_duplicate_sources() -> None:
    kept = grounded_sources([2, "4", 99, {"eventShortId": 2}, None, True, "x"], EVENTS)
    assert [s["eventShortId"] for s in kept] == [2, 4]
    assert all(set(s) == {"eventShortId", "date", "details"} for s in kept)


def test_question_kinds_do_not_shadow_each_other() -> None:
    assert ask("Câte petreceri a avut în total?")[0].startswith("Clientul are 3 petreceri")
    text, sources = ask("Câte petreceri neplătite are?")
    assert "1700" in text and sources == [2, 4]
    assert ask("Care e suma totală plătită?")[0].startswith("Clientul a plătit 500 lei")
    assert "25 baloane cu heliu" in ask("Ce servicii a comandat clientul?")[0]


def test_an_ask_record_may_pin_the_moment_the_question_is_asked() -> None:
    """`now` in an ask record (as in extraction records) fixes what "next" means."""
    from shared.crm.cli import ask_record

    record = {
        "question": "Când este următoarea petrecere?",
        "events": [event(1, "10-01-2026", 500), event(2, "20-05-2026", 600, "UNPAID")],
    }
    early = ask_record({**record, "now": "2026-01-02T10:00:00+02:00"}, None, "t")
    late = ask_record({**record, "now": "2026-03-02T10:00:00+02:00"}, None, "t")
    assert "10-01-2026" in early["answer"]
    assert "20-05-2026" in late["answer"]
    assert [s["eventShortId"] for s in late["sources"]] == [2]


# ---- ask_blind: every party paid or not, a client without parties, email is not an address ---


def test_paid_or_not_means_every_party() -> None:
    for question in (
        "Cât valorează petrecerile, plătite sau nu?",
        "cat au costat toate petrecerile, platite si neplatite?",
        "Care e suma petrecerilor, inclusiv cele neplătite?",
        "Cât face tot, indiferent dacă e plătit?",
    ):
        text, sources = ask(question)
        assert "2200 lei" in text, question
        assert sources == [1, 2, 4], question


def test_paid_and_unpaid_questions_still_split() -> None:
    assert ask("Cât a plătit clientul?")[1] == [1]
    assert ask("Ce sumă mai datorează?")[1] == [2, 4]


def test_a_client_without_parties_has_spent_nothing() -> None:
    for question in ("Cât a cheltuit clientul?", "Câte petreceri a avut?"):
        text, sources = ask(question, events=[])
        assert "0 lei" in text and "0 petreceri" in text
        assert sources == []


def test_an_email_address_is_not_a_party_address() -> None:
    text, sources = ask("Care e adresa de e-mail a clientului?")
    assert sources == []
    assert "Str. Mare" not in text
    assert ask("La ce adresă a fost petrecerea din martie?")[1] == [2]
