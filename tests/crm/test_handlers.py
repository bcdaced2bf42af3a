"""The callable handlers called with real `CallableRequest` objects on a SQLite store: auth,
argument validation, error codes, and the contract's result shapes. (The same handlers run
behind the Functions emulator in test_callables_emulator.py.)"""

from __future__ import annotations

from typing import Any

import pytest
from firebase_functions import https_fn
from flask import Request
from werkzeug.test import EnvironBuilder

from functions import crm_handlers
from functions.crm_handlers import client_crm_ask, extract_event_from_thread
from shared.crm.extractors import HeuristicExtractor
from shared.identity import InvalidToken
from shared.store.port import query
from shared.store.sqlite import SqliteStore
from tests.crm.conftest import ACCOUNT, PHONE, THREAD, Chat

Code = https_fn.FunctionsErrorCode


# The ID tokens the stand-in verifier knows (token -> claims); the real one is
# shared.identity.verify_id_token, proven through the emulators in test_callables_emulator.py.
TOKENS: dict[str, dict[str, Any]] = {}


@pytest.fixture(autouse=True)
def _verifier(monkeypatch: pytest.MonkeyPatch) -> None:
    def verify(token: str) -> dict[str, Any]:
        if token not in TOKENS:
            raise InvalidToken("revoked", guess=False)
        return TOKENS[token]

    monkeypatch.setattr(crm_handlers, "_verify", verify)


def call(data: Any, uid: str | None = "staff-1", **claims: Any) -> https_fn.CallableRequest[Any]:
    token = f"token-of-{uid}-{len(TOKENS)}"
    TOKENS[token] = {"uid": uid, **claims}
    headers = [("Authorization", f"Bearer {token}")]
    builder = EnvironBuilder(path="/", method="POST", json={"data": data}, headers=headers)
    raw = Request(builder.get_environ())
    auth = https_fn.AuthData(uid, {"uid": uid, **claims}) if uid else None
    return https_fn.CallableRequest(data=data, raw_request=raw, auth=auth)


@pytest.fixture
def staff(db: SqliteStore) -> SqliteStore:
    db.set("staffProfiles/staff-1", {"role": "staff", "whatsAppAccountIds": [ACCOUNT]})
    return db


def booking(chat: Chat) -> None:
    chat.client(
        "Bună! Vrem Batman pe 12 decembrie 2026, ora 17, pentru Radu, 6 ani, "
        "la Str. Mare nr. 3, Sibiu.",
        "2026-11-20T09:00:00+02:00",
    )
    chat.staff("Batman, 2 ore: 700 lei. V-am notat.", "2026-11-20T09:05:00+02:00")


def extract(db: SqliteStore, data: Any, **kw: Any) -> dict[str, Any]:
    return extract_event_from_thread(call(data, **kw), db=db, extractor=HeuristicExtractor())


def error_of(fn: Any) -> https_fn.HttpsError:
    with pytest.raises(https_fn.HttpsError) as caught:
        fn()
    return caught.value


def test_extract_needs_a_signed_in_employee(staff: SqliteStore, chat: Chat) -> None:
    booking(chat)
    data = {"threadId": THREAD, "accountId": ACCOUNT}
    assert error_of(lambda: extract(staff, data, uid=None)).code == Code.UNAUTHENTICATED
    denied = error_of(lambda: extract(staff, data, uid="stranger"))
    assert denied.code == Code.PERMISSION_DENIED
    assert extract(staff, data)["action"] == "CREATE_EVENT"
    assert extract(staff, data, uid="boss", admin=True)["action"] == "CREATE_EVENT"


@pytest.mark.parametrize(
    "data",
    [
        None,
        "threadId",
        {},
        {"threadId": THREAD},
        {"threadId": "", "accountId": ACCOUNT},
        {"threadId": THREAD, "accountId": ACCOUNT, "lastNMessages": 0},
        {"threadId": THREAD, "accountId": ACCOUNT, "lastNMessages": "many"},
        {"threadId": THREAD, "accountId": ACCOUNT, "dryRun": "maybe"},
        {"threadId": THREAD, "accountId": ACCOUNT, "phoneE164": "not a phone"},
    ],
)
def test_extract_bad_arguments(staff: SqliteStore, data: Any) -> None:
    error = error_of(lambda: extract(staff, data))
    assert error.code == Code.INVALID_ARGUMENT
    assert error.message


def test_extract_contract_result_and_idempotent_save(staff: SqliteStore, chat: Chat) -> None:
    booking(chat)
    dry = extract(staff, {"threadId": THREAD, "accountId": ACCOUNT})
    assert set(dry) >= {
        "action",
        "draftEvent",
        "targetEventId",
        "confidence",
        "reasons",
        "clientRequestId",
        "traceId",
        "cacheHit",
    }
    assert isinstance(dry["reasons"], list) and 0 <= dry["confidence"] <= 1
    assert staff.query(query("evenimente")) == []
    save = {"threadId": THREAD, "accountId": ACCOUNT, "dryRun": False}
    first, second = extract(staff, save), extract(staff, save)
    [event] = staff.query(query("evenimente"))
    assert first["targetEventId"] == second["targetEventId"] == event.id
    assert event.data["createdBy"] == "staff-1" and event.data["phoneE164"] == PHONE


def test_extract_refusals_map_to_callable_codes(staff: SqliteStore, chat: Chat) -> None:
    booking(chat)
    missing = {"threadId": "acc1__40711111111@s.whatsapp.net", "accountId": ACCOUNT}
    assert error_of(lambda: extract(staff, missing)).code == Code.NOT_FOUND
    mismatch = {"threadId": THREAD, "accountId": "acc2"}
    assert error_of(lambda: extract(staff, mismatch)).code == Code.PERMISSION_DENIED


class Broken:
    version = "broken"
    model_name = None

    def extract(self, *args: Any, **kwargs: Any) -> Any:
        raise KeyError("secret-internal-detail")


def test_unexpected_errors_are_internal_without_details(staff: SqliteStore, chat: Chat) -> None:
    booking(chat)
    request = call({"threadId": THREAD, "accountId": ACCOUNT})
    error = error_of(lambda: extract_event_from_thread(request, db=staff, extractor=Broken()))
    assert error.code == Code.INTERNAL
    assert "secret" not in error.message and "trace" in error.message


def seed_client(db: SqliteStore) -> None:
    db.set(f"clients/{PHONE}", {"phoneE164": PHONE, "displayName": "Ana Pop"})
    for short_id, day, amount, status in (
        (5, "10-01-2026", 600, "PAID"),
        (6, "10-10-2026", 800, "UNPAID"),
    ):
        db.set(
            f"evenimente/e{short_id}",
            {
                "eventShortId": short_id,
                "date": day,
                "phoneE164": PHONE,
                "childName": "Ioana",
                "payment": {"amount": amount, "status": status},
                "isArchived": False,
            },
        )
    db.set(
        "evenimente/other",
        {
            "eventShortId": 99,
            "date": "01-02-2026",
            "phoneE164": "+40733000999",
            "payment": {"amount": 5000},
        },
    )


def ask(db: SqliteStore, data: Any, **kw: Any) -> dict[str, Any]:
    return client_crm_ask(call(data, **kw), db=db)


def test_ask_answers_from_this_clients_events_only(
    staff: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    seed_client(staff)
    result = ask(staff, {"phoneE164": PHONE, "question": "Cât a cheltuit clientul în total?"})
    assert "1400" in result["answer"]
    assert sorted(s["eventShortId"] for s in result["sources"]) == [5, 6]
    assert all(set(s) == {"eventShortId", "date", "details"} for s in result["sources"])
    free = ask(staff, {"phoneE164": PHONE, "question": "Ce impresie i-a lăsat animatorul?"})
    assert "Pot răspunde" in free["answer"] and free["sources"] == []


def test_ask_auth_and_arguments(staff: SqliteStore) -> None:
    good = {"phoneE164": PHONE, "question": "Câte petreceri?"}
    assert error_of(lambda: ask(staff, good, uid=None)).code == Code.UNAUTHENTICATED
    assert error_of(lambda: ask(staff, good, uid="stranger")).code == Code.PERMISSION_DENIED
    for bad in (
        {},
        {"phoneE164": PHONE},
        {"question": "x"},
        {"phoneE164": "abc", "question": "x"},
        {"phoneE164": PHONE, "question": "   "},
        ["x"],
    ):
        assert error_of(lambda bad=bad: ask(staff, bad)).code == Code.INVALID_ARGUMENT


def test_ask_also_reads_legacy_events(staff: SqliteStore) -> None:
    staff.set(
        "evenimente/legacy",
        {
            "idScurt": 3,
            "data": "05-05-2025",
            "telefonClientE164": PHONE,
            "incasare": {"stare": "INCASAT", "suma": 450},
        },
    )
    result = ask(staff, {"phoneE164": PHONE, "question": "Cât a plătit clientul?"})
    assert "450" in result["answer"] and [s["eventShortId"] for s in result["sources"]] == [3]


def test_ask_bad_input_gets_a_clear_answer_or_invalid_argument(staff: SqliteStore) -> None:
    seed_client(staff)
    for bad in ("", " \n ", "x" * 2001):
        error = error_of(lambda bad=bad: ask(staff, {"phoneE164": PHONE, "question": bad}))
        assert error.code == Code.INVALID_ARGUMENT
    longest = ask(staff, {"phoneE164": PHONE, "question": "Cât a plătit? " + "a" * 1986})
    assert "600" in longest["answer"]
    nobody = ask(staff, {"phoneE164": "+40733111222", "question": "Câte petreceri are?"})
    assert nobody == {
        "answer": "Nu există niciun client cu acest număr și nicio petrecere înregistrată pe el "
        "(0 petreceri, 0 lei).",
        "sources": [],
    }
    staff.set("clients/+40733111333", {"phoneE164": "+40733111333"})
    empty = ask(staff, {"phoneE164": "+40733111333", "question": "Când e următoarea petrecere?"})
    assert "0 petreceri" in empty["answer"] and empty["sources"] == []


def test_ask_today_is_the_day_in_romania(staff: SqliteStore) -> None:
    """22:30 UTC on 9 October is already 10 October in Bucharest: "azi" is the party day."""
    from datetime import UTC, datetime

    seed_client(staff)
    late = datetime(2026, 10, 9, 22, 30, tzinfo=UTC)
    result = client_crm_ask(
        call({"phoneE164": PHONE, "question": "Ce petrecere e azi?"}), db=staff, clock=lambda: late
    )
    assert "10-10-2026" in result["answer"] and "Nicio petrecere" not in result["answer"]
    assert [s["eventShortId"] for s in result["sources"]] == [6]


def test_ask_reads_legacy_and_undated_events_without_crashing(staff: SqliteStore) -> None:
    odd: list[dict[str, Any]] = [
        {"data": "31-02-2026", "incasare": {"stare": "???", "suma": "abc"}},
        {"data": None, "roluriPeSlot": ["not", "a", "map"], "sarbatoritVarsta": "cinci"},
        {"payment": "600 lei", "rolesBySlot": {"1A": {"startTime": "25:99"}}},
    ]
    for n, doc in enumerate(odd):
        staff.set(f"evenimente/odd{n}", {**doc, "telefonClientE164": PHONE, "idScurt": 70 + n})
    for question in ("Câte petreceri are?", "La ce oră începe?", "Câți ani are copilul?"):
        result = ask(staff, {"phoneE164": PHONE, "question": question})
        assert result["answer"] and all(s["date"] for s in result["sources"])


def test_super_admin_by_email_case_insensitive(
    staff: SqliteStore, chat: Chat, monkeypatch: pytest.MonkeyPatch
) -> None:
    booking(chat)
    monkeypatch.setenv("SUPER_ADMIN_EMAILS", "boss@example.com, other@example.com")
    data = {"threadId": THREAD, "accountId": ACCOUNT}
    assert (
        extract(staff, data, uid="boss-uid", email="Boss@Example.com", email_verified=True)[
            "action"
        ]
        == "CREATE_EVENT"
    )
    # An address nobody verified proves nothing: anyone can sign up under it.
    unverified = error_of(lambda: extract(staff, data, uid="y", email="boss@example.com"))
    assert unverified.code == Code.PERMISSION_DENIED
    denied = error_of(lambda: extract(staff, data, uid="x", email="nobody@example.com"))
    assert denied.code == Code.PERMISSION_DENIED


def test_a_revoked_token_is_unauthenticated_and_an_outage_unavailable(
    staff: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = {"phoneE164": PHONE, "question": "Câte petreceri?"}
    request = call(data)
    TOKENS.clear()  # the framework accepted the token; the revocation check refuses it
    assert error_of(lambda: client_crm_ask(request, db=staff)).code == Code.UNAUTHENTICATED

    def unreachable(token: str) -> dict[str, Any]:
        raise ConnectionError("identitytoolkit unreachable")

    monkeypatch.setattr(crm_handlers, "_verify", unreachable)
    assert error_of(lambda: client_crm_ask(call(data), db=staff)).code == Code.UNAVAILABLE
