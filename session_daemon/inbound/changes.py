"""Pure changes to a stored message: edits, deletions for everyone, reactions, and the one
upgrade create-once dedup allows (an undecryptable placeholder replaced by its real content).

Each function takes the stored document (None when the target is not stored) and returns
either the `update` patch to apply, or a `Skip` with a reason the pipeline counts. None of them
ever drops a message's text (CONTRACT.md section 4: `body` is the latest text, `editHistory`
keeps the earlier ones, a deleted message keeps its text with `revokedAt`).

They are replay-safe and order-free: applying the same change twice, or an older edit after a
newer one (history sync and live events interleave), leaves the same document.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from shared.jids import parse_jid
from shared.timeutil import ensure_utc, to_ms

__all__ = [
    "ME",
    "ChangeSkipReason",
    "Skip",
    "edit_patch",
    "reaction_patch",
    "reaction_sender_key",
    "revoke_patch",
    "upgrade_patch",
]

ChangeSkipReason = Literal[
    "target_unknown",  # the edited/revoked/reacted message is not stored (or not yet)
    "other_chat",  # the target belongs to another chat than the change
    "not_sender",  # only a message's sender may edit it
    "duplicate",  # already applied (a replay)
    "not_a_placeholder",  # a second copy of a stored message: create-once stands
    "mismatch",  # an "upgrade" that is not the same message
]

ME: Final = "me"  # the reaction key of the account's own phone


@dataclass(frozen=True)
class Skip:
    reason: ChangeSkipReason


Patch = dict[str, Any]


def _belongs(doc: Mapping[str, Any] | None, client_jid: str) -> Skip | None:
    if doc is None:
        return Skip("target_unknown")
    if doc.get("clientJid") != client_jid:
        return Skip("other_chat")
    return None


def _at(value: Any) -> datetime | None:
    return ensure_utc(value) if isinstance(value, datetime) else None


# ---- edits ---------------------------------------------------------------------------------


def _is_sender(doc: Mapping[str, Any], from_me: bool, sender_jid: str | None) -> bool:
    if (doc.get("direction") == "outbound") != from_me:
        return False
    stored = doc.get("senderJid")  # groups: the participant who wrote it
    return from_me or not stored or sender_jid is None or stored == sender_jid


def edit_patch(
    doc: Mapping[str, Any] | None,
    *,
    client_jid: str,
    new_body: str,
    edited_at: datetime,
    from_me: bool,
    sender_jid: str | None = None,
) -> Patch | Skip:
    """`body` becomes the newest version; every other version is in `editHistory` as
    `{body, at}` (the original at its own time), oldest first."""
    skip = _belongs(doc, client_jid)
    if skip is not None:
        return skip
    assert doc is not None
    if not _is_sender(doc, from_me, sender_jid):
        return Skip("not_sender")
    edited_at = ensure_utc(edited_at)
    current_at = _at(doc.get("editedAt")) or _at(doc.get("tsClient")) or edited_at
    versions: list[dict[str, Any]] = [
        {"body": v.get("body", ""), "at": _at(v.get("at"))}
        for v in doc.get("editHistory") or []
        if isinstance(v, Mapping)
    ]
    versions.append({"body": doc.get("body", ""), "at": current_at})
    if any(v["body"] == new_body and v["at"] == edited_at for v in versions):
        return Skip("duplicate")
    versions.append({"body": new_body, "at": edited_at})
    # Stable by time: the original (earliest) stays first even when an edit carries an
    # earlier clock than the message (phones' clocks drift).
    original, *edits = versions
    edits.sort(key=lambda v: to_ms(v["at"]) if v["at"] else 0)
    newest = edits[-1]
    return {
        "body": newest["body"],
        "editedAt": newest["at"],
        "editHistory": [original, *edits[:-1]],
    }


# ---- deletions for everyone ----------------------------------------------------------------


def revoke_patch(
    doc: Mapping[str, Any] | None, *, client_jid: str, revoked_at: datetime
) -> Patch | Skip:
    """`revokedAt` is set once; the text stays (nothing is lost). A group admin may delete
    anyone's message, so the sender is not checked here (whatsmeow checks the protocol)."""
    skip = _belongs(doc, client_jid)
    if skip is not None:
        return skip
    assert doc is not None
    if doc.get("revokedAt") is not None:
        return Skip("duplicate")
    return {"revokedAt": ensure_utc(revoked_at)}


# ---- reactions -----------------------------------------------------------------------------


def reaction_sender_key(sender_jid: str | None, from_me: bool) -> str:
    """A key for `reactions {senderKey: emoji}`: `me`, the phone digits, or `lid-<id>`.
    Never a raw JID: its dots would split a Firestore field path."""
    if from_me:
        return ME
    jid = parse_jid(sender_jid) if sender_jid else None
    if jid is None:
        return "unknown"
    user = "".join(ch for ch in jid.user if ch.isalnum())
    return user if jid.is_phone else f"{jid.server.split('.')[0]}-{user}"


def reaction_patch(
    doc: Mapping[str, Any] | None,
    *,
    client_jid: str,
    sender_key: str,
    emoji: str,
    at: datetime,
) -> Patch | Skip:
    """Set (or, with an empty emoji, remove) one sender's reaction. `reactionTimes` keeps
    when each was made, so an older reaction arriving late never replaces a newer one."""
    skip = _belongs(doc, client_jid)
    if skip is not None:
        return skip
    assert doc is not None
    reactions = dict(doc.get("reactions") or {})
    times = dict(doc.get("reactionTimes") or {})
    at_ms = to_ms(at)
    known = times.get(sender_key)
    if isinstance(known, int) and known > at_ms:
        return Skip("duplicate")
    if reactions.get(sender_key, "") == emoji and known == at_ms:
        return Skip("duplicate")
    if emoji:
        reactions[sender_key] = emoji
    else:
        reactions.pop(sender_key, None)
    times[sender_key] = at_ms
    return {"reactions": reactions, "reactionTimes": times}


# ---- the placeholder upgrade ---------------------------------------------------------------

_IDENTITY: Final = ("accountId", "clientJid", "direction", "waMessageId")
# Fields later changes wrote onto the placeholder: the upgrade must not erase them.
_KEPT: Final = frozenset({"reactions", "reactionTimes", "revokedAt", "editedAt", "editHistory"})


def upgrade_patch(
    existing: Mapping[str, Any], incoming: Mapping[str, Any], *, at: datetime
) -> Patch | Skip:
    """The only rewrite of a created message: an undecryptable placeholder (`undecryptable:
    true`) takes the real content of the same message when the retry arrives. Anything else
    with an existing id is a duplicate and changes nothing."""
    if existing.get("undecryptable") is not True or incoming.get("undecryptable") is True:
        return Skip("not_a_placeholder")
    if any(existing.get(key) != incoming.get(key) for key in _IDENTITY):
        return Skip("mismatch")
    patch = {k: v for k, v in incoming.items() if k not in _KEPT}
    if existing.get("editedAt") is not None:
        # An edit arrived before the content: the edited text stays the body, and the real
        # original replaces the placeholder text as the first version.
        patch.pop("body", None)
        history = list(existing.get("editHistory") or [])
        original = {"body": incoming.get("body", ""), "at": incoming.get("tsClient")}
        patch["editHistory"] = [original, *history[1:]]
    patch["undecryptable"] = False
    patch["upgradedAt"] = ensure_utc(at)
    return patch
