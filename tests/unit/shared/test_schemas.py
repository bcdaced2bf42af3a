"""shared.schemas: documents round-trip, payloads validate with errors that name the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from google.api_core.datetime_helpers import DatetimeWithNanoseconds
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from shared.schemas import (
    Account,
    AccountApi,
    AddAccountRequest,
    AskRequest,
    AskResult,
    Client,
    ErrorBody,
    Event,
    ExtractionAudit,
    ExtractRequest,
    ExtractResult,
    InvalidPayload,
    Message,
    OutboxItem,
    SendRequest,
    StaffProfile,
    Thread,
    describe_validation_error,
    validate_payload,
)

TS = DatetimeWithNanoseconds(2026, 1, 14, 9, 12, 0, 123456, tzinfo=UTC)
TS2 = datetime(2026, 1, 14, 11, 40, tzinfo=timezone(timedelta(hours=2)))

THREAD = {
    "accountId": "acc1",
    "clientJid": "40722123456@s.whatsapp.net",
    "normalizedPhone": "+40722123456",
    "phoneE164": "+40722123456",
    "displayName": "Ana Pop",
    "lastMessageAt": TS,
    "lastMessageAtMs": 1_768_381_920_123,
    "lastMessageText": "Bună ziua",
    "lastMessagePreview": "Bună ziua",
    "lastMessageDirection": "inbound",
    "unreadCount": 2,
    "ownerUid": None,
    "coWriterUids": ["u2"],
    "updatedAt": TS2,
    "someFutureField": {"nested": [1, 2]},
}
MESSAGE = {
    "accountId": "acc1",
    "clientJid": "40722123456@s.whatsapp.net",
    "direction": "outbound",
    "body": "",
    "status": "queued",
    "tsClient": TS,
    "tsClientMs": 1_768_381_920_123,
    "createdAt": TS2,
    "createdAtMs": 1_768_381_920_123,
    "clientMessageId": "cm1",
    "media": {"type": "image", "url": "https://x/y.jpg", "mimetype": "image/jpeg"},
}
OUTBOX = {
    "requestId": "r" * 64,
    "threadId": "acc1__40722123456@s.whatsapp.net",
    "accountId": "acc1",
    "toJid": "40722123456@s.whatsapp.net",
    "body": "Salut",
    "payload": {"text": "Salut"},
    "status": "queued",
    "attemptCount": 0,
    "nextAttemptAt": TS,
    "createdAt": TS,
    "createdByUid": "u1",
    "clientMessageId": "cm1",
    "leaseUntil": None,
}
ACCOUNT = {
    "name": "Superparty 1",
    "phone": "0722 123 456",
    "phoneE164": "+40722123456",
    "status": "temporarily_banned",
    "createdAt": TS,
    "autoReplyEnabled": False,
}
CLIENT = {
    "phoneE164": "+40722123456",
    "phoneRaw": "0722123456",
    "displayName": "Ana",
    "lifetimeSpendPaid": 1200,
    "lifetimeSpendAll": 1650.5,
    "eventsCount": 3,
    "lastEventAt": TS,
    "createdAt": TS2,
    "stats": {"currency": "RON"},
    "ledger": {"ev1": {"paid": 650}},
}
EVENT = {
    "schemaVersion": 3,
    "eventShortId": 2101,
    "date": "14-02-2026",
    "address": "Str. Crinului nr. 7",
    "phoneE164": "+40771804843",
    "childName": "Anastasia",
    "childAge": 5,
    "payment": {"status": "PAID", "method": "CASH", "amount": 650},
    "rolesBySlot": {
        "2101A": {
            "slot": "2101A",
            "roleType": "ANIMATOR",
            "startTime": "16:00",
            "durationMin": 120,
            "status": "PENDING",
            "details": {"character": "Elsa"},
        }
    },
    "isArchived": False,
    "createdAt": TS,
    "createdBy": "uid1",
}
AUDIT = {
    "status": "success",
    "createdAt": TS,
    "finishedAt": TS2,
    "requestedBy": "u1",
    "traceId": "t",
    "lastMessageId": "m3",
    "extractorVersion": "heuristic-1",
    "model": "none",
    "messageCount": 3,
    "result": {"action": "NOOP", "reasons": []},
}
STAFF = {"role": "admin", "whatsAppAccountIds": ["acc1"]}


@pytest.mark.parametrize(
    ("model", "doc"),
    [
        (Thread, THREAD),
        (Message, MESSAGE),
        (OutboxItem, OUTBOX),
        (Account, {**ACCOUNT, "phone": "0722 123 456"}),
        (Client, CLIENT),
        (Event, EVENT),
        (ExtractionAudit, AUDIT),
        (StaffProfile, STAFF),
    ],
)
def test_documents_round_trip(model: type[Any], doc: dict[str, Any]) -> None:
    parsed = model.model_validate(doc)
    assert parsed.to_doc() == doc
    # Datetimes come back as the very same objects (Firestore's subclass included).
    dumped = parsed.model_dump()
    for key, value in doc.items():
        if isinstance(value, datetime):
            assert dumped[key] is value
            assert dumped[key].tzinfo is not None


def test_attribute_names_are_snake_case_and_dump_is_camel_case() -> None:
    thread = Thread.model_validate(THREAD)
    assert thread.last_message_at is TS
    assert thread.client_jid == "40722123456@s.whatsapp.net"
    assert "lastMessageAt" in thread.model_dump()
    # Construction by Python name works too.
    again = Thread(account_id="a", client_jid="1234567@g.us", last_message_at=TS)
    assert again.to_doc() == {
        "accountId": "a",
        "clientJid": "1234567@g.us",
        "lastMessageAt": TS,
    }


def test_naive_timestamp_is_utc_and_iso_strings_are_read() -> None:
    msg = Message.model_validate({**MESSAGE, "tsClient": datetime(2026, 1, 1)})
    assert msg.ts_client == datetime(2026, 1, 1, tzinfo=UTC)
    msg = Message.model_validate({**MESSAGE, "tsClient": "2026-01-01T02:00:00+02:00"})
    assert msg.ts_client == datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("model", "doc", "field"),
    [
        (Thread, {k: v for k, v in THREAD.items() if k != "lastMessageAt"}, "lastMessageAt"),
        (Thread, {**THREAD, "clientJid": "junk"}, "clientJid"),
        (Thread, {**THREAD, "lastMessageDirection": "sideways"}, "lastMessageDirection"),
        (Message, {**MESSAGE, "status": "lost"}, "status"),
        (Message, {**MESSAGE, "tsClient": "yesterday"}, "tsClient"),
        (Message, {**MESSAGE, "media": {"type": "sticker"}}, "media.type"),
        (OutboxItem, {**OUTBOX, "status": "done"}, "status"),
        (OutboxItem, {**OUTBOX, "attemptCount": -1}, "attemptCount"),
        (Client, {**CLIENT, "phoneE164": "abc"}, "phoneE164"),
        (Client, {**CLIENT, "lastEventAt": "14-02-2026"}, "lastEventAt"),
        (Event, {**EVENT, "date": "31-02-2026"}, "date"),
        (Event, {**EVENT, "payment": {"status": "INCASAT"}}, "payment.status"),
        (Event, {**EVENT, "rolesBySlot": {"X": {"roleType": "ANIMATOR"}}}, "rolesBySlot"),
        (
            Event,
            {**EVENT, "rolesBySlot": {"01A": {"roleType": "JUGGLER"}}},
            "rolesBySlot.01A.roleType",
        ),
        (StaffProfile, {"role": "boss"}, "role"),
        (ExtractionAudit, {**AUDIT, "status": "running forever"}, "status"),
    ],
)
def test_bad_documents_name_the_field(model: type[Any], doc: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        model.model_validate(doc)
    assert describe_validation_error(info.value).startswith(f"{field}: ")


def test_event_from_legacy_document() -> None:
    event = Event.from_any(
        {
            "data": "7-2-2026",
            "sarbatoritNume": "Sofia",
            "incasare": {"stare": "INCASAT", "suma": "650"},
            "roluriPeSlot": {"01A": {"rol": "animatoare"}},
            "esteArhivat": False,
        }
    )
    assert event.date == "07-02-2026"
    assert event.child_name == "Sofia"
    assert event.payment.status == "PAID"
    assert event.payment.amount == 650
    assert event.roles_by_slot["01A"].status == "PENDING_PERSONAJ"
    assert event.roles_by_slot["01A"].duration_min == 120


def test_account_api_is_strings_or_null() -> None:
    view = AccountApi.from_doc(
        "acc1",
        {"name": "Cont 1", "phone": 40722123456, "status": "qr_ready", "createdAt": TS},
        qr_code="data:image/png;base64,AAAA",
        pairing_code={"not": "a string"},
    )
    body = view.model_dump()
    assert body == {
        "id": "acc1",
        "name": "Cont 1",
        "phone": "40722123456",
        "status": "qr_ready",
        "qrCode": "data:image/png;base64,AAAA",
        "pairingCode": None,
    }
    assert all(v is None or isinstance(v, str) for v in body.values())
    staff = view.without_secrets().model_dump()
    assert staff["qrCode"] is None and staff["pairingCode"] is None


# ---------------------------------------------------------------------------------------------
# API payloads

GOOD_SEND = {
    "threadId": "acc1__40722123456@s.whatsapp.net",
    "accountId": "acc1",
    "toJid": "40722123456@s.whatsapp.net",
    "text": "Bună!",
    "clientMessageId": "cm-1",
}


@pytest.mark.parametrize(
    ("model", "data", "message"),
    [
        (AddAccountRequest, {"phone": "0722123456"}, "name: is required"),
        (AddAccountRequest, {"name": "  ", "phone": "0722123456"}, "name: must not be empty"),
        (AddAccountRequest, {"name": "x" * 101, "phone": "0722123456"}, "name: "),
        (AddAccountRequest, {"name": "Cont"}, "phone: is required"),
        (AddAccountRequest, {"name": "Cont", "phone": "abc"}, "phone: not a valid phone number"),
        (AddAccountRequest, {"name": 5, "phone": "0722123456"}, "name: "),
        (SendRequest, {**GOOD_SEND, "text": ""}, "text: "),
        (SendRequest, {**GOOD_SEND, "text": "   "}, "text: must not be blank"),
        (SendRequest, {**GOOD_SEND, "toJid": "0722123456"}, "toJid: not a WhatsApp JID"),
        (SendRequest, {**GOOD_SEND, "clientMessageId": ""}, "clientMessageId: must not be empty"),
        (ExtractRequest, {"accountId": "a"}, "threadId: is required"),
        (ExtractRequest, {"threadId": "t", "accountId": "a", "lastNMessages": 0}, "lastNMessages"),
        (ExtractRequest, {"threadId": "t", "accountId": "a", "phoneE164": "x"}, "phoneE164: "),
        (AskRequest, {"phoneE164": "+40722123456"}, "question: is required"),
        (AskRequest, {"question": "Cât a plătit?"}, "phoneE164: is required"),
        (AskRequest, {"phoneE164": "+40722123456", "question": " "}, "question: must not"),
    ],
)
def test_bad_payloads_name_the_field(model: type[BaseModel], data: Any, message: str) -> None:
    with pytest.raises(InvalidPayload) as info:
        validate_payload(model, data)
    assert info.value.message.startswith(message)
    assert "\n" not in info.value.message
    assert info.value.fields


@pytest.mark.parametrize("missing", list(GOOD_SEND))
def test_send_requires_all_five_fields(missing: str) -> None:
    data = {k: v for k, v in GOOD_SEND.items() if k != missing}
    with pytest.raises(InvalidPayload) as info:
        validate_payload(SendRequest, data)
    assert info.value.fields == [missing]
    assert info.value.message == f"{missing}: is required"


def test_several_bad_fields_are_all_named() -> None:
    with pytest.raises(InvalidPayload) as info:
        validate_payload(AddAccountRequest, {"name": "", "phone": "abc"})
    assert info.value.fields == ["name", "phone"]
    assert info.value.message == "name: must not be empty; phone: not a valid phone number"


@pytest.mark.parametrize("body", [None, [], "text", 5])
def test_non_object_body(body: object) -> None:
    with pytest.raises(InvalidPayload, match="body: must be a JSON object"):
        validate_payload(SendRequest, body)


def test_good_payloads() -> None:
    add = validate_payload(AddAccountRequest, {"name": " Cont 1 ", "phone": "0722 123 456"})
    assert (add.name, add.phone) == ("Cont 1", "+40722123456")
    send = validate_payload(SendRequest, {**GOOD_SEND, "extra": "ignored"})
    assert send.client_message_id == "cm-1"
    extract = validate_payload(ExtractRequest, {"threadId": "t", "accountId": "a"})
    assert (extract.last_n_messages, extract.dry_run, extract.phone_e164) == (50, True, None)
    many = validate_payload(
        ExtractRequest, {"threadId": "t", "accountId": "a", "lastNMessages": 900}
    )
    assert many.last_n_messages == 500
    ask = validate_payload(AskRequest, {"phoneE164": "0722123456", "question": "Total?"})
    assert ask.phone_e164 == "+40722123456"


def test_responses_dump_camel_case() -> None:
    result = ExtractResult(
        action="NOOP",
        confidence=0.2,
        reasons=["no date"],
        client_request_id="abc",
        trace_id="t",
    )
    assert result.model_dump() == {
        "action": "NOOP",
        "draftEvent": None,
        "targetEventId": None,
        "confidence": 0.2,
        "reasons": ["no date"],
        "clientRequestId": "abc",
        "traceId": "t",
        "cacheHit": False,
    }
    assert ErrorBody(error="invalid_request", message="m").model_dump() == {
        "success": False,
        "error": "invalid_request",
        "message": "m",
    }
    answer = AskResult.model_validate(
        {
            "answer": "1200 lei",
            "sources": [{"eventShortId": 1, "date": "01-01-2026", "details": ""}],
        }
    )
    assert answer.model_dump()["sources"][0]["eventShortId"] == 1


@given(st.datetimes(timezones=st.timezones()))
def test_any_aware_timestamp_round_trips(ts: datetime) -> None:
    doc = {**MESSAGE, "tsClient": ts}
    assert Message.model_validate(doc).to_doc()["tsClient"] == ts


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)
_EVENT_KEYS = [
    "data", "date", "adresa", "sarbatoritNume", "sarbatoritVarsta", "telefonClientE164",
    "incasare", "payment", "roluriPeSlot", "rolesBySlot", "roles", "esteArhivat", "eventShortId",
    "createdAt", "creatLa", "nrCopii", "startTime",
]  # fmt: skip


@given(st.dictionaries(st.sampled_from(_EVENT_KEYS), _JSON, max_size=8))
def test_any_event_document_validates_or_fails_cleanly(raw: dict[str, Any]) -> None:
    try:
        event = Event.from_any(raw)
    except ValidationError as exc:
        message = describe_validation_error(exc)
        assert message and "\n" not in message
    else:
        assert event.schema_version == 3


_REQUEST_KEYS = [
    "name", "phone", "threadId", "accountId", "toJid", "text", "clientMessageId", "phoneE164",
    "lastNMessages", "dryRun", "question",
]  # fmt: skip


@pytest.mark.parametrize("model", [AddAccountRequest, SendRequest, ExtractRequest, AskRequest])
@given(body=st.dictionaries(st.sampled_from(_REQUEST_KEYS), _JSON, max_size=6) | _JSON)
def test_any_request_body_is_accepted_or_invalid_payload(model: type[BaseModel], body: Any) -> None:
    try:
        validate_payload(model, body)
    except InvalidPayload as exc:
        assert exc.message and "\n" not in exc.message
        assert exc.fields


def test_lenient_reads_of_app_written_values() -> None:
    assert StaffProfile.model_validate({"role": " Admin "}).role == "admin"
    event = Event.model_validate({**EVENT, "childAge": 2.5, "notedByCode": 17})
    assert (event.child_age, event.noted_by_code) == (2.5, 17)
