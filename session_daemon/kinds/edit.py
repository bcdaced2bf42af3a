"""Edits: `body` becomes the latest text, `editHistory` keeps the earlier ones."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from session_daemon.inbound.changes import Skip, edit_patch
from session_daemon.kinds.base import ChangeContext, Kind
from session_daemon.transport.port import EditContent


def change(
    doc: Mapping[str, Any] | None, content: EditContent, ctx: ChangeContext
) -> dict[str, Any] | Skip:
    return edit_patch(
        doc,
        client_jid=ctx.client_jid,
        new_body=content.text,
        edited_at=ctx.at,
        from_me=ctx.from_me,
        sender_jid=ctx.sender_jid,
    )


def from_simulator(target_id: Any, text: str = "") -> EditContent:
    """`edit: <id>` with `text`"""
    return EditContent(str(target_id), text)


MESSAGE_EDIT = 14  # waE2E.ProtocolMessage.Type


def _text(msg: Any) -> str:
    if msg.HasField("extendedTextMessage"):
        return str(msg.extendedTextMessage.text)
    if msg.conversation:
        return str(msg.conversation)
    for field in ("imageMessage", "videoMessage", "documentMessage"):
        if msg.HasField(field):
            return str(getattr(msg, field).caption)
    return ""


def from_neonize(msg: Any) -> EditContent | None:
    """`protocolMessage{type: MESSAGE_EDIT, key, editedMessage}`, also inside the
    `editedMessage` wrapper whatsmeow leaves on history-sync copies."""
    if msg.HasField("editedMessage") and msg.editedMessage.HasField("message"):
        msg = msg.editedMessage.message
    proto = msg.protocolMessage if msg.HasField("protocolMessage") else None
    if proto is None or proto.type != MESSAGE_EDIT or not proto.key.ID:
        return None
    return EditContent(str(proto.key.ID), _text(proto.editedMessage))


KIND = Kind(
    "edit",
    EditContent,
    "change",
    change=change,
    from_simulator=from_simulator,
    from_neonize=from_neonize,
)
