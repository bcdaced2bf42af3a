"""Deterministic document ids shared by the daemon and the functions (see CONTRACT.md)."""

from __future__ import annotations

import hashlib

from shared.jids import chat_jid
from shared.paths import check_id

__all__ = [
    "THREAD_ID_SEPARATOR",
    "extraction_client_request_id",
    "parse_thread_id",
    "send_request_id",
    "thread_id",
]

THREAD_ID_SEPARATOR = "__"


def _require_text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value


def thread_id(account_id: str, client_jid: str) -> str:
    """``{accountId}__{clientJid}`` with the canonical chat JID (device stripped, phone JID).

    ``client_jid`` may be a JID of a person (phone or LID) or a group, or a phone number.
    Raises ValueError naming the bad argument otherwise (`shared.paths.InvalidId` for an
    account id that is not one path segment).
    """
    account = check_id(_require_text("account_id", account_id), "account_id")
    jid = chat_jid(client_jid)
    if jid is None:
        raise ValueError(f"client_jid is not a chat JID or phone number: {client_jid!r}")
    return check_id(f"{account}{THREAD_ID_SEPARATOR}{jid}", "thread_id")


def parse_thread_id(value: str) -> tuple[str, str]:
    """Split a thread id into ``(account_id, client_jid)``. Raises ValueError on junk.

    JIDs never contain ``__``, so the *last* separator splits even if an account id has one.
    """
    text = check_id(_require_text("thread_id", value), "thread_id")
    account, sep, jid = text.rpartition(THREAD_ID_SEPARATOR)
    if not sep or not account or chat_jid(jid) != jid:
        raise ValueError(f"not a thread id: {value!r}")
    return account, jid


def _sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def send_request_id(thread_id: str, uid: str, client_message_id: str) -> str:
    """The send idempotency key: ``sha256_hex(threadId|uid|clientMessageId)`` (64 hex chars)."""
    parts = (
        _require_text("thread_id", thread_id),
        _require_text("uid", uid),
        _require_text("client_message_id", client_message_id),
    )
    return _sha256_hex("|".join(parts))


def extraction_client_request_id(thread_id: str, newest_message_id: str) -> str:
    """The extraction key: first 16 hex chars of ``sha256_hex(threadId__newestMessageId)``."""
    tid = _require_text("thread_id", thread_id)
    newest = _require_text("newest_message_id", newest_message_id)
    return _sha256_hex(f"{tid}__{newest}")[:16]
