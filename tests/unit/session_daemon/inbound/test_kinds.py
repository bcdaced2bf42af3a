"""The inbound pipeline's issue-12 machinery beside the kinds (tests/unit/session_daemon/kinds/
has one file per kind): groups mirrored, the created-message hook, group subjects, and a journal
written before the change replayed after it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from session_daemon.inbound.convert import RECORD_VERSION, InboundRecord
from session_daemon.inbound.journal import Journal
from session_daemon.inbound.pipeline import CreatedMessage, InboundPipeline
from session_daemon.transport.port import (
    MessageReceived,
    PollContent,
)
from shared.store.sqlite import SqliteStore
from tests.support.kinds import T0, Rig, msg, started_rig

ACC = "acc1"
CLIENT_JID = "40733111222@s.whatsapp.net"
TID = f"{ACC}__{CLIENT_JID}"
GROUP = "120363041234567890@g.us"
GTID = f"{ACC}__{GROUP}"


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    r = await started_rig(tmp_path)
    yield r
    await r.pipeline.stop()
    r.store.close()


async def test_group_chats_are_mirrored_with_subject_and_senders(rig: Rig) -> None:
    rig.send(
        msg(
            "G1",
            "Salut tuturor",
            chat=GROUP,
            sender="998877@lid",
            sender_pn_jid="40733111222@s.whatsapp.net",
            is_group=True,
            group_subject="Petrecere Ana",
            push_name="Ana",
        )
    )
    rig.send(msg("G2", "Eu vin", minutes=1, chat=GROUP, sender="40755000000@s.whatsapp.net",
                 is_group=True, push_name="Ion"))  # fmt: skip
    await rig.drain()
    thread = rig.thread(GTID)
    assert thread["clientJid"] == GROUP and thread["isGroup"] is True
    assert (thread["groupSubject"], thread["displayName"]) == ("Petrecere Ana", "Petrecere Ana")
    assert thread["normalizedPhone"] is None and thread["phoneE164"] is None
    first, second = rig.doc("G1", GTID), rig.doc("G2", GTID)
    assert (first["senderName"], first["senderJid"]) == ("Ana", "40733111222@s.whatsapp.net")
    assert (second["senderName"], second["senderJid"]) == ("Ion", "40755000000@s.whatsapp.net")


async def test_created_hook_sees_new_messages_only_and_marks_replays(tmp_path: Path) -> None:
    journal_dir = tmp_path / "journal"
    # A journal written by the daemon before issue 12: version 0 records, no "v".
    old = InboundRecord(
        account_id=ACC, wa_id="OLD1", addr_jid=CLIENT_JID, pn_jid=CLIENT_JID, from_me=False,
        ts_ms=1_772_359_200_000, text="scris înainte", message_type="text", push_name="Ana",
        media=None, source="live", received_ms=1_772_359_200_500,
    )  # fmt: skip
    v0 = {k: v for k, v in old.to_json().items() if k not in ("v", "k", "g", "gs", "sj")}
    journal = Journal(journal_dir)
    journal.append([("m", json.dumps(v0))])
    journal.close()
    store = SqliteStore(tmp_path / "store.db")
    seen: list[CreatedMessage] = []
    pipeline = InboundPipeline(store, journal_dir, flush_interval=0.01, on_created=seen.extend)
    await pipeline.start()
    pipeline.submit(MessageReceived(ACC, msg("NEW1", "după")))
    assert await pipeline.drain(5)
    await pipeline.stop()
    assert {(c.record.wa_id, c.replayed) for c in seen} == {("OLD1", True), ("NEW1", False)}
    assert all(c.thread.get("displayName") == "Ana" for c in seen)
    assert pipeline.stats()["corruptJournalEntries"] == 0
    snap = store.get(f"threads/{TID}/messages/OLD1")
    assert snap is not None and snap.data["body"] == "scris înainte"
    store.close()


def test_record_versions() -> None:
    record = InboundRecord(
        account_id=ACC, wa_id="P1", addr_jid=GROUP, pn_jid=GROUP, from_me=False, ts_ms=1,
        text="", message_type="poll", push_name=None, media=None, source="live", received_ms=2,
        content=PollContent(None, ("a", "b")), is_group=True, group_subject="S",
        sender_jid="4@s.whatsapp.net",
    )  # fmt: skip
    raw = record.to_json()
    assert raw["v"] == RECORD_VERSION == 1
    assert InboundRecord.from_json(json.loads(json.dumps(raw))) == record
    with pytest.raises(ValueError):
        InboundRecord.from_json({**raw, "v": RECORD_VERSION + 1})  # a newer daemon's record


def test_group_subjects_are_due_when_missing_or_a_day_old() -> None:
    from session_daemon.inbound.group_subjects import subject_due

    now = T0 + timedelta(days=3)
    assert subject_due({"clientJid": GROUP}, now)
    assert not subject_due({"clientJid": CLIENT_JID}, now)
    fresh = {"isGroup": True, "groupSubject": "S", "groupSubjectCheckedAt": now}
    assert not subject_due(fresh, now + timedelta(hours=23))
    assert subject_due(fresh, now + timedelta(days=1))
