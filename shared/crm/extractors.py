# ruff: noqa: N815  (field names mirror the JSON documents of the contract)
"""The extractor port and its two adapters: the Romanian heuristics and an OpenAI-compatible model
(which falls back to the heuristics whenever the model fails or answers nonsense)."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from shared.crm import heuristics
from shared.crm.llm import ChatModel, ModelError
from shared.crm.prompts import Prompts, render
from shared.crm.types import ChatMessage, DraftFields, PaymentDraft, RoleDraft
from shared.events import (
    canonical_payment_method,
    canonical_role_type,
    format_event_date,
    normalize_time,
    parse_event_date,
)

log = logging.getLogger(__name__)


class Extractor(Protocol):
    """Chat (both directions, any order) → draft fields. Never raises on bad input text."""

    @property
    def version(self) -> str: ...

    @property
    def model_name(self) -> str | None: ...

    def extract(
        self, messages: Sequence[ChatMessage], *, phone_e164: str | None, now: datetime
    ) -> DraftFields: ...


class HeuristicExtractor:
    version = heuristics.HEURISTIC_VERSION
    model_name = None

    def extract(
        self, messages: Sequence[ChatMessage], *, phone_e164: str | None, now: datetime
    ) -> DraftFields:
        return heuristics.extract(messages)


# ---- model output ----------------------------------------------------------------------------


class _ModelPayment(BaseModel):
    model_config = ConfigDict(extra="ignore")
    amount: float | None = None
    currency: str | None = None
    status: Literal["PAID", "UNPAID"] | None = None
    method: str | None = None


class _ModelRole(BaseModel):
    model_config = ConfigDict(extra="ignore")
    roleType: str
    character: str | None = None
    count: int | None = Field(default=None, ge=0, le=1000)


class ModelDraft(BaseModel):
    """What the model must return. Types are checked strictly; values are checked after."""

    model_config = ConfigDict(extra="ignore", strict=True)
    intent: Literal["BOOKING", "OTHER"]
    date: str | None = None
    startTime: str | None = None
    address: str | None = None
    childName: str | None = None
    childAge: int | None = Field(default=None, ge=0, le=120)
    numChildren: int | None = Field(default=None, ge=0, le=10_000)
    payment: _ModelPayment | None = None
    roles: list[_ModelRole] = Field(default_factory=list)
    confidence: float | None = Field(default=None, ge=0, le=1)
    reasons: list[str] = Field(default_factory=list)
    targetEventId: str | None = None


def _nullable(kind: str) -> dict[str, Any]:
    return {"type": [kind, "null"]}


EXTRACTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "intent",
        "date",
        "startTime",
        "address",
        "childName",
        "childAge",
        "numChildren",
        "payment",
        "roles",
        "confidence",
        "reasons",
        "targetEventId",
    ],
    "properties": {
        "intent": {"type": "string", "enum": ["BOOKING", "OTHER"]},
        "date": _nullable("string"),
        "startTime": _nullable("string"),
        "address": _nullable("string"),
        "childName": _nullable("string"),
        "childAge": _nullable("integer"),
        "numChildren": _nullable("integer"),
        "payment": {
            "type": "object",
            "additionalProperties": False,
            "required": ["amount", "currency", "status", "method"],
            "properties": {
                "amount": _nullable("number"),
                "currency": _nullable("string"),
                "status": {"type": ["string", "null"], "enum": ["PAID", "UNPAID", None]},
                "method": _nullable("string"),
            },
        },
        "roles": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["roleType", "character", "count"],
                "properties": {
                    "roleType": {"type": "string"},
                    "character": _nullable("string"),
                    "count": _nullable("integer"),
                },
            },
        },
        "confidence": _nullable("number"),
        "reasons": {"type": "array", "items": {"type": "string"}},
        "targetEventId": _nullable("string"),
    },
}


def fields_from_model(draft: ModelDraft) -> DraftFields:
    """Model output → draft fields; values that make no sense become null with a reason."""
    reasons = list(draft.reasons[:5])
    day = parse_event_date(draft.date) if draft.date else None
    if draft.date and day is None:
        reasons.append(f"model date {draft.date!r} is not a real date")
    start = normalize_time(draft.startTime) if draft.startTime else None
    roles: list[RoleDraft] = []
    for role in draft.roles:
        kind = canonical_role_type(role.roleType)
        if kind is None:
            reasons.append(f"unknown role type {role.roleType!r} dropped")
            continue
        roles.append(RoleDraft(kind, role.character or None, role.count or 1))
    payment = draft.payment or _ModelPayment()
    currency = (payment.currency or "").upper() or None
    if currency in ("LEI", "RON"):
        currency = "RON"
    elif currency in ("EUR", "EURO"):
        currency = "EUR"
    else:
        currency = "RON" if payment.amount is not None else None
    amount = payment.amount if payment.amount is None or payment.amount >= 0 else None
    return DraftFields(
        intent=draft.intent,
        date=format_event_date(day) if day else None,
        startTime=start,
        address=(draft.address or "").strip() or None,
        childName=(draft.childName or "").strip() or None,
        childAge=draft.childAge,
        numChildren=draft.numChildren,
        payment=PaymentDraft(
            amount=(int(amount) if amount is not None and float(amount).is_integer() else amount),
            status=payment.status or "UNPAID",
            currency=currency,
            method=canonical_payment_method(payment.method),
        ),
        roles=roles,
        confidence=draft.confidence if draft.confidence is not None else 0.7,
        reasons=reasons,
        target_event_hint=draft.targetEventId or None,
    )


def conversation_text(messages: Sequence[ChatMessage]) -> str:
    lines = []
    for message in heuristics.usable_messages(messages):
        who = "CLIENT" if message.from_client else "STAFF"
        lines.append(f"[{message.ts.strftime('%Y-%m-%d %H:%M (%a)')}] {who}: {message.text}")
    return "\n".join(lines)


class ModelExtractor:
    """Asks the model; on any model failure uses the heuristics and says so in `reasons`."""

    def __init__(self, model: ChatModel, prompts: Prompts | None = None) -> None:
        self._model = model
        self._prompts = prompts or Prompts()
        self._fallback = HeuristicExtractor()
        self.last_used_model = False

    @property
    def version(self) -> str:
        return f"model-{self._model.name}-prompts-{self._prompts.version}"

    @property
    def model_name(self) -> str | None:
        return self._model.name

    def extract(
        self, messages: Sequence[ChatMessage], *, phone_e164: str | None, now: datetime
    ) -> DraftFields:
        user = render(
            self._prompts.extract_user,
            {
                "conversation_text": conversation_text(messages),
                "phone_e164": phone_e164 or "",
                "now": now.strftime("%Y-%m-%d %H:%M (%A)"),
            },
        )
        try:
            draft = self._model.complete_json(
                system=self._prompts.extract_system,
                user=user,
                schema_name="party_booking",
                schema=EXTRACTION_SCHEMA,
                output=ModelDraft,
            )
            fields = fields_from_model(draft)
        except ModelError as exc:
            return self._fall_back(messages, phone_e164, now, str(exc))
        except Exception as exc:  # anything else from the SDK/transport: never fail the call
            log.exception("unexpected model failure")
            return self._fall_back(messages, phone_e164, now, type(exc).__name__)
        self.last_used_model = True
        return fields

    def _fall_back(
        self, messages: Sequence[ChatMessage], phone_e164: str | None, now: datetime, why: str
    ) -> DraftFields:
        log.warning("model extraction failed, using heuristics: %s", why)
        self.last_used_model = False
        fields = self._fallback.extract(messages, phone_e164=phone_e164, now=now)
        fields.reasons = [
            f"modelul nu a putut fi folosit ({why}); am folosit regulile",
            *fields.reasons,
        ]
        return fields


# ---- the ask model -----------------------------------------------------------------------------


class _AskOutput(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)
    answer: str
    sources: list[int] = Field(default_factory=list)


ASK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["answer", "sources"],
    "properties": {
        "answer": {"type": "string"},
        "sources": {"type": "array", "items": {"type": "integer"}},
    },
}


class ModelAsk:
    """`FreeTextModel` over a chat model."""

    def __init__(self, model: ChatModel, prompts: Prompts | None = None) -> None:
        self._model = model
        self._prompts = prompts or Prompts()

    def answer(
        self, client: Mapping[str, Any], events: list[dict[str, Any]], question: str
    ) -> tuple[str, list[Any]]:
        user = render(
            self._prompts.ask_user,
            {
                "client_json": json.dumps(client, ensure_ascii=False, default=str),
                "events_json": json.dumps(events, ensure_ascii=False, default=str),
                "question": question,
            },
        )
        out = self._model.complete_json(
            system=self._prompts.ask_system,
            user=user,
            schema_name="client_answer",
            schema=ASK_SCHEMA,
            output=_AskOutput,
        )
        return out.answer, list(out.sources)
