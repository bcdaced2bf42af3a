"""Every document path of the store, built and parsed in one place (CONTRACT.md section 2: ids
are single path segments).

Domain code never writes `f"threads/{x}"` or splits a path by hand: it calls these builders,
which check every id argument with `check_id` first. A `threadId` of `T/messages/M` therefore
cannot name a message document: it raises `InvalidId` before any read or write.

API (stdlib only; cheap to import from Cloud Functions):

- `InvalidId(ValueError)`: `.field` names the argument; the message never echoes the value.
  Callers map it to 400 `invalid_request` (HTTP) or `invalid-argument` (callables).
- `check_id(value, field="id") -> str` returns `value` when it is one path segment: a non-empty
  `str`, at most `MAX_ID_CHARS` characters and 1500 UTF-8 bytes, no `/`, not `.` or `..`, no
  control or line-separator character, not a reserved `__...__` id. `is_id(value) -> bool`.
- Collections: `THREADS`, `MESSAGES`, `EXTRACTIONS`, `OUTBOX`, `ACCOUNTS`, `ACCOUNT_SECRETS`,
  `CLIENTS`, `CLIENT_STATS_INDEX`, `EVENTS` (`evenimente`), `COUNTERS`, `CONFIG`, `APP_CONFIG`,
  `STAFF_PROFILES`, `USERS`, `PENDING_RECEIPTS`, `WA_SESSIONS`, `ACCOUNT_LEASES`,
  `DAEMON_INSTANCES`, `BROADCASTS`; all of them in `COLLECTIONS`.
- Builders (each returns a document path): `thread_path(t)`, `message_path(t, m)`,
  `extraction_path(t, key)`, `outbox_path(request_id)`, `account_path(a)`,
  `account_secrets_path(a)`, `client_path(phone)`, `client_stats_index_path(event_id)`,
  `event_path(event_id)`, `counter_path(name)`, `config_path(name)`, `app_config_path(name)`,
  `staff_profile_path(uid)`, `user_path(uid)`, `pending_receipt_path(account, wa_message_id)`,
  `wa_session_path(a)`,
  `account_lease_path(account)` (which daemon runs the account's session: holder, epoch,
  expiry), `daemon_instance_path(instance)` (a daemon's heartbeat and address),
  `broadcast_path(broadcast_id)` (one broadcast and its per-recipient results);
  collection paths: `messages_collection(t)`. Fixed documents: `EVENT_SHORT_CODE_COUNTER`,
  `WHATSAPP_INBOX_CONFIG` (its `adminOnlyAccountIds`), `SUPER_ADMINS_CONFIG` (its `emails`),
  `AI_PROMPTS`; trigger pattern
  `EVENT_TRIGGER_DOCUMENT` (`evenimente/{eventId}`).
- Parsers: `doc_id(path)`, `thread_id_of(path)` (a thread, message or extraction path → its
  thread id), `parse_message_path(path) -> (thread_id, message_id)`. They raise `InvalidId`.
- `safe_doc_id(raw)`: a document id for an id from the wire (a WhatsApp message id): itself when
  plain (`[A-Za-z0-9_-]{1,128}`), else `wa-` + a stable hash.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Final

__all__ = [
    "ACCOUNTS",
    "ACCOUNT_LEASES",
    "ACCOUNT_SECRETS",
    "AI_PROMPTS",
    "APP_CONFIG",
    "BROADCASTS",
    "CLIENTS",
    "CLIENT_STATS_INDEX",
    "COLLECTIONS",
    "CONFIG",
    "COUNTERS",
    "DAEMON_INSTANCES",
    "EVENTS",
    "EVENT_SHORT_CODE_COUNTER",
    "EVENT_TRIGGER_DOCUMENT",
    "EXTRACTIONS",
    "MAX_ID_CHARS",
    "MESSAGES",
    "OUTBOX",
    "PENDING_RECEIPTS",
    "STAFF_PROFILES",
    "SUPER_ADMINS_CONFIG",
    "THREADS",
    "USERS",
    "WA_SESSIONS",
    "WHATSAPP_INBOX_CONFIG",
    "InvalidId",
    "account_lease_path",
    "account_path",
    "account_secrets_path",
    "app_config_path",
    "broadcast_path",
    "check_id",
    "client_path",
    "client_stats_index_path",
    "config_path",
    "counter_path",
    "daemon_instance_path",
    "doc_id",
    "event_path",
    "extraction_path",
    "is_id",
    "message_path",
    "messages_collection",
    "outbox_path",
    "parse_message_path",
    "pending_receipt_path",
    "safe_doc_id",
    "staff_profile_path",
    "thread_id_of",
    "thread_path",
    "user_path",
    "wa_session_path",
]

THREADS: Final = "threads"
MESSAGES: Final = "messages"
EXTRACTIONS: Final = "extractions"
OUTBOX: Final = "outbox"
ACCOUNTS: Final = "accounts"
ACCOUNT_SECRETS: Final = "accountSecrets"
CLIENTS: Final = "clients"
CLIENT_STATS_INDEX: Final = "clientStatsIndex"
EVENTS: Final = "evenimente"
COUNTERS: Final = "counters"
CONFIG: Final = "config"
APP_CONFIG: Final = "app_config"
STAFF_PROFILES: Final = "staffProfiles"
USERS: Final = "users"
PENDING_RECEIPTS: Final = "pendingReceipts"
WA_SESSIONS: Final = "wa_sessions"
ACCOUNT_LEASES: Final = "accountLeases"
DAEMON_INSTANCES: Final = "daemonInstances"
BROADCASTS: Final = "broadcasts"
COLLECTIONS: Final = frozenset(
    {
        BROADCASTS,
        THREADS,
        MESSAGES,
        EXTRACTIONS,
        OUTBOX,
        ACCOUNTS,
        ACCOUNT_SECRETS,
        CLIENTS,
        CLIENT_STATS_INDEX,
        EVENTS,
        COUNTERS,
        CONFIG,
        APP_CONFIG,
        STAFF_PROFILES,
        USERS,
        PENDING_RECEIPTS,
        WA_SESSIONS,
        ACCOUNT_LEASES,
        DAEMON_INSTANCES,
    }
)

# Thread ids are `{accountId (<=100)}__{jid (<=128)}`; 400 leaves room and stays under
# Firestore's 1500-byte id limit for any text this short in ASCII.
MAX_ID_CHARS: Final = 400
_MAX_ID_BYTES: Final = 1500
_RESERVED: Final = re.compile(r"__.*__", re.DOTALL)  # Firestore reserves these ids
_PLAIN: Final = re.compile(r"[A-Za-z0-9_-]{1,128}")
# Cc: control characters (newline, NUL, DEL, ...); Cs: lone surrogates (not UTF-8);
# Zl/Zp: line and paragraph separators (they break log lines like a newline).
_BAD_CATEGORIES: Final = frozenset({"Cc", "Cs", "Zl", "Zp"})


class InvalidId(ValueError):
    """An id that is not one path segment. `field` names the argument; the message says why
    without echoing the value (it goes back to the client and into logs)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _problem(value: object) -> str | None:
    if not isinstance(value, str):
        return "must be a string"
    if not value:
        return "must not be empty"
    if len(value) > MAX_ID_CHARS:
        return f"longer than {MAX_ID_CHARS} characters"
    if "/" in value:
        return "must not contain '/'"
    if value in (".", ".."):
        return "must not be '.' or '..'"
    if any(unicodedata.category(ch) in _BAD_CATEGORIES for ch in value):
        return "must not contain control characters"
    if len(value.encode("utf-8")) > _MAX_ID_BYTES:
        return f"longer than {_MAX_ID_BYTES} bytes"
    if _RESERVED.fullmatch(value):
        return "must not be of the reserved form __...__"
    return None


def check_id(value: object, field: str = "id") -> str:
    """`value` when it is one document-id segment, else raise InvalidId naming `field`."""
    problem = _problem(value)
    if problem is not None:
        raise InvalidId(field, problem)
    assert isinstance(value, str)
    return value


def is_id(value: object) -> bool:
    return _problem(value) is None


def safe_doc_id(raw: str) -> str:
    """A document id for an id chosen by someone else (a WhatsApp message id): itself when it is
    plain, else a stable hash, so any id maps to one valid, unique segment."""
    if _PLAIN.fullmatch(raw) and not _RESERVED.fullmatch(raw):
        return raw
    return "wa-" + hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:40]


# ---- builders ----------------------------------------------------------------------------------


def thread_path(thread_id: str) -> str:
    return f"{THREADS}/{check_id(thread_id, 'threadId')}"


def messages_collection(thread_id: str) -> str:
    return f"{thread_path(thread_id)}/{MESSAGES}"


def message_path(thread_id: str, message_id: str) -> str:
    return f"{messages_collection(thread_id)}/{check_id(message_id, 'messageId')}"


def extraction_path(thread_id: str, key: str) -> str:
    return f"{thread_path(thread_id)}/{EXTRACTIONS}/{check_id(key, 'key')}"


def outbox_path(request_id: str) -> str:
    return f"{OUTBOX}/{check_id(request_id, 'requestId')}"


def account_path(account_id: str) -> str:
    return f"{ACCOUNTS}/{check_id(account_id, 'accountId')}"


def account_secrets_path(account_id: str) -> str:
    return f"{ACCOUNT_SECRETS}/{check_id(account_id, 'accountId')}"


def wa_session_path(account_id: str) -> str:
    """The old backend's copy of an account's Baileys auth state (read by the session import)."""
    return f"{WA_SESSIONS}/{check_id(account_id, 'accountId')}"


def client_path(phone_e164: str) -> str:
    return f"{CLIENTS}/{check_id(phone_e164, 'phoneE164')}"


def client_stats_index_path(event_id: str) -> str:
    return f"{CLIENT_STATS_INDEX}/{check_id(event_id, 'eventId')}"


def event_path(event_id: str) -> str:
    return f"{EVENTS}/{check_id(event_id, 'eventId')}"


def counter_path(name: str) -> str:
    return f"{COUNTERS}/{check_id(name, 'counter')}"


def config_path(name: str) -> str:
    return f"{CONFIG}/{check_id(name, 'config')}"


def app_config_path(name: str) -> str:
    return f"{APP_CONFIG}/{check_id(name, 'appConfig')}"


def staff_profile_path(uid: str) -> str:
    return f"{STAFF_PROFILES}/{check_id(uid, 'uid')}"


def user_path(uid: str) -> str:
    return f"{USERS}/{check_id(uid, 'uid')}"


def pending_receipt_path(account_id: str, wa_message_id: str) -> str:
    """A receipt that came before its message: keyed by account and WhatsApp message id."""
    account = check_id(account_id, "accountId")
    return f"{PENDING_RECEIPTS}/{check_id(f'{account}__{safe_doc_id(wa_message_id)}')}"


def account_lease_path(account_id: str) -> str:
    """The lease of one account: the daemon instance that may run its session (issue 14)."""
    return f"{ACCOUNT_LEASES}/{check_id(account_id, 'accountId')}"


def daemon_instance_path(instance_id: str) -> str:
    """One daemon's heartbeat: liveness for the lease planner and for duplicate-id checks."""
    return f"{DAEMON_INSTANCES}/{check_id(instance_id, 'instanceId')}"


def broadcast_path(broadcast_id: str) -> str:
    """One broadcast (issue 16): its text, recipients and each recipient's result."""
    return f"{BROADCASTS}/{check_id(broadcast_id, 'broadcastId')}"


EVENT_SHORT_CODE_COUNTER: Final = counter_path("eventShortCode")
WHATSAPP_INBOX_CONFIG: Final = config_path("whatsapp_inbox")  # field `adminOnlyAccountIds`
SUPER_ADMINS_CONFIG: Final = config_path("super_admins")  # field `emails`: the rules' admin list
AI_PROMPTS: Final = app_config_path("ai_prompts")
EVENT_TRIGGER_DOCUMENT: Final = f"{EVENTS}/{{eventId}}"  # the Firestore trigger's pattern


# ---- parsers -----------------------------------------------------------------------------------


def _segments(path: object) -> list[str]:
    if not isinstance(path, str):
        raise InvalidId("path", "must be a string")
    parts = path.split("/")
    for part in parts:
        check_id(part, "path")
    return parts


def doc_id(path: str) -> str:
    """The last segment of a document path."""
    parts = _segments(path)
    if len(parts) % 2:
        raise InvalidId("path", "not a document path")
    return parts[-1]


def thread_id_of(path: str) -> str:
    """The thread id of `threads/{t}` or of any document under it (messages, extractions)."""
    parts = _segments(path)
    if len(parts) < 2 or len(parts) % 2 or parts[0] != THREADS:
        raise InvalidId("path", "not a thread document path")
    return parts[1]


def parse_message_path(path: str) -> tuple[str, str]:
    """`threads/{t}/messages/{m}` → `(t, m)`."""
    parts = _segments(path)
    if len(parts) != 4 or parts[0] != THREADS or parts[2] != MESSAGES:
        raise InvalidId("path", "not a message path")
    return parts[1], parts[3]
