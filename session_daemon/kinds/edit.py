"""Edits: `body` becomes the latest text, `editHistory` keeps the earlier ones."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from session_daemon.inbound.changes import Skip, edit_patch
from session_daemon.kinds import ChangeContext, Kind
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


KIND = Kind("edit", EditContent, "change", change=change, from_simulator=from_simulator)
