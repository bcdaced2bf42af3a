"""Reactions: `reactions {senderKey: emoji}` on the message reacted to."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from session_daemon.inbound.changes import Skip, reaction_patch, reaction_sender_key
from session_daemon.kinds.base import ChangeContext, Kind
from session_daemon.transport.port import ReactionContent


def change(
    doc: Mapping[str, Any] | None, content: ReactionContent, ctx: ChangeContext
) -> dict[str, Any] | Skip:
    return reaction_patch(
        doc,
        client_jid=ctx.client_jid,
        sender_key=reaction_sender_key(ctx.sender_jid, ctx.from_me),
        emoji=content.emoji,
        at=ctx.at,
    )


def from_simulator(body: Any) -> ReactionContent:
    """`reaction: {to, emoji}`"""
    return ReactionContent(str(body["to"]), str(body.get("emoji") or ""))


def from_neonize(msg: Any) -> ReactionContent | None:
    if not msg.HasField("reactionMessage") or not msg.reactionMessage.key.ID:
        return None
    reaction = msg.reactionMessage
    return ReactionContent(str(reaction.key.ID), str(reaction.text))


KIND = Kind(
    "reaction",
    ReactionContent,
    "change",
    change=change,
    from_simulator=from_simulator,
    from_neonize=from_neonize,
)
