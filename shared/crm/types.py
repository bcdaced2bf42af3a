# ruff: noqa: N815  (field names mirror the JSON documents of the contract)
"""Plain data shared by the CRM extractors, the service and the CLI (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Direction = Literal["inbound", "outbound"]
Intent = Literal["BOOKING", "OTHER"]


@dataclass(frozen=True)
class ChatMessage:
    """One chat message: inbound = the client wrote it, outbound = staff did."""

    id: str
    direction: Direction
    text: str
    ts: datetime  # timezone-aware

    @property
    def from_client(self) -> bool:
        return self.direction == "inbound"


@dataclass
class RoleDraft:
    roleType: str
    character: str | None = None
    count: int = 1

    def as_dict(self) -> dict[str, Any]:
        return {"roleType": self.roleType, "character": self.character, "count": self.count}


@dataclass
class PaymentDraft:
    amount: float | int | None = None
    status: str = "UNPAID"
    currency: str | None = None
    method: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"amount": self.amount, "status": self.status, "method": self.method}
        if self.currency:
            out["currency"] = self.currency
        return out


@dataclass
class DraftFields:
    """What an extractor found in a conversation, before V3 normalization."""

    intent: Intent = "OTHER"
    date: str | None = None  # DD-MM-YYYY
    startTime: str | None = None  # HH:MM
    address: str | None = None
    childName: str | None = None
    childAge: int | None = None
    numChildren: int | None = None
    parentName: str | None = None
    payment: PaymentDraft = field(default_factory=PaymentDraft)
    roles: list[RoleDraft] = field(default_factory=list)
    confidence: float = 0.0
    reasons: list[str] = field(default_factory=list)
    target_event_hint: str | None = None  # an event id the model believes this updates

    def event_dict(self) -> dict[str, Any]:
        return {
            "date": self.date,
            "startTime": self.startTime,
            "address": self.address,
            "childName": self.childName,
            "childAge": self.childAge,
            "numChildren": self.numChildren,
            "parentName": self.parentName,
            "payment": self.payment.as_dict(),
            "roles": [r.as_dict() for r in self.roles],
        }
