"""The revoke kind (deleted for everyone): the text is kept, `revokedAt` set once."""

from __future__ import annotations

from datetime import timedelta

from neonize.proto.waCommon.WACommon_pb2 import MessageKey
from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as e2e

from session_daemon.kinds import revoke
from session_daemon.transport.neonize_convert import convert_message
from session_daemon.transport.port import RevokeContent
from tests.support.kinds import T0, Rig, live, msg
from tests.unit.session_daemon.transport.test_neonize_convert import CLIENT_PN, jid, message_ev


def test_from_neonize_and_not_other_protocol_messages() -> None:
    gone = e2e.ProtocolMessage(type=e2e.ProtocolMessage.REVOKE, key=MessageKey(ID="3EB0GONE"))
    assert live(e2e.Message(protocolMessage=gone)).content == RevokeContent("3EB0GONE")
    note = e2e.ProtocolMessage(type=e2e.ProtocolMessage.HISTORY_SYNC_NOTIFICATION)
    ev = message_ev(e2e.Message(protocolMessage=note), chat=jid(CLIENT_PN))
    assert convert_message(ev) is None  # still not a message


def test_from_simulator() -> None:
    assert revoke.from_simulator("3EB0GONE") == RevokeContent("3EB0GONE")


async def test_the_text_is_kept(rig: Rig) -> None:
    rig.send(msg("M1", "Ce preț are?"))
    rig.send(msg("D1", minutes=3, content=RevokeContent("M1")))
    rig.send(msg("D1", minutes=3, content=RevokeContent("M1")))
    await rig.drain()
    doc = rig.doc("M1")
    assert doc["body"] == "Ce preț are?" and doc["revokedAt"] == T0 + timedelta(minutes=3)
    assert rig.pipeline.stats()["changesSkipped"] == {"revoke:duplicate": 1}
