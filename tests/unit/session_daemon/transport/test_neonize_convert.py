"""Real neonize protobuf events (built here, serialized and parsed back as Go would hand them
over) through the pure conversion to the transport port's dataclasses."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from neonize.proto import Neonize_pb2 as nz
from neonize.proto.waCommon.WACommon_pb2 import MessageKey
from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as e2e
from neonize.proto.waHistorySync import WAWebProtobufsHistorySync_pb2 as hs
from neonize.proto.waWeb import WAWebProtobufsWeb_pb2 as web

from session_daemon.transport.neonize_content import message_content
from session_daemon.transport.neonize_convert import (
    convert_event,
    convert_history_sync,
    convert_message,
    convert_qr,
    convert_receipt,
    jid_proto,
    jid_str,
)
from session_daemon.transport.port import (
    ClientOutdated,
    Connected,
    ConnectFailure,
    Disconnected,
    HistorySyncChunk,
    KeepAliveRestored,
    KeepAliveTimeout,
    LoggedOut,
    Media,
    MessageReceived,
    Paired,
    PairFailed,
    QrCode,
    ReceiptReceived,
    StreamReplaced,
    TemporaryBan,
)

ACC = "acc-1"
CLIENT_PN = "40722000001"
CLIENT_LID = "123456789012345"
OWN_PN = "40733000009"
OWN_LID = "998877665544332"
NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
TS_MS = 1_732_400_000_123  # 2024-11-23T22:13:20.123Z
TS_S = 1_732_400_000
EXPECTED_MS = datetime(2024, 11, 23, 22, 13, 20, 123_000, tzinfo=UTC)
EXPECTED_S = datetime(2024, 11, 23, 22, 13, 20, tzinfo=UTC)


def jid(user: str, server: str = "s.whatsapp.net", device: int = 0, agent: int = 0) -> nz.JID:
    return nz.JID(User=user, Server=server, Device=device, RawAgent=agent, IsEmpty=False)


EMPTY = nz.JID(User="", Server="", IsEmpty=True)


def go_complete(msg: Any) -> Any:
    """Set every unset *required* field to its zero value, recursively, as neonize's Go encoder
    does (it writes every field of its structs); parsing rejects a message without them."""
    for field in msg.DESCRIPTOR.fields:
        if field.is_repeated:
            if field.message_type is not None:
                for item in getattr(msg, field.name):
                    go_complete(item)
        elif field.message_type is not None:
            if msg.HasField(field.name):
                go_complete(getattr(msg, field.name))
            elif field.is_required:
                go_complete(getattr(msg, field.name))
                getattr(msg, field.name).SetInParent()
        elif field.is_required and not msg.HasField(field.name):
            setattr(msg, field.name, field.default_value)
    return msg


def wire(ev: Any) -> Any:
    """Serialize and parse back: what arrives from Go is bytes (with every required field)."""
    return type(ev).FromString(go_complete(ev).SerializeToString())


def message_ev(
    message: e2e.Message,
    *,
    chat: nz.JID,
    sender: nz.JID | None = None,
    from_me: bool = False,
    is_group: bool = False,
    lid: bool = False,
    sender_alt: nz.JID = EMPTY,
    recipient_alt: nz.JID = EMPTY,
    msg_id: str = "3EB0A1B2C3",
    push_name: str = "Ana Pop",
    ts_ms: int = TS_MS,
) -> nz.Message:
    source = nz.MessageSource(
        Chat=chat,
        Sender=sender if sender is not None else chat,
        IsFromMe=from_me,
        IsGroup=is_group,
        AddressingMode=nz.AddressingMode.Value("LID" if lid else "PN"),
        SenderAlt=sender_alt,
        RecipientAlt=recipient_alt,
    )
    info = nz.MessageInfo(
        MessageSource=source, ID=msg_id, Timestamp=ts_ms, Pushname=push_name, Type="text"
    )
    return wire(nz.Message(Info=info, Message=message))


# ---- live messages -------------------------------------------------------------------------------


def test_phone_text_message_with_millisecond_timestamp() -> None:
    ev = message_ev(
        e2e.Message(conversation="Bună ziua, aveți liber sâmbătă?"),
        chat=jid(CLIENT_PN),
        sender=jid(CLIENT_PN, device=0),
    )
    msg = convert_message(ev)
    assert msg is not None
    assert msg.id == "3EB0A1B2C3"
    assert msg.timestamp == EXPECTED_MS  # milliseconds, not seconds
    assert msg.timestamp.tzinfo is not None
    assert msg.chat_jid == f"{CLIENT_PN}@s.whatsapp.net"
    assert msg.sender_jid == f"{CLIENT_PN}@s.whatsapp.net"
    assert msg.chat_pn_jid == f"{CLIENT_PN}@s.whatsapp.net"
    assert msg.sender_pn_jid == f"{CLIENT_PN}@s.whatsapp.net"
    assert (msg.from_me, msg.is_group, msg.message_type) == (False, False, "text")
    assert msg.text == "Bună ziua, aveți liber sâmbătă?"
    assert msg.push_name == "Ana Pop"
    assert msg.media is None


def test_device_and_agent_are_stripped_from_sender() -> None:
    ev = message_ev(
        e2e.Message(extendedTextMessage=e2e.ExtendedTextMessage(text="link https://x.ro")),
        chat=jid(CLIENT_PN),
        sender=jid(CLIENT_PN, device=7, agent=1),
    )
    msg = convert_message(ev)
    assert msg is not None
    assert msg.sender_jid == f"{CLIENT_PN}@s.whatsapp.net"
    assert msg.text == "link https://x.ro"


def test_lid_message_gets_phone_chat_from_sender_alt() -> None:
    ev = message_ev(
        e2e.Message(conversation="salut"),
        chat=jid(CLIENT_LID, "lid"),
        sender=jid(CLIENT_LID, "lid", device=2),
        lid=True,
        sender_alt=jid(CLIENT_PN, device=2),
    )
    msg = convert_message(ev)
    assert msg is not None
    assert msg.chat_jid == f"{CLIENT_LID}@lid"
    assert msg.sender_jid == f"{CLIENT_LID}@lid"
    assert msg.chat_pn_jid == f"{CLIENT_PN}@s.whatsapp.net"
    assert msg.sender_pn_jid == f"{CLIENT_PN}@s.whatsapp.net"


def test_lid_message_without_alt_has_no_phone_chat() -> None:
    ev = message_ev(e2e.Message(conversation="x"), chat=jid(CLIENT_LID, "lid"), lid=True)
    msg = convert_message(ev)
    assert msg is not None
    assert msg.chat_pn_jid is None
    assert msg.sender_pn_jid is None


def test_from_me_on_lid_chat_uses_recipient_alt() -> None:
    ev = message_ev(
        e2e.Message(conversation="Vă trimit oferta"),
        chat=jid(CLIENT_LID, "lid"),
        sender=jid(OWN_LID, "lid", device=0),
        from_me=True,
        lid=True,
        sender_alt=jid(OWN_PN),
        recipient_alt=jid(CLIENT_PN),
        push_name="",
    )
    msg = convert_message(ev)
    assert msg is not None
    assert msg.from_me is True
    assert msg.chat_pn_jid == f"{CLIENT_PN}@s.whatsapp.net"  # the client, not us
    assert msg.sender_jid == f"{OWN_LID}@lid"
    assert msg.sender_pn_jid == f"{OWN_PN}@s.whatsapp.net"
    assert msg.push_name is None


def test_from_me_on_phone_chat_typed_on_the_phone() -> None:
    ev = message_ev(
        e2e.Message(conversation="ok"),
        chat=jid(CLIENT_PN),
        sender=jid(OWN_PN),
        from_me=True,
    )
    msg = convert_message(ev)
    assert msg is not None
    assert (msg.from_me, msg.chat_jid, msg.chat_pn_jid) == (
        True,
        f"{CLIENT_PN}@s.whatsapp.net",
        f"{CLIENT_PN}@s.whatsapp.net",
    )
    assert msg.sender_jid == f"{OWN_PN}@s.whatsapp.net"


def test_image_caption_and_media_metadata() -> None:
    thumb = b"\xff\xd8\xff\xe0fakejpeg"
    ev = message_ev(
        e2e.Message(
            imageMessage=e2e.ImageMessage(
                caption="Tort pentru Maria", mimetype="image/jpeg", JPEGThumbnail=thumb
            )
        ),
        chat=jid(CLIENT_PN),
    )
    msg = convert_message(ev)
    assert msg is not None
    assert (msg.message_type, msg.text) == ("image", "Tort pentru Maria")
    assert msg.media == Media(
        type="image", mimetype="image/jpeg", thumb_base64=base64.b64encode(thumb).decode()
    )


def test_video_and_document_captions() -> None:
    video = convert_message(
        message_ev(
            e2e.Message(videoMessage=e2e.VideoMessage(caption="clip", mimetype="video/mp4")),
            chat=jid(CLIENT_PN),
        )
    )
    assert video is not None
    assert (video.message_type, video.text, video.media) == (
        "video",
        "clip",
        Media(type="video", mimetype="video/mp4"),
    )
    doc = convert_message(
        message_ev(
            e2e.Message(
                documentWithCaptionMessage=e2e.FutureProofMessage(
                    message=e2e.Message(
                        documentMessage=e2e.DocumentMessage(
                            caption="contractul",
                            fileName="contract.pdf",
                            mimetype="application/pdf",
                        )
                    )
                )
            ),
            chat=jid(CLIENT_PN),
        )
    )
    assert doc is not None
    assert (doc.message_type, doc.text) == ("document", "contractul")
    assert doc.media == Media(type="document", mimetype="application/pdf", filename="contract.pdf")


def test_ephemeral_wrapper_is_unwrapped() -> None:
    ev = message_ev(
        e2e.Message(
            ephemeralMessage=e2e.FutureProofMessage(
                message=e2e.Message(
                    extendedTextMessage=e2e.ExtendedTextMessage(text="dispare în 7 zile")
                )
            )
        ),
        chat=jid(CLIENT_PN),
    )
    msg = convert_message(ev)
    assert msg is not None
    assert msg.text == "dispare în 7 zile"


def test_device_sent_wrapper_is_unwrapped() -> None:
    inner = e2e.Message(conversation="scris pe telefon")
    wrapped = e2e.Message(
        deviceSentMessage=e2e.DeviceSentMessage(
            destinationJID=f"{CLIENT_PN}@s.whatsapp.net", message=inner
        )
    )
    assert message_content(wrapped) == ("text", "scris pe telefon", None)


def test_bot_tag_is_switched_off_before_neonize_loads() -> None:
    assert os.environ.get("NEONIZE_BOT_TAG") == "off"


def test_group_message() -> None:
    ev = message_ev(
        e2e.Message(conversation="în grup"),
        chat=jid("120363025246125486", "g.us"),
        sender=jid(CLIENT_LID, "lid", device=1),
        is_group=True,
        lid=True,
        sender_alt=jid(CLIENT_PN),
    )
    msg = convert_message(ev)
    assert msg is not None
    assert msg.is_group is True
    assert msg.chat_jid == "120363025246125486@g.us"
    assert msg.chat_pn_jid is None
    assert msg.sender_jid == f"{CLIENT_LID}@lid"
    assert msg.sender_pn_jid == f"{CLIENT_PN}@s.whatsapp.net"


def test_status_broadcast_keeps_its_chat() -> None:
    ev = message_ev(
        e2e.Message(imageMessage=e2e.ImageMessage(caption="story")),
        chat=jid("status", "broadcast"),
        sender=jid(CLIENT_PN, device=0),
    )
    msg = convert_message(ev)
    assert msg is not None
    assert msg.chat_jid == "status@broadcast"
    assert msg.is_group is False
    assert msg.chat_pn_jid is None
    assert msg.sender_pn_jid == f"{CLIENT_PN}@s.whatsapp.net"


@pytest.mark.parametrize(
    "message",
    [
        e2e.Message(
            protocolMessage=e2e.ProtocolMessage(type=e2e.ProtocolMessage.HISTORY_SYNC_NOTIFICATION)
        ),
        e2e.Message(
            senderKeyDistributionMessage=e2e.SenderKeyDistributionMessage(groupID="g"),
            messageContextInfo=e2e.MessageContextInfo(messageSecret=b"s"),
        ),
        e2e.Message(),
        e2e.Message(
            editedMessage=e2e.FutureProofMessage(
                message=e2e.Message(protocolMessage=e2e.ProtocolMessage(type=14))
            )
        ),
    ],
    ids=["protocol", "sender-key-only", "empty", "edit"],
)
def test_non_content_messages_are_dropped(message: e2e.Message) -> None:
    assert convert_message(message_ev(message, chat=jid(CLIENT_PN))) is None


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (e2e.Message(audioMessage=e2e.AudioMessage(PTT=True, mimetype="audio/ogg")), "audio"),
        (e2e.Message(stickerMessage=e2e.StickerMessage(mimetype="image/webp")), "sticker"),
        (e2e.Message(reactionMessage=e2e.ReactionMessage(text="❤️")), "reaction"),
        (e2e.Message(locationMessage=e2e.LocationMessage(name="Sala")), "location"),
        (e2e.Message(contactMessage=e2e.ContactMessage(displayName="Ion")), "contact"),
        (e2e.Message(pollCreationMessage=e2e.PollCreationMessage(name="Ora?")), "other"),
    ],
)
def test_other_message_types(message: e2e.Message, expected: str) -> None:
    content = message_content(message)
    assert content is not None
    assert content[0] == expected


@pytest.mark.parametrize(
    ("message", "text"),
    [
        (
            e2e.Message(
                buttonsResponseMessage=e2e.ButtonsResponseMessage(
                    selectedButtonID="b2", selectedDisplayText="Sâmbătă la 16"
                )
            ),
            "Sâmbătă la 16",
        ),
        (
            e2e.Message(
                templateButtonReplyMessage=e2e.TemplateButtonReplyMessage(
                    selectedID="t1", selectedDisplayText="Da, confirm"
                )
            ),
            "Da, confirm",
        ),
        (
            e2e.Message(
                listResponseMessage=e2e.ListResponseMessage(
                    title="Pachet Premium",
                    singleSelectReply=e2e.ListResponseMessage.SingleSelectReply(
                        selectedRowID="premium"
                    ),
                )
            ),
            "Pachet Premium",
        ),
        (
            e2e.Message(
                interactiveResponseMessage=e2e.InteractiveResponseMessage(
                    body=e2e.InteractiveResponseMessage.Body(text="Vreau oferta")
                )
            ),
            "Vreau oferta",
        ),
        (
            e2e.Message(
                buttonsMessage=e2e.ButtonsMessage(contentText="Alegeți ora", footerText="x")
            ),
            "Alegeți ora",
        ),
        (
            e2e.Message(eventMessage=e2e.EventMessage(name="Petrecerea lui Matei")),
            "Petrecerea lui Matei",
        ),
    ],
    ids=["button-reply", "template-reply", "list-reply", "interactive-reply", "buttons", "event"],
)
def test_interactive_messages_keep_their_visible_text(message: e2e.Message, text: str) -> None:
    """A client's tap on a business button is what they said: it must reach the thread."""
    wire = convert_message(message_ev(message, chat=jid(CLIENT_PN)))
    assert wire is not None
    assert (wire.message_type, wire.text) == ("other", text)


def test_message_without_id_or_chat_is_dropped() -> None:
    assert convert_message(message_ev(e2e.Message(conversation="x"), chat=EMPTY)) is None
    ev = message_ev(e2e.Message(conversation="x"), chat=jid(CLIENT_PN), msg_id="")
    assert convert_message(ev) is None


# ---- receipts ------------------------------------------------------------------------------------


def receipt_ev(kind: int, *, chat: nz.JID, sender_alt: nz.JID = EMPTY) -> nz.Receipt:
    source = nz.MessageSource(Chat=chat, Sender=chat, SenderAlt=sender_alt, IsFromMe=False)
    return wire(
        nz.Receipt(MessageSource=source, MessageIDs=["A1", "A2"], Timestamp=TS_S, Type=kind)
    )


@pytest.mark.parametrize(
    ("kind", "status"),
    [(nz.Receipt.DELIVERED, "delivered"), (nz.Receipt.READ, "read"), (nz.Receipt.PLAYED, "played")],
)
def test_receipt_types_and_second_timestamp(kind: int, status: str) -> None:
    receipt = convert_receipt(ACC, receipt_ev(kind, chat=jid(CLIENT_PN)))
    assert receipt == ReceiptReceived(
        account_id=ACC,
        message_ids=("A1", "A2"),
        chat_jid=f"{CLIENT_PN}@s.whatsapp.net",
        status=status,  # type: ignore[arg-type]
        timestamp=EXPECTED_S,  # seconds, not milliseconds
        chat_pn_jid=f"{CLIENT_PN}@s.whatsapp.net",
    )


@pytest.mark.parametrize(
    "kind",
    [nz.Receipt.READ_SELF, nz.Receipt.RETRY, nz.Receipt.SENDER, nz.Receipt.SERVER_ERROR],
)
def test_other_receipt_types_are_ignored(kind: int) -> None:
    assert convert_receipt(ACC, receipt_ev(kind, chat=jid(CLIENT_PN))) is None


def test_receipt_on_lid_chat_uses_sender_alt() -> None:
    ev = receipt_ev(nz.Receipt.READ, chat=jid(CLIENT_LID, "lid"), sender_alt=jid(CLIENT_PN))
    receipt = convert_receipt(ACC, ev)
    assert receipt is not None
    assert receipt.chat_jid == f"{CLIENT_LID}@lid"
    assert receipt.chat_pn_jid == f"{CLIENT_PN}@s.whatsapp.net"


# ---- history sync --------------------------------------------------------------------------------


def web_msg(
    msg_id: str,
    remote: str,
    ts_s: int,
    text: str | None = "text",
    *,
    from_me: bool = False,
    participant: str = "",
    stub: int = 0,
    push_name: str = "",
) -> hs.HistorySyncMsg:
    info = web.WebMessageInfo(
        key=MessageKey(remoteJID=remote, fromMe=from_me, ID=msg_id, participant=participant),
        messageTimestamp=ts_s,
        pushName=push_name,
    )
    if text is not None:
        info.message.CopyFrom(e2e.Message(conversation=text))
    if stub:
        info.messageStubType = stub
    return hs.HistorySyncMsg(message=info, msgOrderID=1)


def history_ev() -> nz.HistorySync:
    pn_chat = f"{CLIENT_PN}@s.whatsapp.net"
    lid_chat = f"{CLIENT_LID}@lid"
    other_lid, other_pn = "555000111222333@lid", "40744000002@s.whatsapp.net"
    data = hs.HistorySync(
        syncType=hs.HistorySync.INITIAL_BOOTSTRAP,
        chunkOrder=3,
        progress=42,
        conversations=[
            hs.Conversation(
                ID=pn_chat,
                messages=[  # newest first, as phones send them
                    web_msg("P2", pn_chat, TS_S + 60, "am plătit avansul", from_me=True),
                    web_msg("P1", pn_chat, TS_S, "bună", push_name="Ana Pop"),
                    web_msg("P0", pn_chat, TS_S - 60, None, stub=1),  # system stub
                ],
            ),
            hs.Conversation(
                ID=lid_chat,
                pnJID="40755000003@s.whatsapp.net",
                messages=[web_msg("L1", lid_chat, TS_S + 30, "din LID")],
            ),
            hs.Conversation(
                ID=other_lid, messages=[web_msg("L2", other_lid, TS_S + 10, "mapare separată")]
            ),
            hs.Conversation(
                ID="120363025246125486@g.us",
                messages=[
                    web_msg(
                        "G1",
                        "120363025246125486@g.us",
                        TS_S + 5,
                        "grup",
                        participant=f"{CLIENT_PN}@s.whatsapp.net",
                    )
                ],
            ),
        ],
        pushnames=[hs.Pushname(ID=f"{CLIENT_PN}@s.whatsapp.net", pushname="Ana Pop")],
        phoneNumberToLidMappings=[hs.PhoneNumberToLIDMapping(pnJID=other_pn, lidJID=other_lid)],
    )
    return wire(nz.HistorySync(Data=data))


def test_history_sync_chunk() -> None:
    own = f"{OWN_PN}@s.whatsapp.net"
    chunk = convert_history_sync(ACC, history_ev(), own_jid=own)
    assert isinstance(chunk, HistorySyncChunk)
    assert chunk.account_id == ACC
    assert (chunk.chunk_order, chunk.progress) == (3, 42)
    assert [m.id for m in chunk.messages] == ["P1", "G1", "L2", "L1", "P2"]  # oldest first
    by_id = {m.id: m for m in chunk.messages}
    assert by_id["P1"].timestamp == EXPECTED_S  # seconds in history sync
    assert by_id["P2"].timestamp == EXPECTED_S + timedelta(seconds=60)
    assert by_id["P1"].push_name == "Ana Pop"
    assert (by_id["P1"].from_me, by_id["P1"].sender_jid) == (False, f"{CLIENT_PN}@s.whatsapp.net")
    assert (by_id["P2"].from_me, by_id["P2"].sender_jid) == (True, own)
    assert by_id["P2"].chat_pn_jid == f"{CLIENT_PN}@s.whatsapp.net"
    assert by_id["L1"].chat_jid == f"{CLIENT_LID}@lid"
    assert by_id["L1"].chat_pn_jid == "40755000003@s.whatsapp.net"  # conversation pnJID
    assert by_id["L2"].chat_pn_jid == "40744000002@s.whatsapp.net"  # chunk mapping
    assert by_id["G1"].is_group and by_id["G1"].chat_pn_jid is None
    assert by_id["G1"].sender_jid == f"{CLIENT_PN}@s.whatsapp.net"
    assert chunk.lid_to_pn == {
        f"{CLIENT_LID}@lid": "40755000003@s.whatsapp.net",
        "555000111222333@lid": "40744000002@s.whatsapp.net",
    }
    assert chunk.push_names == {f"{CLIENT_PN}@s.whatsapp.net": "Ana Pop"}


def test_history_sync_push_names_only_chunk() -> None:
    data = hs.HistorySync(
        syncType=hs.HistorySync.PUSH_NAME,
        pushnames=[hs.Pushname(ID="40711111111@s.whatsapp.net", pushname="Ion")],
    )
    event = convert_event(ACC, wire(nz.HistorySync(Data=data)), now=NOW)
    assert isinstance(event, HistorySyncChunk)
    assert event.messages == ()
    assert event.progress is None
    assert event.push_names == {"40711111111@s.whatsapp.net": "Ion"}


# ---- pairing and connection ----------------------------------------------------------------------


def test_pair_status() -> None:
    ok = wire(nz.PairStatus(ID=jid(OWN_PN, device=12), Status=nz.PairStatus.SUCCESS))
    assert convert_event(ACC, ok, now=NOW) == Paired(ACC, own_jid=f"{OWN_PN}@s.whatsapp.net")
    bad = wire(nz.PairStatus(ID=EMPTY, Status=nz.PairStatus.ERROR, Error="bad key"))
    assert convert_event(ACC, bad, now=NOW) == PairFailed(ACC, "bad key")


def test_connection_events() -> None:
    assert convert_event(ACC, wire(nz.Connected(status=True)), now=NOW) == Connected(ACC)
    assert convert_event(ACC, wire(nz.Disconnected(status=True)), now=NOW) == Disconnected(ACC)
    assert convert_event(ACC, wire(nz.StreamReplaced()), now=NOW) == StreamReplaced(ACC)
    logged_out = nz.LoggedOut(OnConnect=True, Reason=nz.ConnectFailureReason.Value("LOGGED_OUT"))
    assert convert_event(ACC, wire(logged_out), now=NOW) == LoggedOut(ACC, reason="logged_out")
    failure = nz.ConnectFailure(Reason=nz.ConnectFailureReason.Value("SERVICE_UNAVAILABLE"))
    assert convert_event(ACC, wire(failure), now=NOW) == ConnectFailure(
        ACC, reason="service_unavailable"
    )
    assert convert_event(ACC, wire(nz.ClientOutdated()), now=NOW) == ClientOutdated(ACC)
    timeout = nz.KeepAliveTimeout(ErrorCount=3, LastSuccess=TS_S)
    assert convert_event(ACC, wire(timeout), now=NOW) == KeepAliveTimeout(ACC, error_count=3)
    assert convert_event(ACC, wire(nz.KeepAliveRestored()), now=NOW) == KeepAliveRestored(ACC)


def test_temporary_ban_expire_is_a_duration() -> None:
    ban = nz.TemporaryBan(Code=nz.TemporaryBan.SENT_TOO_MANY_SAME_MESSAGE, Expire=3600)
    event = convert_event(ACC, wire(ban), now=NOW)
    assert event == TemporaryBan(ACC, code=4, expires_at=NOW + timedelta(hours=1))
    unknown = nz.TemporaryBan(Code=nz.TemporaryBan.BLOCKED_BY_USERS, Expire=0)
    assert convert_event(ACC, wire(unknown), now=NOW) == TemporaryBan(ACC, 2, None)


def test_qr_and_unused_events() -> None:
    assert convert_qr(ACC, b"2@abc,def,ghi,jkl") == QrCode(ACC, "2@abc,def,ghi,jkl")
    assert convert_event(ACC, wire(nz.Presence(From=jid(CLIENT_PN))), now=NOW) is None
    live = convert_event(
        ACC, message_ev(e2e.Message(conversation="x"), chat=jid(CLIENT_PN)), now=NOW
    )
    assert isinstance(live, MessageReceived)
    assert live.account_id == ACC


def test_jid_helpers() -> None:
    assert jid_str(jid(CLIENT_PN, device=3, agent=1)) == f"{CLIENT_PN}@s.whatsapp.net"
    assert jid_str(EMPTY) is None
    proto = jid_proto(f"{CLIENT_LID}:4@lid")
    assert proto is not None
    assert (proto.User, proto.Server, proto.Device) == (CLIENT_LID, "lid", 0)
    assert jid_proto("not a jid") is None


@pytest.mark.parametrize(
    "bad_ts",
    [TS_MS, 2**63, 2**64 - 1],
    ids=["milliseconds", "int64-overflow", "uint64-max"],
)
def test_a_malformed_history_entry_does_not_abort_the_chunk(bad_ts: int) -> None:
    pn_chat = f"{CLIENT_PN}@s.whatsapp.net"
    data = hs.HistorySync(
        syncType=hs.HistorySync.RECENT,
        conversations=[
            hs.Conversation(
                ID=pn_chat,
                messages=[
                    web_msg("OK2", pn_chat, TS_S + 60, "după"),
                    web_msg("BAD", pn_chat, bad_ts, "timp stricat"),
                    web_msg("OK1", pn_chat, TS_S, "înainte"),
                ],
            ),
            hs.Conversation(
                ID="40744000002@s.whatsapp.net",
                messages=[web_msg("OK3", "40744000002@s.whatsapp.net", TS_S + 5, "alt chat")],
            ),
        ],
    )
    event = convert_event(ACC, wire(nz.HistorySync(Data=data)), now=NOW)
    assert isinstance(event, HistorySyncChunk)
    assert [m.id for m in event.messages][:1] == ["OK1"]
    assert {"OK1", "OK2", "OK3"} <= {m.id for m in event.messages}
    for m in event.messages:  # whatever is kept has a usable time
        assert m.timestamp.tzinfo is not None


@pytest.mark.parametrize("bad_ts", [2**62, 2**63 - 1], ids=["huge", "int64-max"])
def test_a_live_message_with_an_unusable_timestamp_is_kept_at_receive_time(bad_ts: int) -> None:
    ev = message_ev(e2e.Message(conversation="mesaj"), chat=jid(CLIENT_PN), ts_ms=bad_ts)
    event = convert_event(ACC, ev, now=NOW)
    assert isinstance(event, MessageReceived)
    assert event.message.text == "mesaj"
    assert event.message.timestamp == NOW
