"""One test per auto-reply gate: real pipeline on SQLite, the engine on what it stored, a keyword
flow as the reply (no model needed). Each test also shows the reply goes out without the gate."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from session_daemon.autoreply.engine import AutoReplyEngine, incoming_of
from session_daemon.autoreply.gates import REASONS
from session_daemon.autoreply.settings import AutoReplyConfig
from shared.outbox import enqueue_send
from tests.support.kinds import ACC, CLIENT_JID, T0, TID, msg
from tests.unit.session_daemon.autoreply.conftest import AutoRig

FLOW = [{"keywords": ["pret"], "replies": ["Prețul pornește de la 500 lei."]}]


async def test_reply_when_every_gate_passes(auto: AutoRig) -> None:
    auto.account(autoReplyFlows=FLOW)
    assert await auto.reply_to(msg("m1", "Care e prețul?")) == "none"  # `pretul` != `pret`
    assert await auto.reply_to(msg("m2", "Ce PREȚ aveți?")) == "flow"
    (item,) = auto.outbox()
    assert item["body"] == "Prețul pornește de la 500 lei." and item["createdByUid"] == "auto-reply"
    assert auto.wakes == 1


async def test_account_disabled(auto: AutoRig) -> None:
    auto.account(autoReplyFlows=FLOW, autoReplyEnabled=False)
    assert await auto.reply_to(msg("m1", "pret")) == "disabled"
    auto.config = AutoReplyConfig(enabled=False)  # WHATSAPP_AUTO_REPLY=off
    auto.account(autoReplyEnabled=True)
    assert await auto.reply_to(msg("m2", "pret")) == "disabled"
    assert auto.outbox() == []


async def test_thread_opt_out(auto: AutoRig) -> None:
    auto.account(autoReplyFlows=FLOW)
    await auto.stored(msg("m0", "salut"))
    auto.store.update(f"threads/{TID}", {"aiEnabled": False})
    assert await auto.reply_to(msg("m1", "pret")) == "thread_opt_out"
    auto.store.update(f"threads/{TID}", {"aiEnabled": True})
    assert await auto.reply_to(msg("m2", "pret")) == "flow"


async def test_never_in_groups(auto: AutoRig) -> None:
    auto.account(autoReplyFlows=FLOW)
    group = msg("g1", "pret", chat="120363000000000001@g.us", sender=CLIENT_JID, is_group=True)
    created = await auto.stored(group)
    engine = auto.engine()
    assert engine.handle(incoming_of(created)) == "group"
    assert auto.outbox() == []


async def test_never_to_own_messages(auto: AutoRig) -> None:
    auto.account(autoReplyFlows=FLOW)
    assert await auto.reply_to(msg("m1", "pret", from_me=True)) == "own_message"
    assert auto.outbox() == []


async def test_never_for_history_sync(auto: AutoRig) -> None:
    auto.account(autoReplyFlows=FLOW)
    created = await auto.stored(msg("h1", "pret"), history=True)
    assert created.record.source == "history"
    assert auto.engine().handle(incoming_of(created)) == "history"


async def test_never_for_journal_replays(auto: AutoRig) -> None:
    auto.account(autoReplyFlows=FLOW)
    created = await auto.stored(msg("r1", "pret"))
    replayed = dataclasses.replace(created, replayed=True)
    engine = auto.engine()
    engine.start()
    engine.on_created([replayed])  # the listener drops it without a read
    engine.stop()
    assert engine.handle(incoming_of(replayed)) == "replay"
    assert auto.outbox() == []


async def test_never_for_messages_older_than_ten_minutes(auto: AutoRig) -> None:
    auto.account(autoReplyFlows=FLOW)
    auto.now = T0 + timedelta(minutes=10, seconds=1)
    assert await auto.reply_to(msg("m1", "pret")) == "too_old"
    assert await auto.reply_to(msg("m2", "pret", minutes=5)) == "flow"


async def test_business_hours_in_bucharest(auto: AutoRig) -> None:
    # T0 is 10:00 UTC = 12:00 in Bucharest (winter time)
    auto.account(autoReplyFlows=FLOW, autoReplyHours="13:00-20:00")
    assert await auto.reply_to(msg("m1", "pret")) == "outside_hours"
    auto.account(autoReplyHours="12:00-13:00")
    assert await auto.reply_to(msg("m2", "pret")) == "flow"


async def test_not_while_staff_talks_to_the_client(auto: AutoRig) -> None:
    auto.account(autoReplyFlows=FLOW)
    await auto.stored(msg("m0", "buna"))
    enqueue_send(
        auto.store,
        thread_id=TID,
        account_id=ACC,
        to_jid=CLIENT_JID,
        text="Bună, vă ajut eu",
        uid="u-staff",
        client_message_id="c1",
        now=T0 - timedelta(minutes=28),  # 29 minutes before NOW
    )
    assert await auto.reply_to(msg("m1", "pret")) == "staff_active"
    auto.now = T0 + timedelta(minutes=3)  # the staff message is now 31 minutes old
    assert await auto.reply_to(msg("m2", "pret", minutes=1)) == "flow"


async def test_at_most_k_per_thread_per_hour(auto: AutoRig) -> None:
    auto.account(autoReplyFlows=[{"keywords": [f"k{n}"], "replies": [f"r{n}"]} for n in range(5)])
    auto.config = AutoReplyConfig(max_per_hour=3)
    outcomes = [await auto.reply_to(msg(f"m{n}", f"k{n}")) for n in range(4)]
    assert outcomes == ["flow", "flow", "flow", "rate_limited"]
    auto.now += timedelta(hours=1)  # the window moves on
    assert await auto.reply_to(msg("m9", "k4", minutes=60)) == "flow"
    assert auto.sent_texts() == ["r0", "r1", "r2", "r4"]


async def test_only_the_lease_owner_replies(auto: AutoRig) -> None:
    auto.account(autoReplyFlows=FLOW)
    auto.owns = False
    assert await auto.reply_to(msg("m1", "pret")) == "not_owner"
    assert auto.outbox() == []


async def test_once_per_inbound_message_even_after_a_restart(auto: AutoRig) -> None:
    """The reply's outbox id comes from the message id: the same stored message seen again (by
    a restarted daemon, or another one after failover) finds its item and sends nothing."""
    auto.account(autoReplyFlows=FLOW, autoReplyEnabled=True)
    auto.config = AutoReplyConfig(flow_cooldown_s=0)
    created = await auto.stored(msg("m1", "pret"))
    first = auto.engine()
    first.start()
    first.on_created([created])
    first.stop()  # joins after the queue is empty
    assert first.stats()["counts"] == {"flow": 1}
    restarted = AutoReplyEngine(auto.store, config=auto.config, clock=lambda: auto.now)
    assert restarted.handle(incoming_of(created)) == "duplicate"
    assert len(auto.outbox()) == 1


def test_every_reason_is_listed() -> None:
    assert len(set(REASONS)) == len(REASONS) == 11
