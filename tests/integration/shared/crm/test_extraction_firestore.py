"""The extraction and ask flows on Firestore (the npm emulator) as well as SQLite: the queries
(messages by tsClient desc with a limit, events by phone), the counter transaction, `create`
as the dedup primitive and the audit lifecycle behave the same on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from shared.crm.ask import answer_question
from shared.crm.extraction import ExtractionRequest, ExtractionService
from shared.crm.extractors import HeuristicExtractor
from shared.store.firestore import FirestoreStore
from shared.store.port import DocumentStore, query
from shared.store.sqlite import SqliteStore
from tests.conftest import unique_project_id
from tests.support.crm import ACCOUNT, PHONE, THREAD, Chat

NOW = datetime.fromisoformat("2026-03-05T12:00:00+02:00")


@pytest.fixture(params=["sqlite", "firestore"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DocumentStore]:
    if request.param == "sqlite":
        sqlite = SqliteStore(tmp_path / "crm.db")
        yield sqlite
        sqlite.close()
        return
    host = request.getfixturevalue("firestore_emulator")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("FIRESTORE_EMULATOR_HOST", host)
        firestore = FirestoreStore(unique_project_id("crm"))
    yield firestore
    firestore.close()


def seed(store: DocumentStore) -> Chat:
    chat = Chat(store)  # type: ignore[arg-type]
    chat.client("Bună, o întrebare de preț mai întâi.", "2026-03-04T08:00:00+02:00")
    chat.client(
        "Vrem Sonic pe 21 martie, ora 11, pentru Dan, 6 ani, la Str. Lungă nr. 2, Iași.",
        "2026-03-05T09:00:00+02:00",
    )
    chat.staff("Sonic, 2 ore: 600 lei. V-am notat!", "2026-03-05T09:05:00+02:00")
    return chat


def run(store: DocumentStore, dry_run: bool) -> dict:
    svc = ExtractionService(store, HeuristicExtractor(), clock=lambda: NOW)
    return svc.run(
        ExtractionRequest(
            thread_id=THREAD, account_id=ACCOUNT, caller_uid="staff-9", dry_run=dry_run
        )
    )


def test_dry_run_then_two_saves_make_one_event(store: DocumentStore) -> None:
    seed(store)
    dry = run(store, True)
    assert dry["action"] == "CREATE_EVENT"
    assert store.query(query("evenimente")) == []
    assert store.get("counters/eventShortCode") is None
    first = run(store, False)
    second = run(store, False)
    assert second["cacheHit"] is True
    events = store.query(query("evenimente", where=[("phoneE164", "==", PHONE)]))
    assert [e.id for e in events] == [first["eventId"]]
    event = events[0].data
    assert event["eventShortId"] == 1 and event["createdBy"] == "staff-9"
    assert isinstance(event["createdAt"], datetime)
    assert event["date"] == "21-03-2026" and list(event["rolesBySlot"]) == ["01A"]
    audits = store.query(query(f"threads/{THREAD}/extractions"))
    assert sorted(a.data["status"] for a in audits) == ["success", "success"]
    assert all(isinstance(a.data["finishedAt"], datetime) for a in audits)


def test_update_targets_the_same_day_event(store: DocumentStore) -> None:
    for event_id, day in (("a", "14-03-2026"), ("b", "21-03-2026"), ("c", "21-03-2025")):
        store.set(
            f"evenimente/{event_id}",
            {
                "date": day,
                "phoneE164": PHONE,
                "childName": "Dan",
                "isArchived": False,
                "payment": {"amount": 500, "status": "UNPAID"},
                "eventShortId": 5,
            },
        )
    seed(store)
    result = run(store, False)
    assert (result["action"], result["targetEventId"]) == ("UPDATE_EVENT", "b")
    updated = store.get("evenimente/b")
    assert updated is not None and updated.data["payment"]["amount"] == 600
    untouched = store.get("evenimente/a")
    assert untouched is not None and untouched.data["payment"]["amount"] == 500


def test_ask_reads_events_by_phone(store: DocumentStore) -> None:
    for short_id, amount, status in ((1, 600, "PAID"), (2, 900, "UNPAID")):
        store.set(
            f"evenimente/e{short_id}",
            {
                "eventShortId": short_id,
                "date": f"0{short_id}-02-2026",
                "phoneE164": PHONE,
                "payment": {"amount": amount, "status": status},
                "isArchived": False,
            },
        )
    events = store.query(query("evenimente", where=[("phoneE164", "==", PHONE)]))
    answer = answer_question(None, [e.data for e in events], "Cât mai are de plătit?")
    assert "900" in answer.answer and [s["eventShortId"] for s in answer.sources] == [2]
