"""Pure message changes: edits (`body` latest, `editHistory`), deletions for everyone
(`revokedAt`, text kept), reactions, and the placeholder upgrade create-once allows."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from session_daemon.inbound.changes import (
    Skip,
    edit_patch,
    reaction_patch,
    reaction_sender_key,
    revoke_patch,
    upgrade_patch,
)
from session_daemon.inbound.special import UNDECRYPTABLE_BODY, placeholder_fields

CLIENT = "40733111222@s.whatsapp.net"
T0 = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)


def message(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "accountId": "wa_1",
        "clientJid": CLIENT,
        "direction": "inbound",
        "body": "Vrem Elsa pe 14 iunie",
        "tsClient": T0,
        "waMessageId": "3EB0AA",
        "messageType": "text",
    }
    doc.update(overrides)
    return doc


def apply(doc: dict[str, Any], patch: dict[str, Any] | Skip) -> dict[str, Any]:
    assert isinstance(patch, dict), patch
    return {**doc, **patch}


def test_an_edit_makes_body_the_latest_and_keeps_the_original() -> None:
    edited = apply(
        message(),
        edit_patch(
            message(),
            client_jid=CLIENT,
            new_body="Vrem Elsa pe 15 iunie",
            edited_at=T0 + timedelta(minutes=2),
            from_me=False,
        ),
    )
    assert edited["body"] == "Vrem Elsa pe 15 iunie"
    assert edited["editedAt"] == T0 + timedelta(minutes=2)
    assert edited["editHistory"] == [{"body": "Vrem Elsa pe 14 iunie", "at": T0}]


def _edit(doc: dict[str, Any], body: str, minutes: int) -> dict[str, Any] | Skip:
    return edit_patch(
        doc,
        client_jid=CLIENT,
        new_body=body,
        edited_at=T0 + timedelta(minutes=minutes),
        from_me=False,
    )


def test_edits_in_any_order_and_replayed_give_one_document() -> None:
    edits = [("15 iunie", 1), ("16 iunie", 2), ("17 iunie", 3)]
    results = []
    for order in itertools.permutations(edits):
        doc = message()
        for body, minutes in [*order, *order]:  # every edit twice: a journal replay
            patch = _edit(doc, body, minutes)
            if isinstance(patch, Skip):
                assert patch.reason == "duplicate"
                continue
            doc = apply(doc, patch)
        results.append(doc)
    assert all(r == results[0] for r in results)
    assert results[0]["body"] == "17 iunie"
    assert [v["body"] for v in results[0]["editHistory"]] == [
        "Vrem Elsa pe 14 iunie",
        "15 iunie",
        "16 iunie",
    ]


@given(st.permutations(list(range(6))))
def test_edit_order_never_matters(order: list[int]) -> None:
    doc = message()
    for i in order:
        doc = apply(doc, _edit(doc, f"v{i}", i + 1))
    assert doc["body"] == "v5"
    assert [v["body"] for v in doc["editHistory"]][1:] == [f"v{i}" for i in range(5)]


def test_bad_edits_are_skipped_with_a_reason() -> None:
    assert _edit(None, "x", 1) == Skip("target_unknown")  # type: ignore[arg-type]
    other = message(clientJid="40744000000@s.whatsapp.net")
    assert _edit(other, "x", 1) == Skip("other_chat")
    mine = message(direction="outbound")
    assert _edit(mine, "x", 1) == Skip("not_sender")  # a client cannot edit my message
    in_group = message(clientJid="123-456@g.us", senderJid="40711@s.whatsapp.net")
    assert edit_patch(
        in_group,
        client_jid="123-456@g.us",
        new_body="x",
        edited_at=T0,
        from_me=False,
        sender_jid="40722@s.whatsapp.net",
    ) == Skip("not_sender")


def test_a_revoke_keeps_the_text_and_applies_once() -> None:
    at = T0 + timedelta(hours=1)
    doc = apply(message(), revoke_patch(message(), client_jid=CLIENT, revoked_at=at))
    assert doc["revokedAt"] == at and doc["body"] == "Vrem Elsa pe 14 iunie"
    assert revoke_patch(doc, client_jid=CLIENT, revoked_at=at) == Skip("duplicate")
    assert revoke_patch(None, client_jid=CLIENT, revoked_at=at) == Skip("target_unknown")


def test_reactions_per_sender_newest_wins_empty_removes() -> None:
    key = reaction_sender_key("40733111222:5@s.whatsapp.net", from_me=False)
    assert key == "40733111222"
    assert reaction_sender_key("998877@lid", from_me=False) == "lid-998877"
    assert reaction_sender_key(None, from_me=True) == "me"
    doc = message()
    doc = apply(doc, reaction_patch(doc, client_jid=CLIENT, sender_key=key, emoji="❤️", at=T0))
    doc = apply(doc, reaction_patch(doc, client_jid=CLIENT, sender_key="me", emoji="👍", at=T0))
    assert doc["reactions"] == {"40733111222": "❤️", "me": "👍"}
    later = T0 + timedelta(seconds=5)
    doc = apply(doc, reaction_patch(doc, client_jid=CLIENT, sender_key=key, emoji="😂", at=later))
    # the older reaction delivered late does not win
    stale = reaction_patch(doc, client_jid=CLIENT, sender_key=key, emoji="❤️", at=T0)
    assert stale == Skip("duplicate")
    gone = T0 + timedelta(seconds=9)
    doc = apply(doc, reaction_patch(doc, client_jid=CLIENT, sender_key=key, emoji="", at=gone))
    assert doc["reactions"] == {"me": "👍"}


def test_a_reaction_to_a_message_of_another_chat_is_refused() -> None:
    doc = message(clientJid="40744000000@s.whatsapp.net")
    got = reaction_patch(doc, client_jid=CLIENT, sender_key="x", emoji="👍", at=T0)
    assert got == Skip("other_chat")


def test_a_placeholder_is_upgraded_in_place_and_nothing_else_is() -> None:
    placeholder = message(**placeholder_fields())
    assert placeholder["body"] == UNDECRYPTABLE_BODY
    real = message(body="Bună, ce pachete aveți?")
    doc = apply(placeholder, upgrade_patch(placeholder, real, at=T0))
    assert doc["body"] == "Bună, ce pachete aveți?" and doc["undecryptable"] is False
    assert doc["upgradedAt"] == T0
    # create-once stands for everything else: a stored message, or a second placeholder
    assert upgrade_patch(doc, real, at=T0) == Skip("not_a_placeholder")
    assert upgrade_patch(placeholder, placeholder, at=T0) == Skip("not_a_placeholder")
    assert upgrade_patch(message(), real, at=T0) == Skip("not_a_placeholder")
    assert upgrade_patch(placeholder, message(waMessageId="OTHER"), at=T0) == Skip("mismatch")
    assert upgrade_patch(placeholder, message(clientJid="4@s.whatsapp.net"), at=T0) == Skip(
        "mismatch"
    )


def test_the_upgrade_keeps_reactions_and_edits_made_to_the_placeholder() -> None:
    placeholder = message(**placeholder_fields())
    placeholder = apply(
        placeholder,
        reaction_patch(placeholder, client_jid=CLIENT, sender_key="me", emoji="👍", at=T0),
    )
    placeholder = apply(placeholder, _edit(placeholder, "15 iunie", 3))
    doc = apply(placeholder, upgrade_patch(placeholder, message(body="14 iunie"), at=T0))
    assert doc["reactions"] == {"me": "👍"}
    assert doc["body"] == "15 iunie"
    assert doc["editHistory"] == [{"body": "14 iunie", "at": T0}]
