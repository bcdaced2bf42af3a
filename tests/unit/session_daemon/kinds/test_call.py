"""The call kind: a call offer to the linked device is a missed call in the chat."""

from __future__ import annotations

from neonize.proto import Neonize_pb2 as nz

from session_daemon.kinds import call
from session_daemon.transport.neonize_convert import convert_event
from session_daemon.transport.port import CallContent, MessageReceived
from tests.support.kinds import Rig, msg
from tests.unit.session_daemon.transport.test_neonize_convert import CLIENT_PN, NOW, jid, wire


def test_from_neonize_call_offer() -> None:
    meta = nz.BasicCallMeta(callID="CALL0001", timestamp=1_732_400_000, callCreator=jid(CLIENT_PN))
    getattr(meta, "from").CopyFrom(jid(CLIENT_PN))
    offer = nz.CallOffer(
        basicCallMeta=meta, data=nz.Node(Tag="offer", Nodes=[nz.Node(Tag="video")])
    )
    event = convert_event("acc", wire(offer), now=NOW)
    assert isinstance(event, MessageReceived)
    assert (event.message.id, event.message.message_type) == ("CALL0001", "call")
    assert event.message.chat_pn_jid == f"{CLIENT_PN}@s.whatsapp.net"
    assert event.message.content == CallContent(video=True)
    assert event.message.timestamp.year == 2024


def test_from_simulator() -> None:
    assert call.from_simulator(True) == CallContent()
    assert call.from_simulator({"video": True}) == CallContent(video=True)


async def test_a_visible_message(rig: Rig) -> None:
    rig.send(msg("C1", content=CallContent(video=True)))
    await rig.drain()
    assert rig.doc("C1")["body"] == "📹 Apel video pierdut"
    assert rig.thread()["lastMessageText"] == "📹 Apel video pierdut"
