"""The model path against a local OpenAI-compatible HTTP server (real `openai` SDK, real HTTP):
structured output, the non-strict fallback, and every kind of bad answer — invalid JSON, wrong
types, made-up event ids, timeouts — never crash and never write a wrong event."""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import datetime
from typing import Any

import pytest

from shared.crm.ask import answer_question
from shared.crm.extraction import ExtractionRequest, ExtractionService
from shared.crm.extractors import ModelAsk, ModelExtractor
from shared.crm.llm import ChatModel, ModelConfig, ModelOutputError, model_config_from_env
from shared.crm.prompts import Prompts, prompts_from_doc
from shared.store.port import query
from shared.store.sqlite import SqliteStore
from tests.crm.conftest import ACCOUNT, PHONE, THREAD, Chat
from tests.crm.openai_server import OpenAIServer, Reply

NOW = datetime.fromisoformat("2026-03-05T12:00:00+02:00")

GOOD = {
    "intent": "BOOKING",
    "date": "21-03-2026",
    "startTime": "16:00",
    "address": "Str. Teilor nr. 9, Iași",
    "childName": "Maria",
    "childAge": 5,
    "numChildren": 12,
    "payment": {"amount": 650, "currency": "RON", "status": "UNPAID", "method": None},
    "roles": [{"roleType": "ANIMATOR", "character": "Elsa", "count": 1}],
    "confidence": 0.9,
    "reasons": ["client confirmed"],
    "targetEventId": None,
}


def model(server: OpenAIServer, timeout: float = 3.0) -> ChatModel:
    return ChatModel(
        ModelConfig(
            api_key="test-key",
            model="test-model",
            base_url=server.base_url,
            timeout_seconds=timeout,
            max_retries=0,
        )
    )


def booking(chat: Chat) -> None:
    chat.client(
        "Bună! Vrem Elsa pe 21 martie, ora 16, pentru Maria, 5 ani. "
        "Adresa: Str. Teilor nr. 9, Iași.",
        "2026-03-05T09:00:00+02:00",
    )
    chat.staff("Elsa, 2 ore: 650 lei. V-am notat!", "2026-03-05T09:10:00+02:00")


def run(
    db: SqliteStore, server: OpenAIServer, *, dry_run: bool = True, timeout: float = 3.0
) -> Any:
    svc = ExtractionService(db, ModelExtractor(model(server, timeout)), clock=lambda: NOW)
    request = ExtractionRequest(thread_id=THREAD, account_id=ACCOUNT, caller_uid="staff-1")
    return svc.run(dataclasses.replace(request, dry_run=dry_run))


def test_config_from_env() -> None:
    assert model_config_from_env({}) is None
    config = model_config_from_env(
        {"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": "http://x/v1", "OPENAI_MODEL": "llama"}
    )
    assert config is not None
    assert (config.model, config.base_url, config.max_retries) == ("llama", "http://x/v1", 1)
    assert config.timeout_seconds <= 10


def test_structured_output_is_requested_and_used(
    db: SqliteStore, chat: Chat, llm: OpenAIServer
) -> None:
    booking(chat)
    llm.queue_json(GOOD)
    result = run(db, llm)
    assert result["action"] == "CREATE_EVENT"
    assert result["draftEvent"]["childName"] == "Maria"
    assert result["confidence"] == 0.9
    sent = llm.requests[0]
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["strict"] is True
    conversation = sent["messages"][1]["content"]
    assert "CLIENT: Bună!" in conversation and "STAFF: Elsa, 2 ore" in conversation  # both sides
    [audit] = db.query(query(f"threads/{THREAD}/extractions"))
    assert audit.data["model"] == "test-model"
    assert audit.data["extractorVersion"].startswith("model-test-model")


def test_server_without_json_schema_gets_plain_json_mode(
    db: SqliteStore, chat: Chat, llm: OpenAIServer
) -> None:
    booking(chat)
    llm.queue(
        Reply(status=400, error_message="response_format json_schema is not supported"),
        Reply("```json\n" + json.dumps(GOOD) + "\n```"),
    )
    result = run(db, llm)
    assert result["draftEvent"]["date"] == "21-03-2026"
    assert [r["response_format"]["type"] for r in llm.requests] == ["json_schema", "json_object"]


@pytest.mark.parametrize(
    "content",
    [
        "Sigur! Petrecerea e pe 21 martie.",  # prose, no JSON
        '{"intent": "BOOKING", "date": "21-03-2026",',  # truncated JSON
        json.dumps({**GOOD, "childAge": "cinci"}),  # wrong type
        json.dumps({**GOOD, "roles": "Elsa"}),  # wrong type
        json.dumps({**GOOD, "intent": "MAYBE"}),  # not an allowed value
        json.dumps([GOOD]),  # not an object
        "",  # empty message
    ],
)
def test_bad_model_output_falls_back_to_the_rules_and_saves_the_right_event(
    db: SqliteStore, chat: Chat, llm: OpenAIServer, content: str
) -> None:
    booking(chat)
    llm.default = Reply(content)
    result = run(db, llm, dry_run=False)
    assert result["action"] == "CREATE_EVENT"
    assert "modelul nu a putut fi folosit" in result["reasons"][0]
    [event] = db.query(query("evenimente"))
    data = event.data
    assert (data["date"], data["childName"], data["childAge"]) == ("21-03-2026", "Maria", 5)
    assert data["payment"]["amount"] == 650
    [audit] = db.query(query(f"threads/{THREAD}/extractions"))
    assert audit.data["status"] == "success"


def test_nonsense_values_become_null_not_errors(
    db: SqliteStore, chat: Chat, llm: OpenAIServer
) -> None:
    booking(chat)
    llm.queue_json(
        {
            **GOOD,
            "date": "31-02-2026",
            "startTime": "25:99",
            "roles": [{"roleType": "DRAGON", "character": None, "count": 1}],
        }
    )
    result = run(db, llm)
    draft = result["draftEvent"]
    assert draft["date"] is None and draft["startTime"] is None
    assert draft["roles"] == []
    assert any("DRAGON" in r for r in result["reasons"])


def test_made_up_target_event_is_ignored(db: SqliteStore, chat: Chat, llm: OpenAIServer) -> None:
    db.set(
        "evenimente/someone-else",
        {"date": "21-03-2026", "phoneE164": "+40733000999", "childName": "X", "isArchived": False},
    )
    booking(chat)
    llm.queue_json({**GOOD, "targetEventId": "someone-else"})
    result = run(db, llm, dry_run=False)
    assert result["action"] == "CREATE_EVENT"
    assert any("someone-else" in r for r in result["reasons"])
    untouched = db.get("evenimente/someone-else")
    assert untouched is not None and untouched.data["childName"] == "X"
    mine = [e for e in db.query(query("evenimente")) if e.data.get("phoneE164") == PHONE]
    assert len(mine) == 1


def test_a_valid_target_from_the_model_is_used(
    db: SqliteStore, chat: Chat, llm: OpenAIServer
) -> None:
    db.set(
        "evenimente/mine",
        {"date": "14-03-2026", "phoneE164": PHONE, "childName": "Maria", "isArchived": False},
    )
    booking(chat)
    llm.queue_json({**GOOD, "targetEventId": "mine"})
    result = run(db, llm)
    assert (result["action"], result["targetEventId"]) == ("UPDATE_EVENT", "mine")


def test_a_slow_model_times_out_quickly_and_falls_back(
    db: SqliteStore, chat: Chat, llm: OpenAIServer
) -> None:
    booking(chat)
    llm.default = Reply(json.dumps(GOOD), delay_s=3.0)
    started = time.monotonic()
    result = run(db, llm, timeout=0.5, dry_run=False)
    assert time.monotonic() - started < 2.5
    assert "nu a răspuns la timp" in result["reasons"][0]
    [event] = db.query(query("evenimente"))
    assert event.data["childName"] == "Maria"


def test_complete_json_raises_a_clear_error(llm: OpenAIServer) -> None:
    llm.queue(Reply("not json"))
    with pytest.raises(ModelOutputError):
        ModelAsk(model(llm)).answer({}, [], "?")


def test_prompt_overrides_reach_the_model(db: SqliteStore, chat: Chat, llm: OpenAIServer) -> None:
    prompts = prompts_from_doc(
        {
            "whatsappExtractEvent_system": "SYSTEM OVERRIDE",
            "whatsappExtractEvent_userTemplate": "Telefon {{phone_e164}}:\n{{conversation_text}}",
            "version": 7,
            "clientCrmAsk_system": "",
        }
    )
    assert prompts.version == "7" and prompts.ask_system == Prompts().ask_system
    booking(chat)
    llm.queue_json(GOOD)
    ExtractionService(db, ModelExtractor(model(llm), prompts), clock=lambda: NOW).run(
        ExtractionRequest(thread_id=THREAD, account_id=ACCOUNT, caller_uid="u")
    )
    sent = llm.requests[0]["messages"]
    assert sent[0]["content"] == "SYSTEM OVERRIDE"
    assert sent[1]["content"].startswith(f"Telefon {PHONE}:\n[")


EVENTS = [
    {
        "eventShortId": 7,
        "date": "10-05-2025",
        "childName": "Ana",
        "payment": {"amount": 500, "status": "PAID"},
    },
    {
        "eventShortId": 9,
        "date": "09-05-2026",
        "childName": "Ana",
        "payment": {"amount": 700, "status": "UNPAID"},
    },
]


def test_ask_uses_the_model_only_for_free_text_and_drops_made_up_sources(llm: OpenAIServer) -> None:
    numeric = answer_question({}, EVENTS, "Cât a cheltuit în total?", model=ModelAsk(model(llm)))
    assert "1200" in numeric.answer and not numeric.used_model
    assert llm.requests == []
    llm.queue_json({"answer": "Ana a fost foarte încântată de Elsa.", "sources": [9, 999, 9, 7]})
    free = answer_question({}, EVENTS, "Cum a reacționat copilul?", model=ModelAsk(model(llm)))
    assert free.used_model
    assert [s["eventShortId"] for s in free.sources] == [9, 7]
    assert "Evenimente" in llm.requests[0]["messages"][1]["content"]


def test_ask_model_numbers_are_checked_against_the_data(llm: OpenAIServer) -> None:
    """A model answer stating a figure the events do not hold is dropped for the data answer."""
    llm.queue_json({"answer": "Ana a plătit 4500 lei pentru Elsa.", "sources": [9]})
    answer = answer_question({}, EVENTS, "Cum a reacționat copilul?", model=ModelAsk(model(llm)))
    assert len(llm.requests) == 1
    assert not answer.used_model and answer.sources == []
    assert "4500" not in answer.answer and "1200 lei" in answer.answer


@pytest.mark.parametrize(
    "reply",
    [
        Reply("nu știu"),
        Reply(json.dumps({"answer": 5, "sources": "toate"})),
        Reply(json.dumps({"answer": "ok", "sources": []}), delay_s=3.0),
        Reply(status=500, error_message="boom"),
    ],
)
def test_ask_survives_any_model_failure(llm: OpenAIServer, reply: Reply) -> None:
    llm.default = reply
    errors: list[Exception] = []
    answer = answer_question(
        {},
        EVENTS,
        "Cum a reacționat copilul?",
        model=ModelAsk(model(llm, timeout=0.5)),
        on_model_error=errors.append,
    )
    assert answer.sources == []
    assert "Pot răspunde" in answer.answer
    assert errors


def test_a_server_refusing_both_formats_falls_back_to_the_rules(
    db: SqliteStore, chat: Chat, llm: OpenAIServer
) -> None:
    booking(chat)
    llm.default = Reply(status=400, error_message="unsupported parameter")
    result = run(db, llm)
    assert result["action"] == "CREATE_EVENT"
    assert "refuzat" in result["reasons"][0]
    assert "temperature" not in llm.requests[-1]
