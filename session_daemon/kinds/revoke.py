"""Deletions for everyone: `revokedAt`, the text is kept."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from session_daemon.inbound.changes import Skip, revoke_patch
from session_daemon.kinds.base import ChangeContext, Kind
from session_daemon.transport.port import RevokeContent


def change(
    doc: Mapping[str, Any] | None, content: RevokeContent, ctx: ChangeContext
) -> dict[str, Any] | Skip:
    return revoke_patch(doc, client_jid=ctx.client_jid, revoked_at=ctx.at)


def from_simulator(target_id: Any) -> RevokeContent:
    """`revoke: <id>`"""
    return RevokeContent(str(target_id))


REVOKE = 0  # waE2E.ProtocolMessage.Type (also the default: `HasField` tells them apart)


def from_neonize(msg: Any) -> RevokeContent | None:
    if not msg.HasField("protocolMessage"):
        return None
    proto = msg.protocolMessage
    if not proto.HasField("type") or proto.type != REVOKE or not proto.key.ID:
        return None
    return RevokeContent(str(proto.key.ID))


KIND = Kind(
    "revoke",
    RevokeContent,
    "change",
    change=change,
    from_simulator=from_simulator,
    from_neonize=from_neonize,
)
