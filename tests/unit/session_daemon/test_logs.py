"""The JSON log formatter: ids as fields (extra or bound), numbers kept, strings and exception
messages left out; plain text stays the default."""

from __future__ import annotations

import json
import logging
import sys

from session_daemon.logs import JsonFormatter, bind, configure_logging


def record(msg: str, *args: object, exc: bool = False, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("t", logging.WARNING, __file__, 1, msg, args or None, None)
    if exc:
        try:
            raise ValueError("the customer wrote: secret words")
        except ValueError:
            rec.exc_info = sys.exc_info()
    rec.__dict__.update(extra)
    return rec


def test_fields_numbers_and_what_is_left_out() -> None:
    fmt = JsonFormatter()
    line = json.loads(fmt.format(record("item %s failed after %d tries: %s", "rid", 3, "token")))
    assert line["event"] == "item … failed after 3 tries: …"
    assert "rid" not in json.dumps(line) and "token" not in json.dumps(line)
    with bind(account="wa_1", threadId="wa_1__40@s.whatsapp.net"):
        bound = json.loads(fmt.format(record("x", requestId="r-9")))
    assert (bound["account"], bound["threadId"], bound["requestId"]) == (
        "wa_1", "wa_1__40@s.whatsapp.net", "r-9"
    )  # fmt: skip
    assert "account" not in json.loads(fmt.format(record("after the block")))
    failed = json.loads(fmt.format(record("boom", exc=True)))
    assert failed["error"] == "ValueError" and "test_logs.py" in failed["where"]
    assert "secret" not in json.dumps(failed)
    odd = json.loads(fmt.format(record("%d things", "not a number")))
    assert odd["event"] == "%d things"


def test_text_is_the_default() -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_logging("INFO", None)
        assert not isinstance(root.handlers[0].formatter, JsonFormatter)
        configure_logging("INFO", "json")
        assert isinstance(root.handlers[0].formatter, JsonFormatter)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
