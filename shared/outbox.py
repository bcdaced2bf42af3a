"""Outbound sends: the idempotent enqueue shared by `whatsappProxySend` and the daemon's
`POST /api/whatsapp/send`, plus the pure document shapes and status rules the worker uses.

Stable API (the functions and the daemon both depend on it):

- `validate_send_request(body) -> SendRequest` raises `SendRejected("invalid_request", ...)` for
  a body that lacks or mistypes `threadId`, `accountId`, `toJid`, `text`, `clientMessageId`
  (rules of `shared.schemas.SendRequest`).
- `check_send_allowed(thread_doc, *, account_id, to_jid, uid, privileged=False) -> str | None`:
  pure; None when allowed, else one of the codes in `SEND_ERROR_STATUS`:
  `thread_not_found` (404), `account_mismatch` (403), `to_jid_mismatch` (403: our code for the
  contract's "toJid equals the thread's clientJid" fix), `not_owner_or_cowriter` (403).
  `privileged=True` (the daemon's service token) skips the owner policy only.
- `enqueue_send(store, *, thread_id, account_id, to_jid, text, uid, client_message_id, now=None,
  privileged=False, template=None) -> EnqueueResult(request_id, duplicate, message_doc)`: ONE
  transaction (`template`: a Cloud API template send, see `check_template`):
  `outbox/{requestId}` exists → `duplicate=True` and the stored message; else the thread checks
  (raises `SendRejected`), then create the outbox item and the optimistic message
  `threads/{threadId}/messages/{requestId}`, set `ownerUid` on the thread if unset and move the
  thread summary (`lastMessage*`) forward. The caller then wakes the daemon.
- Paths come from `shared.paths` (re-exported here: `outbox_path`, `thread_path`,
  `message_path`); every id is checked to be one path segment.
- `SendRejected.code`, `.message`, `.http_status`: map to the contract's error body.

`requestId = shared.ids.send_request_id(threadId, uid, clientMessageId)`. Every timestamp
written is a timezone-aware `datetime` (a Firestore Timestamp), never a string, and each has an
`...Ms` twin where the contract names one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from shared import schemas
from shared.ids import send_request_id
from shared.jids import chat_jid
from shared.paths import OUTBOX, InvalidId, check_id, message_path, outbox_path, thread_path
from shared.schemas import InvalidPayload, validate_payload
from shared.store.port import DocumentStore, Transaction
from shared.timeutil import ensure_utc, to_ms, utc_now

__all__ = [
    "MAX_TEXT_CHARS",
    "OUTBOX",
    "SEND_ERROR_STATUS",
    "EnqueueResult",
    "SendRejected",
    "SendRequest",
    "check_send_allowed",
    "check_template",
    "enqueue_send",
    "media_kind",
    "message_path",
    "new_message_doc",
    "new_outbox_doc",
    "outbox_path",
    "preview",
    "status_rank",
    "thread_path",
    "thread_summary_patch",
    "validate_send_request",
]

MAX_TEXT_CHARS: Final = 65_536  # WhatsApp's own limit for one text message
MAX_ID_CHARS: Final = 256
PREVIEW_CHARS: Final = 100

SEND_ERROR_STATUS: Final[dict[str, int]] = {
    "invalid_request": 400,
    "thread_not_found": 404,
    "account_mismatch": 403,
    "to_jid_mismatch": 403,
    "not_owner_or_cowriter": 403,
    "invalid_template": 400,
    "reply_target_not_found": 404,
}

_MESSAGES: Final[dict[str, str]] = {
    "thread_not_found": "This conversation does not exist.",
    "account_mismatch": "The conversation belongs to another WhatsApp account.",
    "to_jid_mismatch": "The recipient does not match this conversation.",
    "not_owner_or_cowriter": "Only the conversation's owner or a co-writer may send here.",
    "reply_target_not_found": "The quoted message is not in this conversation.",
}

# Message statuses in the order they may advance; `played` receipts count as `read`.
_RANK: Final[dict[str, int]] = {"failed": -1, "queued": 0, "sent": 1, "delivered": 2, "read": 3}


class SendRejected(Exception):
    """A send the contract refuses; `code` is the stable error code of the HTTP body."""

    def __init__(self, code: str, message: str | None = None) -> None:
        super().__init__(message or _MESSAGES.get(code, code))
        self.code = code
        self.message = message or _MESSAGES.get(code, code)

    @property
    def http_status(self) -> int:
        return SEND_ERROR_STATUS.get(self.code, 400)


@dataclass(frozen=True)
class SendRequest:
    thread_id: str
    account_id: str
    to_jid: str
    text: str
    client_message_id: str
    reply_to_message_id: str | None = None
    media: dict[str, Any] | None = None  # `{url, mimeType, fileName?}` (Cloud API accounts)


@dataclass(frozen=True)
class EnqueueResult:
    request_id: str
    duplicate: bool
    message_doc: dict[str, Any]  # the message as stored (data only; its id is `request_id`)


# ---- pure rules --------------------------------------------------------------------------------

_TEMPLATE_NAME: Final = re.compile(r"^[a-z0-9_]{1,512}$")
MAX_TEMPLATE_COMPONENTS: Final = 20


def check_template(template: object) -> dict[str, Any]:
    """An outbox item's `template` (Cloud API accounts): `{name, language, components?}` with
    Meta's own `components` list. Returns the normalised dict; raises
    `SendRejected("invalid_template")`. Meta checks the parameters against the approved
    template itself (its refusal becomes `template_error` on the item)."""
    if not isinstance(template, Mapping):
        raise SendRejected("invalid_template", "template must be an object.")
    name, language = template.get("name"), template.get("language")
    components = template.get("components", [])
    if not isinstance(name, str) or not _TEMPLATE_NAME.match(name):
        raise SendRejected("invalid_template", "template.name must be a template's name.")
    if not isinstance(language, str) or not 2 <= len(language) <= 15:
        raise SendRejected("invalid_template", "template.language must be a language code.")
    if (
        not isinstance(components, list)
        or len(components) > MAX_TEMPLATE_COMPONENTS
        or not all(isinstance(c, Mapping) for c in components)
    ):
        raise SendRejected("invalid_template", "template.components must be a list of objects.")
    return {"name": name, "language": language, "components": [dict(c) for c in components]}


def validate_send_request(body: object) -> SendRequest:
    """The five required fields of a send, checked by `shared.schemas.SendRequest` (the same
    rules as `whatsappProxySend`); raises SendRejected("invalid_request") naming the fields."""
    try:
        parsed = validate_payload(schemas.SendRequest, body)
    except InvalidPayload as exc:
        raise SendRejected("invalid_request", f"Invalid request: {exc.message}") from None
    try:  # ids are single path segments (CONTRACT section 2): `T/messages/M` is no thread
        check_id(parsed.thread_id, "threadId")
        check_id(parsed.account_id, "accountId")
    except InvalidId as exc:
        raise SendRejected("invalid_request", f"Invalid request: {exc}") from None
    if len(parsed.account_id) > MAX_ID_CHARS:
        raise SendRejected("invalid_request", "Invalid request: accountId: too long")
    return SendRequest(
        thread_id=parsed.thread_id,
        account_id=parsed.account_id,
        to_jid=parsed.to_jid,
        text=parsed.text,
        client_message_id=parsed.client_message_id,
        reply_to_message_id=parsed.reply_to_message_id,
        media=parsed.media.model_dump(exclude_none=True) if parsed.media else None,
    )


def check_send_allowed(
    thread_doc: Mapping[str, Any] | None,
    *,
    account_id: str,
    to_jid: str,
    uid: str,
    privileged: bool = False,
) -> str | None:
    """None when `uid` may send `to_jid` in this thread, else the contract's error code.

    The recipient must be the thread's `clientJid` (compared as chat JIDs: a device suffix or
    the legacy `c.us` server do not matter). Owner policy: anyone may send in a thread without
    an `ownerUid` (and becomes its owner); otherwise only the owner or a uid in `coWriterUids`.
    """
    if thread_doc is None:
        return "thread_not_found"
    if thread_doc.get("accountId") != account_id:
        return "account_mismatch"
    thread_jid = chat_jid(thread_doc.get("clientJid"))
    if thread_jid is None or chat_jid(to_jid) != thread_jid:
        return "to_jid_mismatch"
    if privileged:
        return None
    owner = thread_doc.get("ownerUid")
    co_writers = thread_doc.get("coWriterUids") or []
    if owner and owner != uid and uid not in co_writers:
        return "not_owner_or_cowriter"
    return None


def status_rank(status: object) -> int:
    """Order of message statuses for forward-only moves (`played` = `read`; unknown = -2)."""
    if status == "played":
        status = "read"
    return _RANK.get(status, -2) if isinstance(status, str) else -2


def preview(text: str) -> str:
    return text[:PREVIEW_CHARS]


def new_outbox_doc(
    *,
    request_id: str,
    thread_id: str,
    account_id: str,
    to_jid: str,
    text: str,
    uid: str,
    client_message_id: str,
    now: datetime,
) -> dict[str, Any]:
    """`outbox/{requestId}` as CONTRACT.md section 4 lists it, plus the worker's own fields
    (`attemptId`, `sendStartedAt`: the no-blind-resend marker; `updatedAt`)."""
    return {
        "requestId": request_id,
        "threadId": thread_id,
        "accountId": account_id,
        "toJid": to_jid,
        "body": text,
        "payload": {"text": text},
        "status": "queued",
        "attemptCount": 0,
        "nextAttemptAt": now,
        "createdAt": now,
        "createdAtMs": to_ms(now),
        "createdByUid": uid,
        "clientMessageId": client_message_id,
        "claimedBy": None,
        "leaseUntil": None,
        "attemptId": None,
        "sendStartedAt": None,
        "lastError": None,
        "providerMessageId": None,
        "sentAt": None,
        "failedAt": None,
        "updatedAt": now,
    }


def new_message_doc(
    *,
    request_id: str,
    account_id: str,
    client_jid: str,
    text: str,
    uid: str,
    client_message_id: str,
    now: datetime,
) -> dict[str, Any]:
    """The optimistic outbound message (`threads/{threadId}/messages/{requestId}`)."""
    return {
        "accountId": account_id,
        "clientJid": client_jid,
        "direction": "outbound",
        "body": text,
        "status": "queued",
        "tsClient": now,
        "tsClientMs": to_ms(now),
        "tsServer": None,
        "createdAt": now,
        "createdAtMs": to_ms(now),
        "messageType": "text",
        "clientMessageId": client_message_id,
        "requestId": request_id,
        "createdByUid": uid,
        "fromApp": True,
        "waMessageId": None,
        "providerMessageId": None,
        "media": None,  # text only; the app reads the field on every message
    }


def thread_summary_patch(
    thread_doc: Mapping[str, Any], *, message_id: str, text: str, at: datetime, status: str
) -> dict[str, Any]:
    """`lastMessage*` fields for an outbound message at `at`; {} when the thread already shows a
    newer message (the summary only moves forward)."""
    current = thread_doc.get("lastMessageAt")
    if isinstance(current, datetime) and ensure_utc(current) > at:
        return {}
    return {
        "lastMessageAt": at,
        "lastMessageAtMs": to_ms(at),
        "lastMessageText": preview(text),
        "lastMessagePreview": preview(text),
        "lastMessageDirection": "outbound",
        "lastMessageId": message_id,
        "lastMessageStatus": status,
        "updatedAt": at,
    }


# ---- the enqueue transaction ------------------------------------------------------------------


def _reply_and_media(
    reply_to: str | None, quoted: Any, media: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The outbox item's `replyTo {messageId, waMessageId}` (the quoted message's WhatsApp id,
    which the send needs) and `media {url, mimeType, fileName?, kind}`."""
    out: dict[str, Any] = {}
    if reply_to:
        data = quoted.data if quoted is not None else {}
        wamid = data.get("waMessageId") or data.get("providerMessageId")
        if not isinstance(wamid, str) or not wamid:
            raise SendRejected("reply_target_not_found")
        out["replyTo"] = {"messageId": reply_to, "waMessageId": wamid}
    if media is not None:
        out["media"] = {**dict(media), "kind": media_kind(str(media.get("mimeType") or ""))}
    return out


def media_kind(mime_type: str) -> str:
    """WhatsApp's message type for a file: image, video, audio or (anything else) document.
    Stickers are never chosen: a webp photo goes out as an image."""
    base = mime_type.split(";", 1)[0].strip().lower()
    for kind in ("image", "video", "audio"):
        if base.startswith(f"{kind}/"):
            return kind
    return "document"


def enqueue_send(
    store: DocumentStore,
    *,
    thread_id: str,
    account_id: str,
    to_jid: str,
    text: str,
    uid: str,
    client_message_id: str,
    now: datetime | None = None,
    privileged: bool = False,
    template: Mapping[str, Any] | None = None,
    reply_to_message_id: str | None = None,
    media: Mapping[str, Any] | None = None,
) -> EnqueueResult:
    """Write the outbox item and the optimistic message once per (thread, uid, clientMessageId).

    Raises SendRejected when the thread checks fail (re-checked inside the transaction so two
    first senders cannot both become the owner) and ValueError for empty ids.
    """
    check_id(thread_id, "threadId")  # InvalidId before anything is read or written
    check_id(account_id, "accountId")
    if reply_to_message_id:
        check_id(reply_to_message_id, "replyToMessageId")
    checked_template = check_template(template) if template is not None else None
    request_id = send_request_id(thread_id, uid, client_message_id)
    at = ensure_utc(now) if now is not None else utc_now()
    item_path = outbox_path(request_id)
    msg_path = message_path(thread_id, request_id)
    t_path = thread_path(thread_id)

    def run(tx: Transaction) -> EnqueueResult:
        existing = tx.get(item_path)
        message = tx.get(msg_path)
        thread = tx.get(t_path)
        quoted = (
            tx.get(message_path(thread_id, reply_to_message_id)) if reply_to_message_id else None
        )
        if existing is not None:
            return EnqueueResult(request_id, True, dict(message.data) if message else {})
        thread_data = thread.data if thread is not None else None
        code = check_send_allowed(
            thread_data, account_id=account_id, to_jid=to_jid, uid=uid, privileged=privileged
        )
        if code is not None:
            raise SendRejected(code)
        assert thread_data is not None  # check_send_allowed returned thread_not_found otherwise
        client_jid = str(thread_data["clientJid"])
        item = new_outbox_doc(
            request_id=request_id,
            thread_id=thread_id,
            account_id=account_id,
            to_jid=client_jid,
            text=text,
            uid=uid,
            client_message_id=client_message_id,
            now=at,
        )
        if checked_template is not None:  # a Cloud API template send (the worker reads it)
            item["template"] = checked_template
        extra = _reply_and_media(reply_to_message_id, quoted, media)
        item.update(extra)
        tx.create(item_path, item)
        doc = new_message_doc(
            request_id=request_id,
            account_id=account_id,
            client_jid=client_jid,
            text=text,
            uid=uid,
            client_message_id=client_message_id,
            now=at,
        )
        if "replyTo" in extra:
            doc["quotedMessageId"] = extra["replyTo"]["messageId"]
        if "media" in extra:
            doc["messageType"] = extra["media"]["kind"]
            doc["mediaMimetype"] = extra["media"]["mimeType"]
        if message is None:
            tx.create(msg_path, doc)
        else:  # a message without its outbox item cannot come from us: keep it, fill the gaps
            doc = {**doc, **message.data}
            tx.set(msg_path, doc)
        patch = thread_summary_patch(
            thread_data, message_id=request_id, text=text, at=at, status="queued"
        )
        if not thread_data.get("ownerUid") and not privileged:
            patch["ownerUid"] = uid
        if patch:
            tx.update(t_path, patch)
        return EnqueueResult(request_id, False, doc)

    return store.transaction(run)
