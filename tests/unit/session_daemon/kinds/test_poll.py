"""The poll kind (creation, every version): a visible message listing the options."""

from __future__ import annotations

from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as e2e

from session_daemon.kinds import poll
from session_daemon.transport.port import PollContent
from tests.support.kinds import Rig, live, msg


def test_from_neonize_every_version() -> None:
    options = [e2e.PollCreationMessage.Option(optionName=n) for n in ("Sâmbătă", "Duminică")]
    v1 = e2e.PollCreationMessage(name="Ce zi?", options=options, selectableOptionsCount=1)
    expected = PollContent("Ce zi?", ("Sâmbătă", "Duminică"), 1)
    assert live(e2e.Message(pollCreationMessage=v1)).content == expected
    assert live(e2e.Message(pollCreationMessageV3=v1)).content == expected
    v4 = live(e2e.Message(pollCreationMessageV4=e2e.FutureProofMessage()))
    assert v4.content == PollContent(None, ()) and v4.message_type == "poll"


def test_from_simulator() -> None:
    got = poll.from_simulator({"name": "Ce zi?", "options": ["a", "b"]})
    assert got == PollContent("Ce zi?", ("a", "b"))


async def test_a_visible_message(rig: Rig) -> None:
    rig.send(msg("P1", content=PollContent("Ce zi?", ("Sâmbătă", "Duminică"), 1)))
    await rig.drain()
    doc = rig.doc("P1")
    assert doc["messageType"] == "poll" and doc["body"] == "📊 Ce zi?\n• Sâmbătă\n• Duminică"
    assert doc["poll"] == {
        "name": "Ce zi?",
        "options": ["Sâmbătă", "Duminică"],
        "selectableCount": 1,
    }
