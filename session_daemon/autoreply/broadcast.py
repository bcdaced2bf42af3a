"""Broadcasts: one text to up to 256 recipients of one account, stored as `broadcasts/{id}`.

Document: `accountId`, `text`, `template` (Cloud API accounts), `createdByUid`,
`createdAt`, `status` (`running` → `done`, or `stopped` with `stopReason`), `gapSeconds`, and
`recipients`: `[{to, threadId, requestId, status: pending|queued|sent|failed|skipped, error}]`.
Each recipient becomes one outbox item (`createdByUid: "broadcast"`, privileged: no owner
change) with `clientMessageId = bc-<broadcastId>-<index>`, so running a broadcast again (a
restart, a failover) never queues a recipient twice. `BroadcastRunner` sends them.

Synchronous store calls; run them off the event loop.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Final

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from session_daemon.autoreply.settings import BROADCAST_UID, MAX_REPLY_CHARS
from shared.ids import parse_thread_id, send_request_id, thread_id
from shared.jids import jid_to_e164, phone_jid
from shared.outbox import enqueue_send
from shared.paths import broadcast_path, is_id, thread_path
from shared.phones import is_valid_e164
from shared.store.port import DocumentStore, Transaction
from shared.timeutil import to_ms, utc_now

MAX_RECIPIENTS: Final = 256
# account statuses after which no later recipient can be reached: stop the broadcast
PERMANENT_STATUSES: Final = frozenset({"logged_out", "needs_qr", "temporarily_banned", "deleted"})
# Cloud API accounts: a `lastError` starting with one of these codes stops the account's sends
# until an operator acts (session_daemon/cloud_api/errors.py, `stops_account`)
STOPPING_ERROR_CODES: Final = frozenset(
    {"token_expired", "permission_denied", "number_blocked", "not_found", "no_cloud_credentials"}
)
FINAL: Final = frozenset({"sent", "failed", "skipped"})


def stop_reason(account: Mapping[str, Any] | None) -> str | None:
    """Why no later recipient of this account can be reached (`account_<status or code>`), or
    None while it can still send (connected, or only disconnected for a while)."""
    if account is None:
        return "account_deleted"
    status = str(account.get("status") or "")
    if status in PERMANENT_STATUSES:
        return f"account_{status}"
    code = str(account.get("lastError") or "").split(":", 1)[0].strip()
    if status != "connected" and code in STOPPING_ERROR_CODES:
        return f"account_{code}"
    return None


Recipient = Annotated[str, StringConstraints(min_length=1, max_length=512)]


class BroadcastRequest(BaseModel):
    """`text` for a linked device; on a Cloud API account a `template` (Meta's `{name,
    language, components?}`, checked by `shared.outbox.check_template`), `text` then being what
    the chat shows (default: the template's name)."""

    model_config = ConfigDict(strict=True, extra="ignore")
    text: Annotated[str, StringConstraints(min_length=1, max_length=MAX_REPLY_CHARS)] | None = None
    recipients: list[Recipient] = Field(min_length=1, max_length=MAX_RECIPIENTS)
    client_broadcast_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = (
        Field(None, alias="clientBroadcastId")
    )
    template: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _message(self) -> BroadcastRequest:
        if self.text is None and self.template is None:
            raise ValueError("send 'text' (or, on a Cloud API account, 'template')")
        return self

    def shown_text(self) -> str:
        if self.text is not None:
            return self.text
        return f"[template] {(self.template or {}).get('name', '')}"[:MAX_REPLY_CHARS]


class BadRecipient(ValueError):
    def __init__(self, index: int, reason: str) -> None:
        super().__init__(f"recipients.{index}: {reason}")
        self.field = f"recipients.{index}"
        self.reason = reason


@dataclass(frozen=True)
class Target:
    to: str  # as the caller wrote it
    thread_id: str
    client_jid: str


def resolve_recipients(
    store: DocumentStore, account_id: str, recipients: Sequence[str]
) -> list[Target]:
    """Each recipient as a thread of the account: an E.164 phone (its thread is created when
    missing) or an existing thread id of this account. Duplicates keep their first place.
    Raises BadRecipient naming the first bad one."""
    targets: list[Target] = []
    seen: set[str] = set()
    for index, raw in enumerate(recipients):
        value = raw.strip()
        if value.startswith("+"):
            if not is_valid_e164(value):
                raise BadRecipient(index, "not a valid E.164 phone number")
            jid = phone_jid(value)
            tid = thread_id(account_id, jid)
        else:
            try:
                owner, jid = parse_thread_id(value)
            except ValueError:
                raise BadRecipient(index, "neither an E.164 phone nor a thread id") from None
            if owner != account_id:
                raise BadRecipient(index, "a thread of another account")
            snap = store.get(thread_path(value))
            if snap is None:
                raise BadRecipient(index, "no such thread")
            if jid_to_e164(jid) is None and not jid.endswith("@lid"):
                raise BadRecipient(index, "not a one-to-one chat")
            tid = value
        if tid not in seen:
            seen.add(tid)
            targets.append(Target(value, tid, jid))
    return targets


def broadcast_id_for(account_id: str, uid: str, client_id: str | None) -> str:
    """Stable for a retried request that names its `clientBroadcastId`, else new."""
    if client_id is None:
        return uuid.uuid4().hex
    return hashlib.sha256(f"{account_id}|{uid}|{client_id}".encode()).hexdigest()[:32]


def create_broadcast(
    store: DocumentStore,
    *,
    broadcast_id: str,
    account_id: str,
    text: str,
    template: Mapping[str, Any] | None,
    targets: Sequence[Target],
    uid: str,
    gap_s: float,
    now: datetime | None = None,
) -> tuple[dict[str, Any], bool]:
    """Write the broadcast once; returns (document, duplicate)."""
    at = now or utc_now()
    path = broadcast_path(broadcast_id)

    def run(tx: Transaction) -> tuple[dict[str, Any], bool]:
        existing = tx.get(path)
        if existing is not None:
            return dict(existing.data), True
        doc = {
            "accountId": account_id,
            "text": text,
            "template": dict(template) if template else None,
            "createdByUid": uid,
            "createdAt": at,
            "createdAtMs": to_ms(at),
            "updatedAt": at,
            "status": "running",
            "stopReason": None,
            "gapSeconds": gap_s,
            "recipients": [
                {
                    "to": t.to,
                    "threadId": t.thread_id,
                    "clientJid": t.client_jid,
                    "requestId": None,
                    "status": "pending",
                    "error": None,
                }
                for t in targets
            ],
        }
        tx.create(path, doc)
        return doc, False

    return store.transaction(run)


def counts(doc: Mapping[str, Any]) -> dict[str, int]:
    out = {s: 0 for s in ("pending", "queued", "sent", "failed", "skipped")}
    for r in doc.get("recipients") or []:
        status = r.get("status")
        if status in out:
            out[status] += 1
    return out


def update_recipient(
    store: DocumentStore,
    broadcast_id: str,
    index: int,
    patch: Mapping[str, Any],
    *,
    stop_reason: str | None = None,
) -> dict[str, Any] | None:
    """Change one recipient (and, with `stop_reason`, stop the broadcast: the ones not yet
    queued become `skipped`); the broadcast is `done` once every recipient is final."""
    path = broadcast_path(broadcast_id)

    def run(tx: Transaction) -> dict[str, Any] | None:
        snap = tx.get(path)
        if snap is None:
            return None
        recipients = [dict(r) for r in snap.data.get("recipients") or []]
        if 0 <= index < len(recipients):
            recipients[index].update(patch)
        update: dict[str, Any] = {"recipients": recipients, "updatedAt": utc_now()}
        if stop_reason is not None:
            for r in recipients:
                if r.get("status") == "pending":
                    r["status"] = "skipped"
                    r["error"] = stop_reason
            update["status"] = "stopped"
            update["stopReason"] = stop_reason
        elif all(r.get("status") in FINAL for r in recipients):
            update["status"] = "done"
        tx.update(path, update)
        return {**snap.data, **update}

    return store.transaction(run)


def ensure_thread(store: DocumentStore, account_id: str, thread_id: str, client_jid: str) -> None:
    """A phone recipient without a conversation gets one, shaped like the pipeline's."""
    path = thread_path(thread_id)

    def run(tx: Transaction) -> None:
        if tx.get(path) is not None:
            return
        now = utc_now()
        phone = jid_to_e164(client_jid)
        tx.create(
            path,
            {
                "accountId": account_id,
                "clientJid": client_jid,
                "normalizedPhone": phone,
                "phoneE164": phone,
                "displayName": phone or client_jid,
                "createdAt": now,
                "updatedAt": now,
                "profilePictureUrl": None,
                "ownerUid": None,
                "coWriterUids": [],
                "unreadCount": 0,
            },
        )

    store.transaction(run)


def queue_recipient(
    store: DocumentStore, broadcast_id: str, doc: Mapping[str, Any], index: int
) -> str:
    """The outbox item of one recipient (idempotent); returns its request id. Raises
    `shared.outbox.SendRejected` when the outbox refuses it."""
    r = doc["recipients"][index]
    account_id = str(doc["accountId"])
    ensure_thread(store, account_id, r["threadId"], r["clientJid"])
    result = enqueue_send(
        store,
        thread_id=r["threadId"],
        account_id=account_id,
        to_jid=r["clientJid"],
        text=str(doc["text"]),
        uid=BROADCAST_UID,
        client_message_id=f"bc-{broadcast_id}-{index}",
        privileged=True,  # automatic: never sets or changes ownerUid
        template=doc.get("template") or None,  # the message kind: a template on the Cloud API
    )
    return result.request_id


def expected_request_id(broadcast_id: str, thread_id_: str, index: int) -> str:
    return send_request_id(thread_id_, BROADCAST_UID, f"bc-{broadcast_id}-{index}")


def valid_broadcast_id(value: str) -> bool:
    return is_id(value) and len(value) <= 64
