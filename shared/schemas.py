"""Pydantic v2 models of every document and API payload in CONTRACT.md.

Python attributes are snake_case; the wire and document names are camelCase (the aliases), and
``model_dump()`` writes camelCase by default. Documents allow unknown fields and keep them
(older writers, the app itself, future fields: never lose data); API requests ignore unknown
fields. Timestamps are aware datetimes and pass through untouched, so a Firestore
``DatetimeWithNanoseconds`` survives ``model_validate(doc).model_dump()``.

Errors: :func:`validate_payload` raises :class:`InvalidPayload` whose message names the fields
(``"name: must have at least 1 character; phone: not a valid phone number"``), ready for a 400
``invalid_request`` / ``invalid-argument`` answer. :func:`describe_validation_error` does the
same for any ``ValidationError``.

Size (over 600 lines, on purpose): one short model per document and payload of CONTRACT.md, side
by side so the contract reads in one place; splitting it would scatter one table.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Final, Literal, TypeVar, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic.alias_generators import to_camel

from shared import paths
from shared.events import (
    PaymentMethod,
    PaymentStatus,
    RoleStatus,
    RoleType,
    normalize_event,
    normalize_time,
    parse_event_date,
    parse_slot_key,
)
from shared.jids import parse_jid
from shared.phones import to_e164
from shared.timeutil import ensure_utc

__all__ = [
    "ACCOUNT_STATUSES",
    "Account",
    "AccountApi",
    "AccountStatus",
    "AddAccountRequest",
    "AskRequest",
    "AskResult",
    "AskSource",
    "AutoReplySettings",
    "CallableError",
    "Client",
    "ClientStats",
    "ErrorBody",
    "Event",
    "ExtractRequest",
    "ExtractResult",
    "ExtractionAudit",
    "InvalidPayload",
    "Media",
    "Message",
    "OutboxItem",
    "OutboxPayload",
    "Payment",
    "Role",
    "RoleDetails",
    "SendMedia",
    "SendRequest",
    "SendResult",
    "StaffProfile",
    "Thread",
    "WhoAmI",
    "describe_validation_error",
    "error_fields",
    "validate_payload",
]

# ---------------------------------------------------------------------------------------------
# Field types


def _aware(value: datetime) -> datetime:
    # Keep aware values as they are (same object: Firestore's subclass round-trips); a naive one
    # can only have come from our own code and means UTC.
    return (
        value if value.tzinfo is not None and value.utcoffset() is not None else ensure_utc(value)
    )


Timestamp = Annotated[datetime, AfterValidator(_aware)]
"""A Firestore Timestamp: an aware datetime (ISO strings are read, naive means UTC)."""


NonEmptyStr = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
"""A string that is not empty once surrounding blanks are removed."""


def _e164(value: object) -> object:
    if value is None:
        return None
    normalized = to_e164(value)
    if normalized is None:
        raise ValueError("not a valid phone number")
    return normalized


PhoneE164 = Annotated[str, BeforeValidator(_e164)]
"""A phone number in any common spelling, stored as E.164 (``+40722123456``)."""


def _jid(value: object) -> object:
    if not isinstance(value, str) or parse_jid(value) is None:
        raise ValueError("not a WhatsApp JID")
    return value.strip()


JidStr = Annotated[str, BeforeValidator(_jid)]


def _doc_id(value: str) -> str:
    try:
        return paths.check_id(value)
    except paths.InvalidId as exc:
        raise ValueError(exc.reason) from None


DocId = Annotated[str, AfterValidator(_doc_id)]
"""A document id: one path segment, as sent (no trimming: `T\n` and `T/messages/M` are
refused, CONTRACT.md section 2)."""


def _event_date(value: object) -> object:
    if value is None:
        return None
    if not isinstance(value, str) or parse_event_date(value) is None:
        raise ValueError("must be a real date written DD-MM-YYYY")
    day = parse_event_date(value)
    assert day is not None
    return f"{day.day:02d}-{day.month:02d}-{day.year:04d}"


EventDate = Annotated[str, BeforeValidator(_event_date)]


def _hhmm(value: object) -> object:
    if value is None:
        return None
    normalized = normalize_time(value)
    if normalized is None:
        raise ValueError("must be a time written HH:MM")
    return normalized


TimeOfDay = Annotated[str, BeforeValidator(_hhmm)]

Amount = Annotated[int | float, Field(ge=0)]

Direction = Literal["inbound", "outbound"]
MessageStatus = Literal["queued", "sent", "delivered", "read", "failed"]
OutboxStatus = Literal["queued", "processing", "sent", "failed"]
MediaType = Literal["image", "video", "audio", "document"]
StaffRole = Literal["gm", "admin", "staff"]
ExtractAction = Literal["CREATE_EVENT", "UPDATE_EVENT", "NOOP"]
ExtractionStatus = Literal["running", "success", "noop", "failed"]

# The contract's statuses plus the daemon's own (bans, errors, removed accounts). The field is
# a plain string so a status added by the daemon later never makes an account unreadable.
AccountStatus = Literal[
    "connecting",
    "qr_ready",
    "connected",
    "disconnected",
    "logged_out",
    "needs_qr",
    "temporarily_banned",
    "stream_replaced",
    "error",
    "deleted",
    "degraded",
    "connect_failed",
    "client_outdated",
    "passkey_required",
]
ACCOUNT_STATUSES: Final[tuple[AccountStatus, ...]] = get_args(AccountStatus)


# ---------------------------------------------------------------------------------------------
# Bases


class Document(BaseModel):
    """A stored document: camelCase names, unknown fields kept, assignments validated."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="allow",
        validate_assignment=True,
    )

    def to_doc(self) -> dict[str, Any]:
        """The fields that were given (validated, canonical), camelCase: ready to write."""
        return self.model_dump(exclude_unset=True)


class Payload(BaseModel):
    """An API request or response body: camelCase names; unknown request fields ignored."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="ignore",
    )


# ---------------------------------------------------------------------------------------------
# Accounts


class Account(Document):
    """``accounts/{accountId}`` (backend only; no QR or pairing code here: see CONTRACT fix)."""

    name: NonEmptyStr
    phone: str | None = None
    phone_e164: PhoneE164 | None = None
    status: str = "connecting"
    last_error: str | None = None
    created_at: Timestamp | None = None
    updated_at: Timestamp | None = None
    last_backfill_at: Timestamp | None = None
    auto_reply_enabled: bool = False
    auto_reply_prompt: str | None = None


def _str_or_none(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return None  # maps, lists, timestamps: never leak a non-string into the app's account view


StrOrNone = Annotated[str | None, BeforeValidator(_str_or_none)]


class AccountApi(Payload):
    """An account as the API returns it: ``{id, name, phone, status, qrCode, pairingCode}``,
    strings or null only (the app crashes on anything else)."""

    id: str
    name: StrOrNone = None
    phone: StrOrNone = None
    status: StrOrNone = None
    qr_code: StrOrNone = None
    pairing_code: StrOrNone = None

    @classmethod
    def from_doc(
        cls,
        account_id: str,
        doc: Mapping[str, Any],
        *,
        qr_code: object = None,
        pairing_code: object = None,
    ) -> AccountApi:
        """Build the API view from a stored account and (super-admin only) its secrets."""
        return cls.model_validate(
            {
                "id": account_id,
                "name": doc.get("name"),
                "phone": doc.get("phone") or doc.get("phoneE164"),
                "status": doc.get("status"),
                "qrCode": qr_code,
                "pairingCode": pairing_code,
            }
        )

    def without_secrets(self) -> AccountApi:
        """The staff view: no QR and no pairing code."""
        return self.model_copy(update={"qr_code": None, "pairing_code": None})


def _lower(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


class StaffProfile(Document):
    """``staffProfiles/{uid}``: its existence makes an employee."""

    role: Annotated[StaffRole, BeforeValidator(_lower)] = "staff"
    whats_app_account_ids: list[str] = Field(default_factory=list, alias="whatsAppAccountIds")


# ---------------------------------------------------------------------------------------------
# Threads and messages


class Thread(Document):
    """``threads/{accountId}__{clientJid}``."""

    account_id: NonEmptyStr
    client_jid: JidStr
    normalized_phone: str | None = None
    phone_e164: str | None = None
    display_name: str | None = None
    group_subject: str | None = None
    last_message_at: Timestamp
    last_message_at_ms: int | None = None
    last_message_text: str | None = None
    last_message_preview: str | None = None
    last_message_direction: Direction | None = None
    last_message_sender_name: str | None = None
    unread_count: int = Field(default=0, ge=0)
    profile_picture_url: str | None = None
    owner_uid: str | None = None
    co_writer_uids: list[str] = Field(default_factory=list)
    redirect_to: str | None = None
    canonical_thread_id: str | None = None
    hidden: bool = False
    archived: bool = False
    updated_at: Timestamp | None = None

    @field_validator("last_message_preview")
    @classmethod
    def _preview_is_short(cls, value: str | None) -> str | None:
        return value[:100] if value is not None else None


class Media(Document):
    type: MediaType
    url: str | None = None
    mimetype: str | None = None
    filename: str | None = None
    thumb_base64: str | None = None


class Message(Document):
    """``threads/{threadId}/messages/{messageId}``."""

    account_id: NonEmptyStr
    client_jid: JidStr
    direction: Direction
    body: str = ""
    status: MessageStatus
    ts_client: Timestamp
    ts_client_ms: int | None = None
    created_at: Timestamp | None = None
    created_at_ms: int | None = None
    ts_server: Timestamp | None = None
    message_type: str | None = None
    wa_message_id: str | None = None
    provider_message_id: str | None = None
    client_message_id: str | None = None
    sender_name: str | None = None
    media: Media | None = None


class OutboxPayload(Document):
    text: str


class OutboxItem(Document):
    """``outbox/{requestId}`` (server only)."""

    request_id: NonEmptyStr
    thread_id: NonEmptyStr
    account_id: NonEmptyStr
    to_jid: JidStr
    body: str
    payload: OutboxPayload
    status: OutboxStatus = "queued"
    attempt_count: int = Field(default=0, ge=0)
    next_attempt_at: Timestamp | None = None
    created_at: Timestamp | None = None
    created_by_uid: str | None = None
    client_message_id: str | None = None
    claimed_by: str | None = None
    lease_until: Timestamp | None = None
    last_error: str | None = None
    provider_message_id: str | None = None
    sent_at: Timestamp | None = None
    failed_at: Timestamp | None = None


# ---------------------------------------------------------------------------------------------
# Clients and events


class ClientStats(Document):
    currency: str | None = None


class Client(Document):
    """``clients/{phoneE164}`` (written by the aggregate trigger only)."""

    phone_e164: PhoneE164
    phone_raw: str | None = None
    display_name: str | None = None
    lifetime_spend_paid: Amount = 0
    lifetime_spend_all: Amount = 0
    events_count: int = Field(default=0, ge=0)
    last_event_at: Timestamp | None = None
    created_at: Timestamp | None = None
    updated_at: Timestamp | None = None
    stats: ClientStats | None = None


class RoleDetails(Document):
    character: str | None = None
    child_name: str | None = None
    child_age: Amount | None = None  # a number: the app may write 2.5 for a toddler
    num_children: int | None = Field(default=None, ge=0)


class Role(Document):
    slot: str | None = None
    role_type: RoleType | None = None
    label: str | None = None
    start_time: TimeOfDay | None = None
    duration_min: int | None = Field(default=None, ge=0)
    status: RoleStatus = "PENDING"
    details: RoleDetails = Field(default_factory=RoleDetails)
    note: str | None = None
    resources: Any = None


class Payment(Document):
    status: PaymentStatus = "UNPAID"
    method: PaymentMethod | None = None
    amount: Amount = 0
    currency: str | None = None


class Event(Document):
    """``evenimente/{eventId}``, schema V3. Use :meth:`from_any` for legacy documents."""

    schema_version: int = 3
    event_short_id: int | None = Field(default=None, ge=0)
    date: EventDate | None = None
    address: str | None = None
    phone_e164: PhoneE164 | None = None
    phone_raw: str | None = None
    child_name: str | None = None
    child_age: Amount | None = None  # a number: the app may write 2.5 for a toddler
    child_dob: str | None = None
    parent_name: str | None = None
    parent_phone: str | None = None
    num_children: int | None = Field(default=None, ge=0)
    payment: Payment = Field(default_factory=Payment)
    roles_by_slot: dict[str, Role] = Field(default_factory=dict)
    is_archived: bool = False
    archived_at: Timestamp | None = None
    archived_by: str | None = None
    archive_reason: str | None = None
    noted_by_code: str | int | None = None
    created_at: Timestamp | None = None
    created_by: str | None = None
    updated_at: Timestamp | None = None
    updated_by: str | None = None
    client_request_id: str | None = None
    account_id: str | None = None
    thread_id: str | None = None

    @field_validator("roles_by_slot")
    @classmethod
    def _slot_keys(cls, value: dict[str, Role]) -> dict[str, Role]:
        bad = [key for key in value if parse_slot_key(key) is None]
        if bad:
            shown = ", ".join(repr(key) for key in sorted(bad)[:5])
            raise ValueError(f"slot keys must look like 01A, got {shown}")
        return value

    @classmethod
    def from_any(cls, raw: Mapping[str, Any]) -> Event:
        """Validate a legacy (Romanian), V2 or V3 document after normalizing it to V3."""
        return cls.model_validate(normalize_event(raw))


class ExtractionAudit(Document):
    """``threads/{threadId}/extractions/{key}``: never left ``running`` (finishedAt set)."""

    status: ExtractionStatus
    created_at: Timestamp | None = None
    finished_at: Timestamp | None = None
    requested_by: str | None = None
    trace_id: str | None = None
    last_message_id: str | None = None
    extractor_version: str | None = None
    model: str | None = None
    message_count: int | None = Field(default=None, ge=0)
    result: dict[str, Any] | None = None
    error: str | None = None


# ---------------------------------------------------------------------------------------------
# API payloads


class AddAccountRequest(Payload):
    """``whatsappProxyAddAccount`` body."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    phone: PhoneE164


class SendMedia(Payload):
    """A file to send (Cloud API accounts): where the daemon fetches it (`url`, http or https,
    e.g. a Storage download URL), its type and, for documents, the name the client sees."""

    url: Annotated[str, Field(max_length=2048, pattern=r"^https?://\S+$")]
    mime_type: Annotated[NonEmptyStr, Field(max_length=200)]
    file_name: Annotated[str, Field(max_length=240)] | None = None


class SendRequest(Payload):
    """``whatsappProxySend`` body: the five fields required (`text` is the caption and may be
    empty when `media` is given); `replyToMessageId` quotes a message of the thread."""

    thread_id: DocId
    account_id: DocId
    to_jid: JidStr
    media: SendMedia | None = None  # before `text`: its check reads it
    text: Annotated[str, Field(max_length=65_536)]
    client_message_id: Annotated[NonEmptyStr, Field(max_length=200)]
    reply_to_message_id: DocId | None = None

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str, info: ValidationInfo) -> str:
        if not value.strip() and info.data.get("media") is None:
            raise ValueError("must not be blank")
        return value


class SendResult(Payload):
    success: bool = True
    request_id: str
    duplicate: bool
    message: str


class ExtractRequest(Payload):
    """``whatsappExtractEventFromThread`` data."""

    thread_id: DocId
    account_id: DocId
    phone_e164: PhoneE164 | None = None
    # More than 500 is read as 500 (the app may ask for "everything"); less than 1 is an error.
    last_n_messages: Annotated[int, AfterValidator(lambda n: min(n, 500))] = Field(
        default=50, ge=1, alias="lastNMessages"
    )
    dry_run: bool = True


class ExtractResult(Payload):
    action: ExtractAction
    draft_event: dict[str, Any] | None = None
    target_event_id: str | None = None
    confidence: float = Field(ge=0, le=1)
    reasons: list[str] = Field(default_factory=list)
    client_request_id: str
    trace_id: str
    cache_hit: bool = False


class AskRequest(Payload):
    """``clientCrmAsk`` data: both fields required."""

    phone_e164: PhoneE164
    question: Annotated[NonEmptyStr, Field(max_length=2_000)]


class AskSource(Payload):
    event_short_id: int | None = None
    date: str
    details: str


class AskResult(Payload):
    answer: str
    sources: list[AskSource] = Field(default_factory=list)


class ErrorBody(Payload):
    """Every HTTP error: ``{success: false, error: <stable code>, message: <human text>}``."""

    success: Literal[False] = False
    error: str
    message: str


class CallableError(Payload):
    """The inner object of a callable error: ``{"error": {"status", "message"}}``."""

    status: str
    message: str


class WhoAmI(Payload):
    uid: str
    email: str | None = None
    is_admin: bool
    is_employee: bool
    staff_profile_exists: bool
    staff_profile_role: str | None = None
    reasons: list[str] = Field(default_factory=list)  # additive: why admin / employee or not


class AutoReplySettings(Payload):
    enabled: bool = False
    prompt: str | None = None


# ---------------------------------------------------------------------------------------------
# Error messages that name the field

_FRIENDLY: Final[dict[str, str]] = {
    "missing": "is required",
    "string_too_short": "must not be empty",
    "extra_forbidden": "is not allowed",
}


def _one_line(text: str, limit: int) -> str:
    """Control characters and runs of blanks become one space; long input is cut (the message
    goes back to the client and into logs)."""
    flat = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _field_name(loc: tuple[int | str, ...]) -> str:
    return _one_line(".".join(str(part) for part in loc), 80) or "body"


def error_fields(error: ValidationError) -> list[str]:
    """The dotted names (as sent: camelCase) of the fields that failed, in order, unique."""
    names: list[str] = []
    for item in error.errors():
        name = _field_name(item["loc"])
        if name not in names:
            names.append(name)
    return names


def describe_validation_error(error: ValidationError) -> str:
    """One line naming each bad field: ``"name: is required; phone: not a valid phone number"``."""
    parts: list[str] = []
    for item in error.errors():
        name = _field_name(item["loc"])
        text = _FRIENDLY.get(item["type"]) if item["type"] == "missing" else None
        if text is None:
            text = str(item["msg"])
            text = text.removeprefix("Value error, ")
            if item["type"] == "string_too_short" and item.get("ctx", {}).get("min_length") == 1:
                text = _FRIENDLY["string_too_short"]
        parts.append(f"{name}: {_one_line(text, 200)}")
    return "; ".join(parts)


class InvalidPayload(ValueError):
    """A request body that failed validation; ``message`` names the fields."""

    def __init__(self, message: str, fields: list[str]) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields


ModelT = TypeVar("ModelT", bound=BaseModel)


def validate_payload(model: type[ModelT], data: object) -> ModelT:
    """``model.model_validate(data)``, raising :class:`InvalidPayload` with a one-line message
    naming the bad fields (also when ``data`` is not a JSON object at all)."""
    if not isinstance(data, Mapping):
        raise InvalidPayload("body: must be a JSON object", ["body"])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidPayload(describe_validation_error(exc), error_fields(exc)) from None
