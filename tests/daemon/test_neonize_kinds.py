"""Every message kind from real neonize protobufs (the bytes Go hands over, parsed), through
conversion to the port's typed content: edits, deletions, reactions, polls of every version,
undecryptable messages, groups, and media with what a download needs."""

from __future__ import annotations

from neonize.proto import Neonize_pb2 as nz
from neonize.proto.waCommon.WACommon_pb2 import MessageKey
from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as e2e
from neonize.proto.waWeb import WAWebProtobufsWeb_pb2 as web

from session_daemon.transport.neonize_convert import (
    convert_event,
    convert_message,
    convert_web_message,
)
from session_daemon.transport.port import (
    CallContent,
    EditContent,
    MessageReceived,
    PollContent,
    ReactionContent,
    RevokeContent,
    UndecryptableContent,
    WireMessage,
)
from tests.daemon.test_neonize_convert import CLIENT_PN, NOW, jid, message_ev, wire


def _live(message: e2e.Message) -> WireMessage:
    wire_msg = convert_message(message_ev(message, chat=jid(CLIENT_PN)))
    assert wire_msg is not None
    return wire_msg


def test_an_edit_in_both_shapes() -> None:
    edit = e2e.ProtocolMessage(
        type=e2e.ProtocolMessage.MESSAGE_EDIT,
        key=MessageKey(ID="3EB0ORIG"),
        editedMessage=e2e.Message(conversation="Vrem Elsa pe 15 iunie"),
    )
    direct = _live(e2e.Message(protocolMessage=edit))
    wrapped = _live(
        e2e.Message(editedMessage=e2e.FutureProofMessage(message=e2e.Message(protocolMessage=edit)))
    )
    for msg in (direct, wrapped):
        assert msg.content == EditContent("3EB0ORIG", "Vrem Elsa pe 15 iunie")
        assert msg.message_type == "edit"


def test_a_revoke_and_not_other_protocol_messages() -> None:
    revoke = _live(
        e2e.Message(
            protocolMessage=e2e.ProtocolMessage(
                type=e2e.ProtocolMessage.REVOKE, key=MessageKey(ID="3EB0GONE")
            )
        )
    )
    assert revoke.content == RevokeContent("3EB0GONE")
    history_note = message_ev(
        e2e.Message(
            protocolMessage=e2e.ProtocolMessage(type=e2e.ProtocolMessage.HISTORY_SYNC_NOTIFICATION)
        ),
        chat=jid(CLIENT_PN),
    )
    assert convert_message(history_note) is None  # still not a message


def test_a_reaction_live_and_from_history() -> None:
    reaction = e2e.ReactionMessage(key=MessageKey(ID="3EB0LIKED"), text="❤️")
    assert _live(e2e.Message(reactionMessage=reaction)).content == ReactionContent("3EB0LIKED", "❤️")
    info = web.WebMessageInfo(
        key=MessageKey(remoteJID=f"{CLIENT_PN}@s.whatsapp.net", ID="3EB0R2"),
        messageTimestamp=1_732_400_000,
    )
    info.message.CopyFrom(e2e.Message(reactionMessage=reaction))
    old = convert_web_message(info)
    assert old is not None and old.content == ReactionContent("3EB0LIKED", "❤️")


def test_polls_of_every_version() -> None:
    options = [e2e.PollCreationMessage.Option(optionName=n) for n in ("Sâmbătă", "Duminică")]
    v1 = e2e.PollCreationMessage(name="Ce zi?", options=options, selectableOptionsCount=1)
    assert _live(e2e.Message(pollCreationMessage=v1)).content == PollContent(
        "Ce zi?", ("Sâmbătă", "Duminică"), 1
    )
    assert _live(e2e.Message(pollCreationMessageV3=v1)).content == PollContent(
        "Ce zi?", ("Sâmbătă", "Duminică"), 1
    )
    v4 = _live(e2e.Message(pollCreationMessageV4=e2e.FutureProofMessage()))
    assert v4.content == PollContent(None, ()) and v4.message_type == "poll"


def test_an_undecryptable_message_is_a_placeholder() -> None:
    ev = message_ev(e2e.Message(), chat=jid(CLIENT_PN), msg_id="3EB0WAIT")
    undecryptable = wire(nz.UndecryptableMessage(Info=ev.Info, IsUnavailable=False))
    event = convert_event("acc", undecryptable, now=NOW)
    assert isinstance(event, MessageReceived)
    assert event.message.id == "3EB0WAIT"
    assert event.message.content == UndecryptableContent()
    hidden = wire(
        nz.UndecryptableMessage(
            Info=ev.Info, DecryptFailMode=nz.UndecryptableMessage.DECRYPT_FAIL_HIDE
        )
    )
    assert convert_event("acc", hidden, now=NOW) is None


def test_media_carries_what_a_download_needs() -> None:
    image = e2e.ImageMessage(
        mimetype="image/jpeg",
        directPath="/v/t62.7118-24/x",
        mediaKey=b"k" * 32,
        fileSHA256=bytes(range(32)),
        fileLength=2048,
    )
    msg = _live(e2e.Message(imageMessage=image))
    assert msg.media is not None
    assert (msg.media.size_bytes, msg.media.sha256) == (2048, bytes(range(32)).hex())
    assert msg.media.download is not None
    no_key = _live(e2e.Message(imageMessage=e2e.ImageMessage(mimetype="image/jpeg")))
    assert no_key.media is not None and no_key.media.download is None


def test_a_call_offer_is_a_missed_call() -> None:
    meta = nz.BasicCallMeta(callID="CALL0001", timestamp=1_732_400_000, callCreator=jid(CLIENT_PN))
    getattr(meta, "from").CopyFrom(jid(CLIENT_PN))
    offer = nz.CallOffer(
        basicCallMeta=meta, data=nz.Node(Tag="offer", Nodes=[nz.Node(Tag="video")])
    )
    event = convert_event("acc", wire(offer), now=NOW)
    assert isinstance(event, MessageReceived)
    call = event.message
    assert (call.id, call.message_type, call.chat_pn_jid) == (
        "CALL0001",
        "call",
        f"{CLIENT_PN}@s.whatsapp.net",
    )
    assert call.content == CallContent(video=True)
    assert call.timestamp.year == 2024
