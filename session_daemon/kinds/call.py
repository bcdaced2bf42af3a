"""Missed calls: a visible message in the chat."""

from __future__ import annotations

from typing import Any

from session_daemon.inbound.special import missed_call_fields
from session_daemon.kinds.base import Kind
from session_daemon.transport.port import CallContent


def fields(content: CallContent) -> dict[str, Any]:
    return missed_call_fields(video=content.video, group=content.group)


def from_simulator(body: Any) -> CallContent:
    """`call: true` or `call: {video}`"""
    return CallContent(video=bool(body.get("video"))) if isinstance(body, dict) else CallContent()


KIND = Kind("call", CallContent, "message", fields=fields, from_simulator=from_simulator)
