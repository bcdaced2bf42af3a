"""Shared helpers of the per-kind test files in tests/unit/session_daemon/kinds/ (one file per
message kind, like the kinds themselves): a real inbound pipeline on SQLite, wire messages, and
live neonize events. The `rig` fixture is that folder's conftest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as e2e

from session_daemon.inbound.pipeline import CreatedMessage, InboundPipeline
from session_daemon.transport.neonize_convert import convert_message
from session_daemon.transport.port import Content, MessageReceived, WireMessage
from shared.store.sqlite import SqliteStore
from tests.unit.session_daemon.transport.test_neonize_convert import CLIENT_PN, jid, message_ev

ACC = "acc1"
CLIENT_JID = "40733111222@s.whatsapp.net"
TID = f"{ACC}__{CLIENT_JID}"
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


def live(message: e2e.Message) -> WireMessage:
    """A live neonize MessageEv (real protobuf bytes) converted."""
    wire_msg = convert_message(message_ev(message, chat=jid(CLIENT_PN)))
    assert wire_msg is not None
    return wire_msg


async def started_rig(tmp_path: Path) -> Rig:
    """A rig whose pipeline is started (stop it with `await rig.pipeline.stop()`)."""
    store = SqliteStore(tmp_path / "store.db")
    pipeline = InboundPipeline(store, tmp_path / "journal", flush_interval=0.01)
    r = Rig(store, pipeline)
    pipeline.on_created = r.created.extend
    await pipeline.start()
    return r
