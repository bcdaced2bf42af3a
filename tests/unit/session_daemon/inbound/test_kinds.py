"""The inbound pipeline's issue-12 machinery beside the kinds (tests/unit/session_daemon/kinds/
has one file per kind): groups mirrored, the created-message hook, group subjects, and a journal
written before the change replayed after it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from session_daemon.inbound.convert import RECORD_VERSION, InboundRecord
from session_daemon.inbound.journal import Journal
from session_daemon.inbound.pipeline import CreatedMessage, InboundPipeline
from session_daemon.transport.port import (
    Content,
    MessageReceived,
    PollContent,
    WireMessage,
)
from shared.store.sqlite import SqliteStore

ACC = "acc1"
CLIENT_JID = "40733111222@s.whatsapp.net"
TID = f"{ACC}__{CLIENT_JID}"
GROUP = "120363041234567890@g.us"
GTID = f"{ACC}__{GROUP}"
T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


class Rig:
    def __init__(self, store: SqliteStore, pipeline: InboundPipeline) -> None:
        self.store = store
        self.pipeline = pipeline
        self.created: list[CreatedMessage] = []

    def send(self, msg: WireMessage) -> None:
        self.pipeline.submit(MessageReceived(ACC, msg))

    async def drain(self) -> None:
        assert await self.pipeline.drain(5)

    def doc(self, mid: str, tid: str = TID) -> dict[str, Any]:
        snap = self.store.get(f"threads/{tid}/messages/{mid}")
        assert snap is not None, mid
        return snap.data

    def thread(self, tid: str = TID) -> dict[str, Any]:
        snap = self.store.get(f"threads/{tid}")
        assert snap is not None
        return snap.data


def msg(
    mid: str,
    text: str = "",
    *,
    minutes: int = 0,
    content: Content | None = None,
    chat: str = CLIENT_JID,
    sender: str | None = None,
    from_me: bool = False,
    **kw: Any,
) -> WireMessage:
    return WireMessage(
        id=mid,
        chat_jid=chat,
        sender_jid=sender or ("40722000111@s.whatsapp.net" if from_me else chat),
        from_me=from_me,
        timestamp=T0 + timedelta(minutes=minutes),
        text=text,
        content=content,
        push_name=None if from_me else kw.pop("push_name", "Ana"),
        **kw,
    )


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    store = SqliteStore(tmp_path / "store.db")
    pipeline = InboundPipeline(store, tmp_path / "journal", flush_interval=0.01)
    r = Rig(store, pipeline)
    pipeline.on_created = r.created.extend
    await pipeline.start()
    yield r
    await pipeline.stop()
    store.close()


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
