"""Polls (creation of every version): body lists the options; `poll {name, options}`."""

from __future__ import annotations

from typing import Any

from session_daemon.inbound.special import poll_fields
from session_daemon.kinds.base import Kind
from session_daemon.transport.port import PollContent


def fields(content: PollContent) -> dict[str, Any]:
    return poll_fields(content.name, content.options, content.selectable_count)


def from_simulator(body: Any) -> PollContent:
    """`poll: {name, options}`"""
    return PollContent(body.get("name") or None, tuple(str(o) for o in body.get("options") or ()))


_POLLS = (
    "pollCreationMessage",
    "pollCreationMessageV2",
    "pollCreationMessageV3",
    "pollCreationMessageV5",
    "pollCreationMessageV6",
)


def _poll(part: Any, name: str | None) -> PollContent:
    options = tuple(o.optionName for o in part.options if o.optionName)
    count = int(part.selectableOptionsCount) or None
    return PollContent(name, options, count)


def from_neonize(msg: Any) -> PollContent | None:
    for field in _POLLS:
        if msg.HasField(field):
            part = getattr(msg, field)
            return _poll(part, part.name or None)
    if msg.HasField("pollCreationMessageV4"):
        # a FutureProofMessage without a name (notes/neonize.md): its options, when inside
        inner = msg.pollCreationMessageV4.message
        for field in _POLLS:
            if inner.HasField(field):
                part = getattr(inner, field)
                return _poll(part, part.name or None)
        return PollContent(None, ())
    return None


KIND = Kind(
    "poll",
    PollContent,
    "message",
    fields=fields,
    from_simulator=from_simulator,
    from_neonize=from_neonize,
)
