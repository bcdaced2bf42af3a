"""What every message kind is made of (`session_daemon.kinds` lists them): the `Kind` record and
the context a change is applied in. Its own module so the kind files can import it without
importing the package that imports them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from session_daemon.inbound.changes import Skip

__all__ = ["ChangeContext", "Kind"]


@dataclass(frozen=True)
class ChangeContext:
    client_jid: str  # the chat the change came from: a target in another chat is refused
    at: datetime
    from_me: bool
    sender_jid: str | None


@dataclass(frozen=True)
class Kind:
    tag: str  # journal tag and `messageType`
    content: type[Any]
    role: Literal["message", "change"]
    fields: Callable[[Any], dict[str, Any]] | None = None
    change: (
        Callable[[Mapping[str, Any] | None, Any, ChangeContext], dict[str, Any] | Skip] | None
    ) = None
    from_simulator: Callable[[Any], Any] | None = None
    # an unwrapped waE2E.Message -> this kind's content, or None (no neonize import needed:
    # protobuf attribute access only, so the daemon never loads Go for it)
    from_neonize: Callable[[Any], Any] | None = None
