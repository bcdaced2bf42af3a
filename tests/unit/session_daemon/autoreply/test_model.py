"""Model replies through the real `openai` client against a local OpenAI-compatible server
(tests/support/openai_server.py): the prompt and CRM context it gets, and that garbage, errors
and timeouts send nothing (logged and counted)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from session_daemon.autoreply.model import ModelReplier
from session_daemon.autoreply.settings import AutoReplyConfig
from shared.crm.llm import ModelConfig
from tests.support.kinds import msg
from tests.support.openai_server import OpenAIServer, Reply
from tests.unit.session_daemon.autoreply.conftest import AutoRig

PHONE = "+40733111222"


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    s = OpenAIServer().start()
    yield s
    s.stop()


@pytest.fixture
def model_rig(auto: AutoRig, server: OpenAIServer) -> AutoRig:
    server.replies.clear()
    server.requests.clear()
    auto.model = ModelReplier(
        ModelConfig(
            api_key="test-key",
            model="test-model",
            base_url=server.base_url,
            timeout_seconds=0.3,
            max_retries=0,
        )
    )
    auto.config = AutoReplyConfig(max_per_hour=10)
    auto.account(autoReplyPrompt="Ești Superparty. Răspunde scurt.")
    return auto


async def test_model_reply_with_the_prompt_and_the_clients_crm_context(
    model_rig: AutoRig, server: OpenAIServer
) -> None:
    auto = model_rig
    auto.store.create(
        f"clients/{PHONE}",
        {"phoneE164": PHONE, "eventsCount": 1, "lifetimeSpendPaid": 900.0, "displayName": "Ana"},
    )
    auto.store.create(
        "evenimente/e1",
        {
            "phoneE164": PHONE,
            "date": "12-05-2026",
            "address": "Str. Lalelelor 3",
            "childName": "Matei",
            "createdAt": datetime(2026, 1, 1, tzinfo=UTC),
        },
    )
    server.queue_json({"reply": "Bună! Revine un coleg cu detalii pentru 12 mai."})
    assert await auto.reply_to(msg("m1", "Mai aveți liber pe 12 mai?")) == "model"
    assert auto.sent_texts() == ["Bună! Revine un coleg cu detalii pentru 12 mai."]
    (request,) = server.requests
    system, user = request["messages"][0]["content"], request["messages"][1]["content"]
    assert system.startswith("Ești Superparty. Răspunde scurt.")
    context = json.loads(user)
    assert context["totals"] == {"eventsCount": 1, "lifetimeSpendPaid": 900.0}
    assert context["events"] == [
        {"date": "12-05-2026", "address": "Str. Lalelelor 3", "childName": "Matei"}
    ]
    assert context["messages"][-1] == {"from": "client", "text": "Mai aveți liber pe 12 mai?"}
    assert auto.outbox()[0]["createdByUid"] == "auto-reply"


@pytest.mark.parametrize(
    "answer",
    [
        Reply("Sigur! Vă aștept cu"),  # plain text, cut: not the JSON asked for
        Reply('{"reply": "   "}'),  # empty
        Reply(json.dumps({"reply": "x" * 5000})),  # over 4,096 characters
        Reply(status=500, error_message="upstream broke"),
        Reply(json.dumps({"reply": "prea târziu"}), delay_s=1.0),  # past the 0.3 s timeout
    ],
    ids=["garbage", "empty", "too-long", "http-500", "timeout"],
)
async def test_garbage_errors_and_timeouts_send_nothing(
    model_rig: AutoRig, server: OpenAIServer, answer: Reply, caplog: pytest.LogCaptureFixture
) -> None:
    auto = model_rig
    server.queue(answer)
    engine = auto.engine()
    with caplog.at_level(logging.WARNING, logger="session_daemon.autoreply.engine"):
        assert await auto.reply_to(msg("m1", "Bună ziua"), engine) == "model_failed"
    assert auto.outbox() == []
    assert engine.stats()["counts"] == {"model_failed": 1}
    assert "no usable answer" in caplog.text
    # the failed turn does not count against the hourly limit
    assert auto.rig.thread()["autoReplyState"]["turnsMs"] == []
