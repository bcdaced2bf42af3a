"""The edit kind: neonize's two shapes, the simulator body, and the pipeline applying it."""

from __future__ import annotations

from neonize.proto.waCommon.WACommon_pb2 import MessageKey
from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as e2e

from session_daemon.kinds import edit
from session_daemon.transport.port import EditContent
from tests.support.kinds import T0, Rig, live, msg


def test_from_neonize_in_both_shapes() -> None:
    proto = e2e.ProtocolMessage(
        type=e2e.ProtocolMessage.MESSAGE_EDIT,
        key=MessageKey(ID="3EB0ORIG"),
        editedMessage=e2e.Message(conversation="Vrem Elsa pe 15 iunie"),
    )
    direct = live(e2e.Message(protocolMessage=proto))
    wrapped = live(
        e2e.Message(
            editedMessage=e2e.FutureProofMessage(message=e2e.Message(protocolMessage=proto))
        )
    )
    for message in (direct, wrapped):
        assert message.content == EditContent("3EB0ORIG", "Vrem Elsa pe 15 iunie")
        assert message.message_type == "edit"


def test_from_simulator() -> None:
    assert edit.from_simulator("3EB0ORIG", "nou") == EditContent("3EB0ORIG", "nou")


async def test_body_is_the_latest_history_keeps_the_rest(rig: Rig) -> None:
    rig.send(msg("M1", "Vrem Elsa pe 14 iunie"))
    await rig.drain()
    rig.send(msg("E1", minutes=2, content=EditContent("M1", "Vrem Elsa pe 15 iunie")))
    rig.send(msg("E1", minutes=2, content=EditContent("M1", "Vrem Elsa pe 15 iunie")))  # again
    rig.send(msg("E9", content=EditContent("NOPE", "x")))
    await rig.drain()
    doc = rig.doc("M1")
    assert doc["body"] == "Vrem Elsa pe 15 iunie"
    assert doc["editHistory"] == [{"body": "Vrem Elsa pe 14 iunie", "at": T0}]
    assert rig.thread()["lastMessageText"] == "Vrem Elsa pe 15 iunie"
    assert rig.store.get("threads/acc1__40733111222@s.whatsapp.net/messages/E1") is None
    stats = rig.pipeline.stats()
    assert stats["changesApplied"] == 1
    assert stats["changesSkipped"] == {"edit:duplicate": 1, "edit:target_unknown": 1}
