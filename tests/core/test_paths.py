"""`shared.paths`: every id argument is one path segment; parsers undo the builders."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from session_daemon.sessions.accounts import is_valid_account_id
from shared import paths
from shared.ids import parse_thread_id, thread_id
from shared.jids import normalize_jid
from shared.phones import is_valid_e164

# The bad ids every entry point is walked with (tests/test_bad_ids.py uses the same list).
BAD_IDS = [
    "",
    ".",
    "..",
    "a/b",
    "T/messages/M",
    "/",
    "acc\n",
    "a\x00b",
    "a\tb",
    "a\x7fb",
    "a\u2028b",
    "__reserved__",
    "x" * (paths.MAX_ID_CHARS + 1),
]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_check_id_refuses(bad: str) -> None:
    assert not paths.is_id(bad)
    with pytest.raises(paths.InvalidId) as info:
        paths.check_id(bad, "threadId")
    assert info.value.field == "threadId"
    if len(bad) > 2:  # the message says why, never echoes the value
        assert bad not in str(info.value)


@pytest.mark.parametrize("ok", ["a", "wa_40722000001", "wa_1__40722000001@s.whatsapp.net", "é"])
def test_check_id_accepts(ok: str) -> None:
    assert paths.check_id(ok) == ok


def test_non_strings_are_refused() -> None:
    for value in (None, 3, b"a", ["a"]):
        with pytest.raises(paths.InvalidId):
            paths.check_id(value)


@pytest.mark.parametrize(
    "build",
    [
        paths.thread_path,
        paths.messages_collection,
        lambda v: paths.message_path("T", v),
        lambda v: paths.message_path(v, "M"),
        lambda v: paths.extraction_path(v, "k"),
        lambda v: paths.extraction_path("T", v),
        paths.outbox_path,
        paths.account_path,
        paths.account_secrets_path,
        paths.client_path,
        paths.client_stats_index_path,
        paths.event_path,
        paths.counter_path,
        paths.config_path,
        paths.app_config_path,
        paths.staff_profile_path,
        paths.user_path,
        lambda v: paths.pending_receipt_path(v, "3EB0"),
        paths.wa_session_path,
    ],
)
@pytest.mark.parametrize("bad", ["T/messages/M", "..", "acc\n", ""])
def test_every_builder_checks_its_ids(build: Callable[[str], str], bad: str) -> None:
    with pytest.raises(paths.InvalidId):
        build(bad)


def test_builders_and_parsers() -> None:
    assert paths.thread_path("T") == "threads/T"
    assert paths.message_path("T", "M") == "threads/T/messages/M"
    assert paths.extraction_path("T", "k") == "threads/T/extractions/k"
    assert paths.parse_message_path("threads/T/messages/M") == ("T", "M")
    assert paths.thread_id_of("threads/T/messages/M") == "T"
    assert paths.thread_id_of("threads/T") == "T"
    assert paths.doc_id("outbox/R") == "R"
    assert paths.EVENT_SHORT_CODE_COUNTER == "counters/eventShortCode"
    assert paths.WHATSAPP_INBOX_CONFIG == "config/whatsapp_inbox"
    assert paths.AI_PROMPTS == "app_config/ai_prompts"
    assert paths.wa_session_path("account_prod_1") == "wa_sessions/account_prod_1"
    for bad in ("threads/T", "outbox/R/x/y", "threads//messages/M", "threads/../messages/M"):
        with pytest.raises(paths.InvalidId):
            paths.parse_message_path(bad)
    with pytest.raises(paths.InvalidId):
        paths.thread_id_of("outbox/R")


def test_wire_ids_become_safe_segments() -> None:
    assert paths.safe_doc_id("3EB0ABC") == "3EB0ABC"
    for raw in ("a/b", "..", "x\n", "__x__", "x" * 200):
        safe = paths.safe_doc_id(raw)
        assert paths.is_id(safe) and safe.startswith("wa-")
    # a peer-chosen receipt id cannot escape the pending-receipts collection
    assert paths.pending_receipt_path("acc", "../x").count("/") == 1


def test_trailing_newline_is_not_an_id_anywhere() -> None:
    """`$` matches before a final newline: every id pattern uses fullmatch."""
    assert not is_valid_account_id("wa_40722000001\n")
    assert is_valid_account_id("wa_40722000001")
    assert normalize_jid("40722000001\n@s.whatsapp.net") is None
    assert not is_valid_e164("+40722000001\n")
    with pytest.raises(ValueError):
        thread_id("acc\n", "40722000001@s.whatsapp.net")
    with pytest.raises(ValueError):
        parse_thread_id("acc__40722000001@s.whatsapp.net/messages/M")
