"""The reaction kind: `reactions {senderKey: emoji}` on the message reacted to."""

from __future__ import annotations

from neonize.proto.waCommon.WACommon_pb2 import MessageKey
from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as e2e
from neonize.proto.waWeb import WAWebProtobufsWeb_pb2 as web

from session_daemon.kinds import reaction
from session_daemon.transport.neonize_convert import convert_web_message
from session_daemon.transport.port import ReactionContent
from tests.support.kinds import ACC, Rig, live, msg
from tests.unit.session_daemon.transport.test_neonize_convert import CLIENT_PN


def test_from_neonize_live_and_from_history() -> None:
    liked = e2e.ReactionMessage(key=MessageKey(ID="3EB0LIKED"), text="❤️")
    assert live(e2e.Message(reactionMessage=liked)).content == ReactionContent("3EB0LIKED", "❤️")
    info = web.WebMessageInfo(
        key=MessageKey(remoteJID=f"{CLIENT_PN}@s.whatsapp.net", ID="3EB0R2"),
        messageTimestamp=1_732_400_000,
    )
    info.message.CopyFrom(e2e.Message(reactionMessage=liked))
    old = convert_web_message(info)
    assert old is not None and old.content == ReactionContent("3EB0LIKED", "❤️")


def test_from_simulator() -> None:
    assert reaction.from_simulator({"to": "M", "emoji": "👍"}) == ReactionContent("M", "👍")


async def test_one_per_sender_and_not_across_chats(rig: Rig) -> None:
    rig.send(msg("M1", "Ce preț are?"))
    rig.send(msg("M2", "în alt chat", chat="40744000000@s.whatsapp.net"))
    rig.send(msg("R1", minutes=1, content=ReactionContent("M1", "👍"), from_me=True))
    rig.send(msg("R2", minutes=1, content=ReactionContent("M1", "❤️")))
    await rig.drain()
    rig.send(msg("R3", minutes=2, content=ReactionContent("M2", "👍")))  # M2 is another chat's
    await rig.drain()
    assert rig.doc("M1")["reactions"] == {"me": "👍", "40733111222": "❤️"}
    assert "reactions" not in rig.doc("M2", f"{ACC}__40744000000@s.whatsapp.net")
    assert rig.pipeline.stats()["changesSkipped"] == {"reaction:target_unknown": 1}
