"""Shape tests: every webhook payload kind of ../shared/notes/cloud-api.md, parsed.

The two complete examples are read from the notes themselves (so a change there is seen here);
the fragments the notes give inline (image, reply, reaction, interactive, location, a username
sender) are completed into Meta's envelope with the notes' own values.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from session_daemon.cloud_api.convert import UNSUPPORTED_TEXT, to_transport_events, wire_message
from session_daemon.cloud_api.model import AccountNotice, CloudMessage, CloudStatus, ContactUpdate
from session_daemon.cloud_api.payloads import MalformedPayload, parse_webhook
from session_daemon.transport.port import HistorySyncChunk, MessageReceived, ReceiptReceived
from tests.support.graph_standin import change, contact, dumps, entry, envelope, status

NOTES = Path(__file__).resolve().parents[4].parent / "shared" / "notes" / "cloud-api.md"
BSUID = "RO.13491208655302741918"
TEXT_EXAMPLE: dict[str, Any] = {
    "object": "whatsapp_business_account",
    "entry": [
        {
            "id": "102290129340398",
            "changes": [
                {
                    "field": "messages",
                    "value": {
                        "messaging_product": "whatsapp",
                        "metadata": {
                            "display_phone_number": "40722000009",
                            "phone_number_id": "106540352242922",
                        },
                        "contacts": [
                            {
                                "profile": {"name": "Ana Pop"},
                                "wa_id": "40733111222",
                                "user_id": BSUID,
                            }
                        ],
                        "messages": [
                            {
                                "from": "40733111222",
                                "id": "wamid.HBgLNDA3MzMxMTEyMjIVAgASGBQzQTJD",
                                "timestamp": "1764760000",
                                "type": "text",
                                "text": {"body": "Bună, vreau o petrecere cu Elsa"},
                            }
                        ],
                    },
                }
            ],
        }
    ],
}
STATUS_EXAMPLE: dict[str, Any] = {
    "object": "whatsapp_business_account",
    "entry": [
        {
            "id": "102290129340398",
            "changes": [
                {
                    "field": "messages",
                    "value": {
                        "messaging_product": "whatsapp",
                        "metadata": {
                            "display_phone_number": "40722000009",
                            "phone_number_id": "106540352242922",
                        },
                        "statuses": [
                            {
                                "id": "wamid.HBgLNDA3MzMxMTEyMjIVAgARGBI5",
                                "status": "failed",
                                "timestamp": "1764760100",
                                "recipient_id": "40733111222",
                                "errors": [{"code": 131047, "title": "Re-engagement message"}],
                            }
                        ],
                    },
                }
            ],
        }
    ],
}


def notes_examples() -> list[dict[str, Any]]:
    text = NOTES.read_text(encoding="utf-8")
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", text, re.S)]


@pytest.mark.skipif(not NOTES.is_file(), reason=f"no team notes at {NOTES}")
def test_the_notes_complete_examples_are_the_ones_tested_here() -> None:
    assert notes_examples() == [TEXT_EXAMPLE, STATUS_EXAMPLE]


def one_message(item: dict[str, Any], **value: Any) -> CloudMessage:
    body = dumps(envelope(entry(change(messages=[item], **value))))
    [msg] = parse_webhook(body).events
    assert isinstance(msg, CloudMessage)
    return msg


def base(kind: str, **content: Any) -> dict[str, Any]:
    return {
        "from": "40733111222",
        "id": "wamid.IN1",
        "timestamp": "1764760000",
        "type": kind,
        **content,
    }


def test_text_example() -> None:
    batch = parse_webhook(dumps(TEXT_EXAMPLE))
    [msg] = batch.events
    assert isinstance(msg, CloudMessage)
    assert (msg.wamid, msg.direction, msg.origin) == (
        "wamid.HBgLNDA3MzMxMTEyMjIVAgASGBQzQTJD",
        "inbound",
        "live",
    )
    assert msg.text == "Bună, vreau o petrecere cu Elsa" and msg.ts_ms == 1_764_760_000_000
    assert msg.client.pn_jid == "40733111222@s.whatsapp.net" and msg.client.bsuid == BSUID
    assert msg.client.profile_name == "Ana Pop" and msg.phone_number_id == "106540352242922"
    assert msg.waba_id == "102290129340398" and msg.dedup_key == f"m:{msg.wamid}"
    wire = wire_message(msg)
    assert (wire.chat_jid, wire.push_name, wire.from_me) == (
        "40733111222@s.whatsapp.net",
        "Ana Pop",
        False,
    )


def test_status_example_failed_with_meta_error() -> None:
    [st] = parse_webhook(dumps(STATUS_EXAMPLE)).events
    assert isinstance(st, CloudStatus)
    assert (st.status, st.message_id, st.ts_ms) == (
        "failed",
        "wamid.HBgLNDA3MzMxMTEyMjIVAgARGBI5",
        1_764_760_100_000,
    )
    assert st.errors[0].code == 131047 and st.errors[0].title == "Re-engagement message"
    assert st.recipient.pn_jid == "40733111222@s.whatsapp.net"
    assert st.conversation_id is None and st.pricing_category is None  # absent: fine
    assert st.dedup_key == "s:wamid.HBgLNDA3MzMxMTEyMjIVAgARGBI5:failed"


def test_image_with_caption_and_base64_sha() -> None:
    image = {
        "id": "1003383421387256",
        "mime_type": "image/jpeg",
        "sha256": "ZqXrFjv3yAc2hJ4vYv0Zbq1RWt6u8KzNq3dM2d2sR3A=",
        "caption": "invitația",
    }
    msg = one_message(base("image", image=image))
    assert msg.media is not None and msg.media.media_id == "1003383421387256"
    assert msg.media.mime_type == "image/jpeg" and msg.text == "invitația"
    wire = wire_message(msg)
    assert wire.message_type == "image" and wire.media is not None and wire.media.url is None


def test_reply_context() -> None:
    msg = one_message(
        base("text", text={"body": "Da"}, context={"from": "40722000009", "id": "wamid.OUT1"})
    )
    assert msg.reply_to == "wamid.OUT1"


def test_reaction_and_its_removal() -> None:
    msg = one_message(base("reaction", reaction={"message_id": "wamid.OUT1", "emoji": "👍"}))
    assert msg.reaction is not None and msg.reaction.message_id == "wamid.OUT1"
    assert msg.reaction.emoji == "👍" and wire_message(msg).message_type == "reaction"
    removed = one_message(base("reaction", reaction={"message_id": "wamid.OUT1"}))
    assert removed.reaction is not None and removed.reaction.emoji is None


def test_interactive_button_and_list_replies_and_template_button() -> None:
    button = one_message(
        base(
            "interactive",
            interactive={"type": "button_reply", "button_reply": {"id": "opt1", "title": "Da"}},
        )
    )
    assert button.interactive is not None and button.interactive.reply_id == "opt1"
    assert button.text == "Da" and wire_message(button).message_type == "text"
    listed = one_message(
        base(
            "interactive",
            interactive={
                "type": "list_reply",
                "list_reply": {"id": "pk2", "title": "Pachet 2", "description": "x"},
            },
        )
    )
    assert listed.text == "Pachet 2"
    quick = one_message(base("button", button={"payload": "STOP", "text": "Nu mai trimite"}))
    assert quick.interactive is not None and quick.interactive.reply_id == "STOP"


def test_location() -> None:
    msg = one_message(
        base(
            "location",
            location={"latitude": 44.43, "longitude": 26.10, "name": "Parc", "address": "Str. X 1"},
        )
    )
    assert msg.location == {"lat": 44.43, "lng": 26.10, "name": "Parc", "address": "Str. X 1"}
    assert msg.text == "Parc — Str. X 1" and wire_message(msg).message_type == "location"


def test_contacts_card() -> None:
    cards = [
        {
            "name": {"formatted_name": "Ion Pop", "first_name": "Ion"},
            "phones": [{"phone": "+40 744 000 111", "wa_id": "40744000111", "type": "CELL"}],
        }
    ]
    msg = one_message(base("contacts", contacts=cards))
    assert msg.contacts == (
        {"name": "Ion Pop", "phones": [{"phone": "+40 744 000 111", "waId": "40744000111"}]},
    )
    assert msg.text == "Ion Pop" and wire_message(msg).message_type == "contact"


def test_username_sender_without_phone() -> None:
    item = {
        "from_user_id": BSUID,
        "id": "wamid.U1",
        "timestamp": "1764760000",
        "type": "text",
        "text": {"body": "Salut"},
    }
    msg = one_message(
        item, contacts=[{"profile": {"name": "Ana", "username": "@ana"}, "user_id": BSUID}]
    )
    assert msg.client.pn_jid is None and msg.client.bsuid == BSUID
    assert msg.client.username == "@ana" and msg.client.client_jid == f"{BSUID}@bsuid"
    # the notes' form: `user_id` on the contact only, no `from` at all
    bare = {"id": "wamid.U2", "timestamp": "1764760001", "type": "text", "text": {"body": "?"}}
    again = one_message(bare, contacts=[{"profile": {"name": "Ana"}, "user_id": BSUID}])
    assert again.client.bsuid == BSUID and again.client.pn_jid is None


def test_system_number_and_user_id_changes() -> None:
    changed = one_message(
        base(
            "system",
            system={
                "body": "User Ana changed from 40733111222 to 40733999888",
                "type": "user_changed_number",
                "wa_id": "40733999888",
                "user_id": "RO.99",
                "previous_user_id": BSUID,
            },
        )
    )
    assert changed.system is not None and changed.system.kind == "user_changed_number"
    assert changed.system.new_pn_jid == "40733999888@s.whatsapp.net"
    assert (changed.system.new_bsuid, changed.system.previous_bsuid) == ("RO.99", BSUID)
    uid = one_message(
        {
            "from_user_id": "RO.77",
            "id": "wamid.S2",
            "timestamp": "1764760000",
            "type": "system",
            "system": {
                "body": "…",
                "type": "user_changed_user_id",
                "user_id": "RO.77",
                "previous_user_id": BSUID,
            },
        }
    )
    assert uid.system is not None and uid.system.new_pn_jid is None
    # the change is told in the chat too (Meta's own sentence), nothing silently dropped
    events = to_transport_events("wa_1", [changed, uid])
    texts = [e.message.text for e in events if isinstance(e, MessageReceived)]
    assert texts == ["User Ana changed from 40733111222 to 40733999888", "…"]


def test_unsupported_and_unknown_types_still_show_something() -> None:
    msg = one_message(base("unsupported", errors=[{"code": 131051, "title": "Unsupported"}]))
    assert msg.errors[0].code == 131051
    assert wire_message(msg).text == UNSUPPORTED_TEXT
    future = one_message(base("hologram", hologram={"x": 1}))
    assert wire_message(future).message_type == "other"
    order = one_message(base("order", order={"catalog_id": "1", "text": "2 baloane"}))
    assert order.text == "2 baloane"


def test_statuses_with_pricing_user_ids_and_every_name() -> None:
    statuses = [
        status("wamid.O1", name, 1764760100 + i, recipient_id="40733111222")
        for i, name in enumerate(["sent", "delivered", "read", "played"])
    ]
    statuses[0]["conversation"] = {"id": "c1", "origin": {"type": "service"}}
    statuses[0]["pricing"] = {"billable": False, "pricing_model": "PMP", "category": "service"}
    statuses.append(status("wamid.O2", "read", recipient_user_id=BSUID))
    batch = parse_webhook(dumps(envelope(entry(change(statuses=statuses)))))
    parsed = batch.statuses()
    assert [s.status for s in parsed] == ["sent", "delivered", "read", "played", "read"]
    assert parsed[0].conversation_id == "c1" and parsed[0].billable is False
    assert parsed[0].pricing_category == "service"
    assert parsed[4].recipient.bsuid == BSUID and parsed[4].recipient.pn_jid is None
    receipts = to_transport_events("wa_1", [], parsed)
    assert [r.status for r in receipts if isinstance(r, ReceiptReceived)] == [
        "delivered",
        "read",
        "played",
        "read",
    ]


def test_echoes_are_outbound_messages_typed_in_the_business_app() -> None:
    echo = {
        "from": "40722000009",
        "to": "40733111222",
        "id": "wamid.E1",
        "timestamp": "1764760200",
        "type": "text",
        "text": {"body": "Vă sunăm mâine"},
    }
    batch = parse_webhook(
        dumps(envelope(entry(change("smb_message_echoes", message_echoes=[echo]))))
    )
    [msg] = batch.messages()
    assert (msg.direction, msg.origin) == ("outbound", "echo")
    assert msg.client.pn_jid == "40733111222@s.whatsapp.net"
    [event] = to_transport_events("wa_1", [msg])
    assert isinstance(event, MessageReceived) and event.message.from_me
    assert event.message.chat_jid == "40733111222@s.whatsapp.net"


def test_history_both_directions_in_one_chunk() -> None:
    history = [
        {
            "metadata": {"phase": 0, "chunk_order": 1, "progress": 55},
            "threads": [
                {
                    "id": "40733111222",
                    "messages": [
                        {
                            "from": "40733111222",
                            "id": "wamid.H1",
                            "timestamp": "1764000000",
                            "type": "text",
                            "text": {"body": "Bună"},
                            "history_context": {"status": "READ"},
                        },
                        {
                            "from": "40722000009",
                            "to": "40733111222",
                            "id": "wamid.H2",
                            "timestamp": "1764000060",
                            "type": "text",
                            "text": {"body": "Bună ziua"},
                            "history_context": {"status": "DELIVERED"},
                        },
                    ],
                }
            ],
        }
    ]
    batch = parse_webhook(dumps(envelope(entry(change("history", history=history)))))
    msgs = batch.messages()
    assert [(m.wamid, m.direction, m.origin) for m in msgs] == [
        ("wamid.H1", "inbound", "history"),
        ("wamid.H2", "outbound", "history"),
    ]
    [chunk] = to_transport_events("wa_1", msgs)
    assert isinstance(chunk, HistorySyncChunk) and len(chunk.messages) == 2
    declined = parse_webhook(
        dumps(
            envelope(
                entry(
                    change(
                        "history",
                        history=[
                            {
                                "errors": [
                                    {"code": 2593109, "title": "History sharing is turned off"}
                                ]
                            }
                        ],
                    )
                )
            )
        )
    )
    assert declined.events == [] and declined.skipped["history_declined"] == 1


def test_state_sync_contacts_and_account_notices() -> None:
    sync = [
        {
            "type": "contact",
            "contact": {"full_name": "Ana Pop", "first_name": "Ana", "phone_number": "40733111222"},
            "action": "add",
            "metadata": {"timestamp": "1764760300"},
        }
    ]
    notice = {
        "field": "phone_number_quality_update",
        "value": {
            "display_phone_number": "40722000009",
            "event": "FLAGGED",
            "current_limit": "TIER_1K",
        },
    }
    batch = parse_webhook(
        dumps(envelope(entry(change("smb_app_state_sync", state_sync=sync), notice)))
    )
    contact_update, account_notice = batch.events
    assert isinstance(contact_update, ContactUpdate) and contact_update.name == "Ana Pop"
    assert isinstance(account_notice, AccountNotice)
    assert account_notice.field == "phone_number_quality_update"


def test_batched_entries_and_changes_keep_payload_order() -> None:
    c1 = change(
        contacts=[contact("40733111222", "Ana")], messages=[base("text", text={"body": "1"})]
    )
    c2 = change(statuses=[status("wamid.O1", "delivered", recipient_id="40733111222")])
    c3 = change(
        phone_number_id="106540352242923",
        messages=[{**base("text", text={"body": "3"}), "id": "wamid.IN3"}],
    )
    batch = parse_webhook(dumps(envelope(entry(c1, c2), entry(c3, waba_id="9"))))
    kinds = [type(e).__name__ for e in batch.events]
    assert kinds == ["CloudMessage", "CloudStatus", "CloudMessage"]
    assert batch.phone_number_ids == {"106540352242922", "106540352242923"}


def test_unknown_fields_and_broken_items_are_counted_not_fatal() -> None:
    good = base("text", text={"body": "ok"})
    broken = [
        {"id": "wamid.B1", "type": "text"},  # no sender, no timestamp
        {**good, "id": "wamid.B2", "timestamp": "soon"},
        {**good, "id": "wamid.B3", "type": "location", "location": {"latitude": "x"}},
        "not an object",
    ]
    batch = parse_webhook(
        dumps(
            envelope(
                entry(
                    change(messages=[*broken, good], statuses=[status("wamid.O", "bounced")]),
                    change("calls", calls=[{"id": "c"}]),
                    {"field": "messages", "value": {"messages": [good]}},
                )
            )
        )
    )
    assert [m.wamid for m in batch.messages()] == ["wamid.IN1"]
    assert batch.skipped == {
        "malformed_message": 4,
        "malformed_status": 1,
        "field:calls": 1,
        "no_phone_number_id": 1,
    }


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"object": "page", "entry": []}',
        b'{"object": "whatsapp_business_account", "entry": {}}',
        b"\xff\xfe{}",
    ],
)
def test_bodies_that_are_not_cloud_api_envelopes(body: bytes) -> None:
    with pytest.raises(MalformedPayload):
        parse_webhook(body)
