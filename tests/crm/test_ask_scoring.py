"""The ask scorer: facts that must appear, cited events that must support the answer, honest
answers where the data cannot answer, and sources no event backs (unverifiable)."""

from __future__ import annotations

from shared.crm.scoring import AskScore, says_unknown, sources_hit, unverifiable_sources

EVENTS = [
    {"eventShortId": 7, "date": "10-05-2025", "payment": {"amount": 500, "status": "PAID"}},
    {"eventShortId": 9, "data": "9.5.2026", "incasare": {"suma": 700, "stare": "NEINCASAT"}},
    {"eventShortId": 11, "payment": {"amount": 300}},  # no date
]


def src(short_id: int | None, day: str) -> dict[str, object]:
    return {"eventShortId": short_id, "date": day, "details": ""}


def test_a_source_is_verifiable_only_with_its_events_id_and_date() -> None:
    good = [src(7, "10-05-2025"), src(9, "09-05-2026"), src(11, "")]
    assert unverifiable_sources(good, EVENTS) == []
    bad = [src(8, "10-05-2025"), src(7, "09-05-2026"), src(None, "10-05-2025")]
    assert unverifiable_sources(bad, EVENTS) == bad


def test_cited_events_must_support_the_answer() -> None:
    expected = {"sources": [7, 9]}
    assert sources_hit(expected, [src(7, "")])
    assert not sources_hit(expected, [src(7, ""), src(11, "")])  # 11 does not support it
    assert not sources_hit(expected, [])  # something supports it: cite it
    assert sources_hit({**expected, "also_ok": [11]}, [src(11, "")])
    assert sources_hit({"sources": [], "honest": True}, [])
    assert not sources_hit({"sources": []}, [src(7, "")])


def test_honest_means_saying_the_data_does_not_tell() -> None:
    assert says_unknown("Nu am în date ce tort au comandat.")
    assert says_unknown("Niciun e-mail în fișa clientului.")
    assert not says_unknown("Tortul a fost de ciocolată (10-05-2025).")


def test_a_record_is_correct_with_its_facts_its_sources_and_honesty() -> None:
    score = AskScore()
    right = [src(9, "09-05-2026")]
    score.add("r1", {"must_contain": ["700"], "sources": [9]}, "Mai are de plătit 700 lei.", right)
    score.add("r2", {"must_contain": ["700"], "sources": [9]}, "Are de plătit 500 lei.", right)
    score.add("r3", {"must_contain": ["700"], "sources": [9]}, "700 lei", [src(7, "")], EVENTS)
    score.add("r4", {"must_contain": [], "sources": [], "honest": True}, "Tort: Elsa.", [])
    score.add("r5", {"must_contain": ["Rareș"], "sources": []}, "RARES", [])  # folded
    assert score.correct == 2 and score.wrong == ["r2", "r3", "r4"]
    assert score.unverifiable == 1  # r3 cites 7 with an empty date
    assert score.answer_hits == 4 and score.misses == ["r2"]
