"""Polls (creation of every version): body lists the options; `poll {name, options}`."""

from __future__ import annotations

from typing import Any

from session_daemon.inbound.special import poll_fields
from session_daemon.kinds import Kind
from session_daemon.transport.port import PollContent


def fields(content: PollContent) -> dict[str, Any]:
    return poll_fields(content.name, content.options, content.selectable_count)


def from_simulator(body: Any) -> PollContent:
    """`poll: {name, options}`"""
    return PollContent(body.get("name") or None, tuple(str(o) for o in body.get("options") or ()))


KIND = Kind("poll", PollContent, "message", fields=fields, from_simulator=from_simulator)
