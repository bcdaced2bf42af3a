"""Pure contents of polls, missed calls, undecryptable placeholders and group fields."""

from __future__ import annotations

from session_daemon.inbound.groups import group_sender_fields, group_thread_patch, is_group_jid
from session_daemon.inbound.special import missed_call_fields, placeholder_fields, poll_fields


def test_polls_of_every_version_list_their_options() -> None:
    got = poll_fields("Ce zi preferați?", ["Sâmbătă", "Duminică", "Sâmbătă", "  "], 1)
    assert got == {
        "body": "📊 Ce zi preferați?\n• Sâmbătă\n• Duminică",
        "messageType": "poll",
        "poll": {
            "name": "Ce zi preferați?",
            "options": ["Sâmbătă", "Duminică"],
            "selectableCount": 1,
        },
    }
    v4 = poll_fields(None, [f"opțiunea {i}" for i in range(20)])  # FutureProofMessage, no name
    assert v4["body"].startswith("📊 Sondaj\n• opțiunea 0")
    assert len(v4["poll"]["options"]) == 12 and v4["poll"]["name"] is None
    assert v4["poll"]["selectableCount"] is None


def test_missed_calls_and_placeholders_are_visible() -> None:
    assert missed_call_fields(video=False)["body"] == "📞 Apel vocal pierdut"
    video = missed_call_fields(video=True, group=True)
    assert video["body"] == "📹 Apel video de grup pierdut"
    assert video["call"] == {"video": True, "group": True, "missed": True}
    assert video["messageType"] == "call"
    placeholder = placeholder_fields()
    assert placeholder["body"] and placeholder["undecryptable"] is True


def test_group_threads_have_a_subject_and_no_phone() -> None:
    assert is_group_jid("120363041234567890@g.us") and not is_group_jid("40733@s.whatsapp.net")
    new = group_thread_patch(None, "120363041234567890@g.us", "  Petrecere   Ana ")
    assert new == {
        "clientJid": "120363041234567890@g.us",
        "isGroup": True,
        "normalizedPhone": None,
        "phoneE164": None,
        "groupSubject": "Petrecere Ana",
        "displayName": "Petrecere Ana",
    }
    stored = {k: v for k, v in new.items() if k != "clientJid"}
    assert group_thread_patch(stored, "120363041234567890@g.us", "Petrecere Ana") is None
    renamed = group_thread_patch(stored, "120363041234567890@g.us", "Petrecere Ana 5 ani")
    assert renamed == {"groupSubject": "Petrecere Ana 5 ani", "displayName": "Petrecere Ana 5 ani"}
    # group info not fetched yet: a known subject is never erased
    assert group_thread_patch(stored, "120363041234567890@g.us", None) is None
    unnamed = group_thread_patch(None, "1203@g.us", None)
    assert unnamed is not None and unnamed["displayName"] == "Grup"


def test_group_messages_name_their_sender() -> None:
    assert group_sender_fields("998877@lid", "40733111222:2@s.whatsapp.net", "Ana") == {
        "senderJid": "40733111222@s.whatsapp.net",
        "senderName": "Ana",
    }
    assert group_sender_fields("40733111222@s.whatsapp.net", None, None) == {
        "senderJid": "40733111222@s.whatsapp.net",
        "senderName": "+40733111222",
    }
    assert group_sender_fields("998877@lid", None, " ") == {
        "senderJid": "998877@lid",
        "senderName": None,
    }
