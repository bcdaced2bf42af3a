"""One file per message kind, in the spirit of mautrix-whatsapp's msgconv: each kind that is not
plain text or media is one module here, one typed content class on the transport port
(`session_daemon/transport/port.py`), one row in `KINDS`, one test file. The `Kind` record and
`ChangeContext` live in `base`, which the kind files import (never this package).

A kind says how its content travels through the journal (a tag, its fields), and either
- `fields`: the document fields of a new message of that kind (polls, missed calls, the
  "waiting for this message" placeholder), or
- `change`: the patch it makes to the message it targets (edits, deletions, reactions).
Its neonize converter and its simulator body parser live in the same file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from session_daemon.kinds import call, edit, poll, reaction, revoke, undecryptable
from session_daemon.kinds.base import ChangeContext, Kind

__all__ = [
    "KINDS",
    "ChangeContext",
    "Kind",
    "content_from_json",
    "content_from_neonize",
    "content_to_json",
    "kind_of",
]


KINDS: tuple[Kind, ...] = (
    poll.KIND,
    call.KIND,
    undecryptable.KIND,
    edit.KIND,
    revoke.KIND,
    reaction.KIND,
)
_BY_TAG = {k.tag: k for k in KINDS}
_BY_TYPE = {k.content: k for k in KINDS}


def content_from_neonize(message: Any) -> Any:
    """The first kind whose neonize converter recognises the (unwrapped) message, else None."""
    for kind in KINDS:
        if kind.from_neonize is not None:
            content = kind.from_neonize(message)
            if content is not None:
                return content
    return None


def kind_of(content: Any) -> Kind:
    try:
        return _BY_TYPE[type(content)]
    except KeyError:
        raise ValueError(f"no kind for {type(content).__name__}") from None


def content_to_json(content: Any) -> dict[str, Any]:
    kind = kind_of(content)
    fields = {
        f.name: list(v) if isinstance(v := getattr(content, f.name), tuple) else v
        for f in dataclasses.fields(content)
    }
    return {"k": kind.tag, "f": fields}


def content_from_json(raw: Mapping[str, Any]) -> Any:
    kind = _BY_TAG.get(str(raw.get("k")))
    if kind is None:
        raise ValueError(f"unknown kind {raw.get('k')!r}")
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in dict(raw["f"]).items()}
    return kind.content(**fields)
