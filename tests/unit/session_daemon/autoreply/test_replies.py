"""Keyword flows, the name question and the owner rule of automatic sends (real pipeline and
outbox transactions on SQLite)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from session_daemon.autoreply.replies import extract_name
from session_daemon.autoreply.settings import (
    AutoReplyConfig,
    Flow,
    auto_reply_config_from_env,
    fold,
)
from session_daemon.config import ConfigError
from shared.outbox import enqueue_send
from tests.support.kinds import ACC, CLIENT_JID, TID, msg
from tests.unit.session_daemon.autoreply.conftest import AutoRig

OTHER_JID = "40733999888@s.whatsapp.net"
OTHER_TID = f"{ACC}__{OTHER_JID}"
FLOWS = [
    {"keywords": ["preț", "cat costa"], "replies": ["Pachetele încep de la 500 lei.", "Ce dată?"]},
    {"keywords": ["adresa"], "replies": ["Venim la dumneavoastră."]},
]


def test_matching_ignores_case_and_diacritics_and_needs_whole_words() -> None:
    flow = Flow.model_validate({"keywords": ["Preț", "cât costă"], "replies": ["x"]})
    assert fold("  CÂT   Costă?! ") == "cat costa"
    assert flow.matches(fold("Bună, cât COSTA un animator?"))
    assert flow.matches(fold("PRET?"))
    assert not flow.matches(fold("pretul"))  # a whole word, not a prefix
    assert (
        flow.key()
        == Flow.model_validate({"keywords": ["cat costa", "PRET"], "replies": ["y"]}).key()
    )


async def test_flow_sends_its_replies_in_order_once_per_trigger_per_thread(auto: AutoRig) -> None:
    auto.account(autoReplyFlows=FLOWS)
    auto.config = AutoReplyConfig(flow_cooldown_s=3600, max_per_hour=10)
    assert await auto.reply_to(msg("m1", "Cât costă?")) == "flow"
    assert auto.sent_texts() == ["Pachetele încep de la 500 lei.", "Ce dată?"]
    # the same trigger again (another keyword of it) within the cooldown: nothing
    assert await auto.reply_to(msg("m2", "si pretul?")) == "none"
    assert await auto.reply_to(msg("m3", "PREȚ")) == "none"
    # another trigger in the same thread answers
    assert await auto.reply_to(msg("m4", "Adresa?")) == "flow"
    # the same trigger in another thread answers
    assert await auto.reply_to(msg("o1", "pret", chat=OTHER_JID)) == "flow"
    assert auto.sent_texts(OTHER_TID) == ["Pachetele încep de la 500 lei.", "Ce dată?"]
    # after the cooldown it answers again
    auto.now += timedelta(hours=1)
    assert await auto.reply_to(msg("m5", "pret", minutes=60)) == "flow"
    assert len(auto.sent_texts()) == 5


async def test_automatic_sends_never_take_the_thread(auto: AutoRig) -> None:
    auto.account(autoReplyFlows=FLOWS)
    assert await auto.reply_to(msg("m1", "pret")) == "flow"
    thread = auto.rig.thread()
    assert thread["ownerUid"] is None
    assert thread["lastMessageText"] == "Ce dată?"  # the summary moves like any send
    messages = [auto.rig.doc(d["requestId"]) for d in auto.outbox()]
    assert {m["createdByUid"] for m in messages} == {"auto-reply"}
    # the first staff sender still becomes the owner
    enqueue_send(
        auto.store,
        thread_id=TID,
        account_id=ACC,
        to_jid=CLIENT_JID,
        text="Revin eu",
        uid="u-staff",
        client_message_id="c1",
    )
    assert auto.rig.thread()["ownerUid"] == "u-staff"


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Mă numesc ana maria", "Ana Maria"),
        ("Bună ziua, sunt Ionuț", "Ionuț"),
        ("Numele meu este Elena-Cristina Pop.", "Elena-Cristina Pop"),
        ("Andrei", "Andrei"),
        ("Vreau o petrecere pe 12 mai", None),
        ("cât costă?", None),
        ("0722123456", None),
    ],
)
def test_name_extraction(text: str, name: str | None) -> None:
    assert extract_name(text) == name


async def test_the_name_question_for_an_unknown_client(auto: AutoRig) -> None:
    auto.account(autoReplyFlows=FLOWS, autoReplyAskName=True)
    auto.config = AutoReplyConfig(name_question="Cu cine vorbesc?")
    assert await auto.reply_to(msg("m1", "Bună, cât costă?")) == "name_question"
    assert auto.sent_texts() == ["Cu cine vorbesc?"]
    # the answer: kept in its own field, never in displayName or clients/
    assert await auto.reply_to(msg("m2", "Mă numesc Ana Popescu")) == "none"
    thread = auto.rig.thread()
    assert thread["clientProvidedName"] == "Ana Popescu"
    assert thread["displayName"] == "Ana"  # the push name, untouched
    assert auto.store.get("clients/+40733111222") is None
    # asked once: later messages go to the flows
    assert await auto.reply_to(msg("m3", "pret")) == "flow"
    assert auto.sent_texts()[-1] == "Ce dată?"


async def test_a_known_client_is_not_asked(auto: AutoRig) -> None:
    auto.account(autoReplyFlows=FLOWS, autoReplyAskName=True)
    auto.store.create("clients/+40733111222", {"phoneE164": "+40733111222", "eventsCount": 2})
    assert await auto.reply_to(msg("m1", "pret")) == "flow"
    assert auto.rig.thread().get("clientProvidedName") is None


def test_limits_from_the_environment() -> None:
    config = auto_reply_config_from_env(
        {"WHATSAPP_AUTO_REPLY_STAFF_QUIET_MINUTES": "15", "WHATSAPP_AUTO_REPLY_MAX_PER_HOUR": "5"}
    )
    assert (config.staff_quiet_s, config.max_per_hour, config.enabled) == (900, 5, True)
    assert auto_reply_config_from_env({"WHATSAPP_AUTO_REPLY": "off"}).enabled is False
    with pytest.raises(ConfigError, match="WHATSAPP_AUTO_REPLY_MAX_PER_HOUR"):
        auto_reply_config_from_env({"WHATSAPP_AUTO_REPLY_MAX_PER_HOUR": "many"})
