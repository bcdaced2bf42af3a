"""Typed events parsed from Cloud API webhooks. Plain frozen dataclasses, no I/O.

Every event that may be stored carries its dedup key: a message by its `wamid` (Meta retries a
delivery byte for byte, and an echo or a history item may repeat a message we already have), a
status by status id + status (one message gets `sent`, `delivered`, `read`, each once).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from session_daemon.cloud_api.identity import ClientRef

__all__ = [
    "AccountNotice",
    "CloudEvent",
    "CloudMessage",
    "CloudStatus",
    "ContactUpdate",
    "GraphErrorInfo",
    "Interactive",
    "MediaRef",
    "Reaction",
    "SystemChange",
    "WebhookBatch",
]

Direction = Literal["inbound", "outbound"]
# live: a client wrote to us; echo: typed in the WhatsApp Business app (coexistence);
# history: past messages shared at coexistence onboarding
Origin = Literal["live", "echo", "history"]
StatusName = Literal["sent", "delivered", "read", "played", "failed"]


@dataclass(frozen=True, slots=True)
class MediaRef:
    kind: str  # image | video | audio | document | sticker
    media_id: str | None
    mime_type: str | None = None
    sha256_b64: str | None = None  # webhooks carry base64; GET /{media-id} answers hex
    caption: str | None = None
    filename: str | None = None
    link: str | None = None  # echoes of sends by link carry it instead of an id
    voice: bool = False
    animated: bool = False


@dataclass(frozen=True, slots=True)
class Reaction:
    message_id: str
    emoji: str | None  # None (or "") when the client removed the reaction


@dataclass(frozen=True, slots=True)
class Interactive:
    kind: str  # button_reply | list_reply | nfm_reply | button (template quick reply)
    reply_id: str | None
    title: str


@dataclass(frozen=True, slots=True)
class SystemChange:
    """`user_changed_number` (new phone, new BSUID) or `user_changed_user_id` (BSUID only)."""

    kind: str
    body: str
    new_pn_jid: str | None
    new_bsuid: str | None
    previous_bsuid: str | None


@dataclass(frozen=True, slots=True)
class GraphErrorInfo:
    code: int | None
    title: str
    message: str = ""
    details: str = ""


@dataclass(frozen=True, slots=True)
class CloudMessage:
    wamid: str
    phone_number_id: str
    waba_id: str
    client: ClientRef
    direction: Direction
    origin: Origin
    ts_ms: int
    meta_type: str  # Meta's `type`, kept as sent
    text: str = ""
    media: MediaRef | None = None
    reply_to: str | None = None  # context.id
    forwarded: bool = False
    reaction: Reaction | None = None
    interactive: Interactive | None = None
    location: dict[str, Any] | None = None
    contacts: tuple[dict[str, Any], ...] = ()
    system: SystemChange | None = None
    referral: dict[str, Any] | None = None
    errors: tuple[GraphErrorInfo, ...] = ()

    @property
    def dedup_key(self) -> str:
        return f"m:{self.wamid}"


@dataclass(frozen=True, slots=True)
class CloudStatus:
    message_id: str  # the wamid of our outbound message
    status: StatusName
    ts_ms: int
    phone_number_id: str
    waba_id: str
    recipient: ClientRef
    errors: tuple[GraphErrorInfo, ...] = ()
    conversation_id: str | None = None
    pricing_category: str | None = None
    billable: bool | None = None

    @property
    def dedup_key(self) -> str:
        return f"s:{self.message_id}:{self.status}"


@dataclass(frozen=True, slots=True)
class ContactUpdate:
    """`smb_app_state_sync`: a contact added or removed in the Business app's address book."""

    phone_number_id: str
    client: ClientRef
    name: str | None
    action: str  # add | remove
    ts_ms: int | None


@dataclass(frozen=True, slots=True)
class AccountNotice:
    """Account-level fields (`account_update`, `phone_number_quality_update`,
    `message_template_status_update`): kept raw for the account's status and the operator."""

    field: str
    waba_id: str
    value: dict[str, Any]


CloudEvent = CloudMessage | CloudStatus | ContactUpdate | AccountNotice


@dataclass
class WebhookBatch:
    """One POST: events in payload order, plus what was skipped and why (counted, not fatal)."""

    events: list[CloudEvent] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    phone_number_ids: set[str] = field(default_factory=set)

    def messages(self) -> list[CloudMessage]:
        return [e for e in self.events if isinstance(e, CloudMessage)]

    def statuses(self) -> list[CloudStatus]:
        return [e for e in self.events if isinstance(e, CloudStatus)]
