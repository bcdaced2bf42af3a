"""The extraction service on a real SQLite store: audit lifecycle, cache, dry runs, idempotent
saves, the event short-id counter, CREATE vs UPDATE by real dates, refusals."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import pytest

from shared.crm.extraction import ExtractionError, ExtractionRequest, ExtractionService
from shared.crm.extractors import HeuristicExtractor
from shared.ids import extraction_client_request_id
from shared.store.port import query
from shared.store.sqlite import SqliteStore
from tests.support.crm import ACCOUNT, PHONE, THREAD, Chat

NOW = datetime.fromisoformat("2026-03-05T12:00:00+02:00")


def service(db: SqliteStore) -> ExtractionService:
    return ExtractionService(db, HeuristicExtractor(), clock=lambda: NOW)


def request(**changes: Any) -> ExtractionRequest:
    base = ExtractionRequest(thread_id=THREAD, account_id=ACCOUNT, caller_uid="staff-1")
    return dataclasses.replace(base, **changes)


def booking(chat: Chat, day: str = "21 martie") -> str:
    chat.client(
        f"Bună! Vrem Elsa pe {day}, ora 16, pentru Maria, 5 ani. Adresa: Str. Teilor nr. 9, Iași.",
        "2026-03-05T09:00:00+02:00",
    )
    chat.staff("Elsa, 2 ore: 650 lei. V-am notat!", "2026-03-05T09:10:00+02:00")
    return chat.client("Mulțumim, confirm!", "2026-03-05T09:12:00+02:00")


def events(db: SqliteStore) -> list[Any]:
    return db.query(query("evenimente"))


def audits(db: SqliteStore) -> list[Any]:
    return db.query(query(f"threads/{THREAD}/extractions"))


def test_dry_run_drafts_without_writing_an_event_or_burning_an_id(
    db: SqliteStore, chat: Chat
) -> None:
    newest = booking(chat)
    result = service(db).run(request())
    assert result["action"] == "CREATE_EVENT"
    assert result["clientRequestId"] == extraction_client_request_id(THREAD, newest)
    draft = result["draftEvent"]
    assert (draft["date"], draft["childName"], draft["phoneE164"]) == ("21-03-2026", "Maria", PHONE)
    assert draft["payment"]["amount"] == 650
    assert [r["roleType"] for r in draft["roles"]] == ["ANIMATOR"]
    assert events(db) == []
    assert db.get("counters/eventShortCode") is None
    [audit] = audits(db)
    assert audit.data["status"] == "success"
    assert audit.data["finishedAt"] is not None
    assert audit.data["requestedBy"] == "staff-1"
    assert audit.data["lastMessageId"] == newest
    assert audit.data["messageCount"] == 3
    assert audit.data["result"]["action"] == "CREATE_EVENT"


def test_cache_is_keyed_by_mode_and_newest_message(db: SqliteStore, chat: Chat) -> None:
    booking(chat)
    svc = service(db)
    first = svc.run(request())
    again = svc.run(request())
    assert (first["cacheHit"], again["cacheHit"]) == (False, True)
    saved = svc.run(request(dry_run=False))
    assert saved["cacheHit"] is False and saved["saved"] is True
    chat.client("Vin 12 copii.", "2026-03-05T09:30:00+02:00")
    newer = svc.run(request())
    assert newer["cacheHit"] is False
    assert newer["clientRequestId"] != first["clientRequestId"]
    assert len(audits(db)) == 3


def test_save_twice_creates_one_event_with_a_counter_id(db: SqliteStore, chat: Chat) -> None:
    db.set("counters/eventShortCode", {"value": 41})
    booking(chat)
    svc = service(db)
    first = svc.run(request(dry_run=False))
    # A second call that misses the cache (another instance) still lands on the same event.
    for audit in audits(db):
        db.set(audit.path, {"status": "failed"}, merge=True)
    second = svc.run(request(dry_run=False))
    [event] = events(db)
    assert first["eventId"] == second["eventId"] == event.id
    assert event.data["eventShortId"] == 42
    assert db.get("counters/eventShortCode").data["value"] == 42  # type: ignore[union-attr]
    assert event.data["createdBy"] == "staff-1"
    assert event.data["clientRequestId"] == first["clientRequestId"]
    assert event.data["schemaVersion"] == 3 and event.data["isArchived"] is False
    assert list(event.data["rolesBySlot"]) == ["42A"]
    assert event.data["threadId"] == THREAD and event.data["accountId"] == ACCOUNT


def existing_event(db: SqliteStore, event_id: str, day: str, child: str, **extra: Any) -> None:
    db.set(
        f"evenimente/{event_id}",
        {
            "schemaVersion": 3,
            "eventShortId": int(event_id[-2:]),
            "date": day,
            "phoneE164": PHONE,
            "childName": child,
            "address": "Str. Veche nr. 1, Iași",
            "payment": {"amount": 500, "status": "PAID"},
            "rolesBySlot": {
                f"{int(event_id[-2:]):02d}A": {
                    "slot": f"{int(event_id[-2:]):02d}A",
                    "roleType": "ANIMATOR",
                    "details": {"character": "Elsa"},
                    "status": "ASSIGNED",
                    "assignedTo": "anim-7",
                }
            },
            "isArchived": False,
            **extra,
        },
    )


def test_update_picks_the_event_on_the_same_real_date(db: SqliteStore, chat: Chat) -> None:
    existing_event(db, "ev10", "21-03-2025", "Maria")  # same day and month, last year
    existing_event(db, "ev11", "21-03-2026", "Maria")
    existing_event(db, "ev12", "28-03-2026", "Maria")
    existing_event(db, "ev13", "21-03-2026", "Maria", isArchived=True)
    booking(chat)
    result = service(db).run(request(dry_run=False))
    assert result["action"] == "UPDATE_EVENT"
    assert result["targetEventId"] == "ev11"
    updated = db.get("evenimente/ev11").data  # type: ignore[union-attr]
    assert updated["payment"]["status"] == "PAID"  # never downgraded
    assert updated["payment"]["amount"] == 650
    assert updated["address"] == "Str. Teilor nr. 9, Iași"
    assert updated["rolesBySlot"]["11A"]["assignedTo"] == "anim-7"  # staffing kept
    assert updated["updatedBy"] == "staff-1"
    for other in ("ev10", "ev12", "ev13"):
        assert "updatedBy" not in db.get(f"evenimente/{other}").data  # type: ignore[union-attr]
    assert len(events(db)) == 4
    again = service(db).run(request(dry_run=False))
    assert again["targetEventId"] == "ev11"


def test_same_date_prefers_the_same_child(db: SqliteStore, chat: Chat) -> None:
    existing_event(db, "ev21", "21-03-2026", "Andrei")
    existing_event(db, "ev22", "21-03-2026", "Maria")
    booking(chat)
    assert service(db).run(request())["targetEventId"] == "ev22"


def test_other_dates_create_a_new_event(db: SqliteStore, chat: Chat) -> None:
    existing_event(db, "ev31", "14-03-2026", "Maria")
    booking(chat)
    result = service(db).run(request(dry_run=False))
    assert result["action"] == "CREATE_EVENT"
    assert len(events(db)) == 2


def test_a_date_moved_in_the_same_chat_updates_its_event(db: SqliteStore, chat: Chat) -> None:
    booking(chat, "21 martie")
    svc = service(db)
    created = svc.run(request(dry_run=False))
    chat.client(
        "Putem muta petrecerea pe 28 martie, în loc de 21 martie?", "2026-03-05T11:00:00+02:00"
    )
    chat.staff("Da, am mutat pe 28 martie.", "2026-03-05T11:05:00+02:00")
    moved = svc.run(request(dry_run=False))
    assert moved["action"] == "UPDATE_EVENT"
    assert moved["targetEventId"] == created["eventId"]
    [event] = events(db)
    assert event.data["date"] == "28-03-2026"


def test_not_a_booking_is_a_noop_with_reasons(db: SqliteStore, chat: Chat) -> None:
    chat.client("Cât costă vata de zahăr?", "2026-03-05T09:00:00+02:00")
    chat.staff("250 lei.", "2026-03-05T09:01:00+02:00")
    chat.client("Mersi, mă mai gândesc.", "2026-03-05T09:02:00+02:00")
    result = service(db).run(request(dry_run=False))
    assert result["action"] == "NOOP"
    assert result["draftEvent"] is None and result["reasons"]
    assert events(db) == []
    [audit] = audits(db)
    assert audit.data["status"] == "noop" and audit.data["finishedAt"] is not None


def test_empty_thread_is_a_noop(db: SqliteStore, chat: Chat) -> None:
    result = service(db).run(request())
    assert result["action"] == "NOOP"
    assert result["reasons"] == ["conversația nu are mesaje cu text"]


def test_last_n_messages_reads_the_newest(db: SqliteStore, chat: Chat) -> None:
    chat.client("Vrem Batman pe 10 aprilie la Str. Mare nr. 1, Iași.", "2026-03-01T09:00:00+02:00")
    for i in range(5):
        chat.client(f"Mersi {i}", f"2026-03-02T09:0{i}:00+02:00")
    result = service(db).run(request(last_n=3))
    assert result["action"] == "NOOP"
    assert service(db).run(request(last_n=50))["action"] == "CREATE_EVENT"


def test_refusals(db: SqliteStore, chat: Chat) -> None:
    booking(chat)
    svc = service(db)
    with pytest.raises(ExtractionError) as missing:
        svc.run(request(thread_id="acc1__40700000000@s.whatsapp.net"))
    assert missing.value.code == "not-found"
    with pytest.raises(ExtractionError) as mismatch:
        svc.run(request(account_id="other"))
    assert mismatch.value.code == "permission-denied"
    db.set("config/whatsapp_inbox", {"adminOnlyAccountIds": [ACCOUNT]})
    with pytest.raises(ExtractionError) as admin_only:
        svc.run(request())
    assert admin_only.value.code == "permission-denied"
    assert svc.run(request(caller_is_admin=True))["action"] == "CREATE_EVENT"


class Exploding:
    version = "exploding-1"
    model_name = None

    def extract(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")


def test_a_crash_marks_the_audit_failed_and_finished(db: SqliteStore, chat: Chat) -> None:
    booking(chat)
    with pytest.raises(RuntimeError):
        ExtractionService(db, Exploding(), clock=lambda: NOW).run(request(dry_run=False))
    [audit] = audits(db)
    assert audit.data["status"] == "failed"
    assert audit.data["finishedAt"] is not None
    assert audit.data["error"] == "RuntimeError"
    assert events(db) == []


def test_saved_event_result_and_audit_match_the_shared_schemas(db: SqliteStore, chat: Chat) -> None:
    from shared.schemas import Event, ExtractionAudit, ExtractResult

    booking(chat)
    result = service(db).run(request(dry_run=False))
    ExtractResult.model_validate(result)
    [event] = events(db)
    validated = Event.model_validate(event.data)
    assert validated.event_short_id == 1 and validated.payment.amount == 650
    for audit in audits(db):
        ExtractionAudit.model_validate(audit.data)


def test_unknown_price_is_zero_in_the_draft_with_a_reason_and_zero_when_saved(
    db: SqliteStore, chat: Chat
) -> None:
    chat.client(
        "Vrem Elsa pe 21 martie, ora 16, la Str. Teilor nr. 9, Iași. Prețul îl discutăm.",
        "2026-03-05T09:00:00+02:00",
    )
    chat.staff("Am notat, revenim cu oferta.", "2026-03-05T09:10:00+02:00")
    dry = service(db).run(request())
    # CONTRACT section 4: payment.amount is a number, in the draft the app shows too.
    assert dry["draftEvent"]["payment"]["amount"] == 0
    assert "prețul nu a fost stabilit în conversație" in dry["reasons"]
    service(db).run(request(dry_run=False))
    [event] = events(db)
    assert event.data["payment"]["amount"] == 0


def test_relative_dates_use_romanian_time_not_utc(db: SqliteStore, chat: Chat) -> None:
    # 00:30 in Bucharest on 6 March is still 5 March in UTC: "mâine" is 7 March.
    chat.client(
        "Vrem Elsa mâine la ora 16, la Str. Teilor nr. 9, Iași, pentru Maria, 5 ani.",
        "2026-03-05T22:30:00+00:00",
    )
    chat.staff("Elsa, 650 lei. Notat!", "2026-03-05T22:40:00+00:00")
    assert service(db).run(request())["draftEvent"]["date"] == "07-03-2026"


def test_an_edited_date_gives_a_new_draft_and_updates_the_saved_event(
    db: SqliteStore, chat: Chat
) -> None:
    """A client corrects "14 iunie" to "15 iunie" with WhatsApp's edit: the message id does not
    change, but the draft, the cache key and the saved event follow the edit."""
    from session_daemon.inbound.changes import edit_patch

    first_id = chat.client(
        "Bună! Vrem Elsa pe 14 iunie, ora 16, pentru Maria, 5 ani. Adresa: Str. Teilor 9, Iași.",
        "2026-03-05T09:00:00+02:00",
    )
    chat.staff("Elsa, 2 ore: 650 lei. V-am notat!", "2026-03-05T09:10:00+02:00")
    newest = chat.client("Mulțumim, confirm!", "2026-03-05T09:12:00+02:00")
    svc = service(db)
    saved = svc.run(request(dry_run=False))
    assert saved["draftEvent"]["date"] == "14-06-2026"
    assert saved["clientRequestId"] == extraction_client_request_id(THREAD, newest)

    path = f"threads/{THREAD}/messages/{first_id}"
    doc = db.get(path)
    assert doc is not None
    patch = edit_patch(
        doc.data,
        client_jid=doc.data["clientJid"],
        new_body=doc.data["body"].replace("14 iunie", "15 iunie"),
        edited_at=datetime.fromisoformat("2026-03-05T09:20:00+02:00"),
        from_me=False,
    )
    assert isinstance(patch, dict)
    db.update(path, patch)

    draft = svc.run(request())
    assert draft["cacheHit"] is False
    assert draft["draftEvent"]["date"] == "15-06-2026"
    assert draft["clientRequestId"] != saved["clientRequestId"]
    again = svc.run(request(dry_run=False))
    [event] = events(db)
    assert again["eventId"] == saved["eventId"] == event.id
    assert event.data["date"] == "15-06-2026"
    assert svc.run(request(dry_run=False))["cacheHit"] is True  # the edit is applied once


def test_group_threads_are_not_extracted(db: SqliteStore) -> None:
    """Extraction stays on one-to-one client threads (issue 12: groups are mirrored)."""
    group_thread = f"{ACCOUNT}__120363041234567890@g.us"
    group = Chat(db, thread_id=group_thread)
    db.update(f"threads/{group_thread}", {"clientJid": "120363041234567890@g.us", "isGroup": True})
    group.client("Vrem Elsa pe 21 martie, ora 16, Str. Teilor 9", "2026-03-05T09:00:00+02:00")
    result = service(db).run(request(thread_id=group_thread))
    assert result["action"] == "NOOP" and "grup" in result["reasons"][0]
    assert events(db) == []
