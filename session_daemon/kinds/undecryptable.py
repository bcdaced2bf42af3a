"""Undecryptable messages: a placeholder, upgraded in place when the content arrives."""

from __future__ import annotations

from typing import Any

from session_daemon.inbound.special import placeholder_fields
from session_daemon.kinds.base import Kind
from session_daemon.transport.port import UndecryptableContent


def fields(content: UndecryptableContent) -> dict[str, Any]:
    return placeholder_fields()


def from_simulator(body: Any) -> UndecryptableContent:
    """`undecryptable: true`"""
    return UndecryptableContent()


KIND = Kind(
    "undecryptable", UndecryptableContent, "message", fields=fields, from_simulator=from_simulator
)
