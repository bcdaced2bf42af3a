"""The undecryptable kind: a placeholder, upgraded in place when the content arrives (the one
rewrite create-once dedup allows)."""

from __future__ import annotations

from neonize.proto import Neonize_pb2 as nz
from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as e2e

from session_daemon.inbound.special import UNDECRYPTABLE_BODY
from session_daemon.kinds import undecryptable
from session_daemon.transport.neonize_convert import convert_event
from session_daemon.transport.port import MessageReceived, UndecryptableContent
from tests.support.kinds import Rig, msg
from tests.unit.session_daemon.transport.test_neonize_convert import (
    CLIENT_PN,
    NOW,
    jid,
    message_ev,
    wire,
)


def test_from_neonize() -> None:
    info = message_ev(e2e.Message(), chat=jid(CLIENT_PN), msg_id="3EB0WAIT").Info
    event = convert_event("acc", wire(nz.UndecryptableMessage(Info=info)), now=NOW)
    assert isinstance(event, MessageReceived)
    assert (event.message.id, event.message.content) == ("3EB0WAIT", UndecryptableContent())
    hidden = nz.UndecryptableMessage(
        Info=info, DecryptFailMode=nz.UndecryptableMessage.DECRYPT_FAIL_HIDE
    )
    assert convert_event("acc", wire(hidden), now=NOW) is None


def test_from_simulator() -> None:
    assert undecryptable.from_simulator(True) == UndecryptableContent()


async def test_upgraded_in_place_and_nothing_else(rig: Rig) -> None:
    rig.send(msg("U1", content=UndecryptableContent()))
    await rig.drain()
    assert rig.doc("U1")["body"] == UNDECRYPTABLE_BODY
    assert rig.thread()["lastMessageText"] == UNDECRYPTABLE_BODY
    rig.send(msg("U1", "Bună, ce pachete aveți?"))  # the retry, same id
    await rig.drain()
    doc = rig.doc("U1")
    assert doc["body"] == "Bună, ce pachete aveți?" and doc["undecryptable"] is False
    assert rig.thread()["lastMessageText"] == "Bună, ce pachete aveți?"
    rig.send(msg("U1", "a forged second copy"))  # create-once stands
    rig.send(msg("U1", content=UndecryptableContent()))
    await rig.drain()
    assert rig.doc("U1")["body"] == "Bună, ce pachete aveți?"
    stats = rig.pipeline.stats()
    assert stats["placeholdersUpgraded"] == 1 and stats["duplicatesSkipped"] == 2
    assert [c.record.wa_id for c in rig.created] == ["U1"]  # created once
