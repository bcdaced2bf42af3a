"""Logging set-up: plain text (the default) or `LOG_FORMAT=json`, one JSON object per line.

A JSON line carries the ids of what the event is about as fields (`account`, `threadId`,
`requestId`), taken from `extra={...}` or, when not given, from the context set by `bind()` (the
HTTP middleware binds the request id and the path's account; the outbox worker binds an item's
ids while it handles it). It never carries message text or secrets: the line's `event` is the
code's message *template*, with only numeric arguments filled in (string arguments, which might
be a customer's words, a token or a URL with a signature, are left out), and an error is named by
its class and the code location, never its message. Journald (or anything reading stdout) adds
the time of receipt; the line also has its own `ts`.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

__all__ = ["FIELDS", "JsonFormatter", "bind", "configure_logging"]

# (not `thread`: LogRecord has that attribute, the OS thread)
FIELDS = ("account", "threadId", "requestId")
_VARS: dict[str, contextvars.ContextVar[str | None]] = {
    name: contextvars.ContextVar(f"log_{name}", default=None) for name in FIELDS
}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@contextlib.contextmanager
def bind(**ids: str | None) -> Iterator[None]:
    """Attach ids to every log record made inside the block (this task or thread only)."""
    tokens = [(_VARS[name], _VARS[name].set(value)) for name, value in ids.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def _numeric(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _event(record: logging.LogRecord) -> str:
    template = str(record.msg)
    args = record.args
    if not args:
        return template
    if isinstance(args, dict):
        return template
    try:
        return template % tuple(a if _numeric(a) else "…" for a in args)
    except (TypeError, ValueError):  # "%d" with a string left out, and the like
        return template


def _where(record: logging.LogRecord) -> str | None:
    if not record.exc_info or record.exc_info[2] is None:
        return None
    tb = record.exc_info[2]
    while tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code
    return f"{os.path.basename(code.co_filename)}:{tb.tb_lineno} in {code.co_name}"


class JsonFormatter(logging.Formatter):
    """One JSON object per record; see the module docstring for what is left out and why."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": _event(record),
        }
        for name in FIELDS:
            value = getattr(record, name, None) or _VARS[name].get()
            if value is not None:
                line[name] = str(value)
        if record.exc_info and record.exc_info[0] is not None:
            line["error"] = record.exc_info[0].__name__
            line["where"] = _where(record)
        return json.dumps(line, ensure_ascii=False)


def configure_logging(level: str = "INFO", fmt: str | None = None) -> None:
    """Install the root handler on stderr (journald collects it under systemd). `fmt`: "json"
    or "text" (None: text)."""
    handler = logging.StreamHandler(sys.stderr)
    if (fmt or "text").strip().lower() == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    # neonize calls logging.basicConfig at import: take over (force=True).
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO), handlers=[handler], force=True
    )
