"""Deterministic Romanian extractor: a chat (both directions) → a draft party booking.

Pure functions only. Each field has its own module with its own linguistic rules; this module
orders the messages, runs them and decides BOOKING vs OTHER."""

from __future__ import annotations

import re
from collections.abc import Iterable

from shared.crm.heuristics.address import resolve_address
from shared.crm.heuristics.dates import resolve_date
from shared.crm.heuristics.intent import IntentEvidence, decide_intent
from shared.crm.heuristics.money import resolve_method, resolve_payment_status, resolve_price
from shared.crm.heuristics.people import (
    resolve_child_age,
    resolve_child_name,
    resolve_num_children,
)
from shared.crm.heuristics.services import booked_check, resolve_roles
from shared.crm.heuristics.text import readable
from shared.crm.heuristics.times import resolve_time
from shared.crm.types import ChatMessage, DraftFields, PaymentDraft

HEURISTIC_VERSION = "heuristic-ro-1"

_PLACEHOLDER = re.compile(r"^\s*<[^>]*>\s*$")


def usable_messages(messages: Iterable[ChatMessage]) -> list[ChatMessage]:
    """Messages with text, ordered by their real time (ties keep input order)."""
    kept = [m for m in messages if m.text and m.text.strip() and not _PLACEHOLDER.match(m.text)]
    return sorted(kept, key=lambda m: m.ts)


def extract(messages: Iterable[ChatMessage]) -> DraftFields:
    chat = [
        ChatMessage(m.id, m.direction, readable(m.text), m.ts) for m in usable_messages(messages)
    ]
    date_decision = resolve_date(chat)
    roles = resolve_roles(chat)
    start_time = resolve_time(chat, evening_event=any(r.roleType == "URSITOARE" for r in roles))
    address = resolve_address(chat)
    child_name = resolve_child_name(chat)
    child_age = resolve_child_age(chat, child_name)
    num_children = resolve_num_children(chat)
    price = resolve_price(chat, booked_check(roles, chat))
    status = resolve_payment_status(chat, price.amount)
    evidence = IntentEvidence(
        explicit_date=date_decision.value is not None and not date_decision.weak,
        weekday_date=date_decision.weak,
        address=address is not None,
        time=start_time is not None,
        roles=bool(roles),
        amount=price.amount is not None,
        child=child_name is not None or child_age is not None,
    )
    intent = decide_intent(chat, evidence)
    fields = DraftFields(
        intent="BOOKING" if intent.booking else "OTHER",
        date=date_decision.value.strftime("%d-%m-%Y") if date_decision.value else None,
        startTime=start_time,
        address=address,
        childName=child_name,
        childAge=child_age,
        numChildren=num_children,
        payment=PaymentDraft(
            amount=price.amount,
            status=status,
            currency=price.currency if price.amount is not None else None,
            method=resolve_method(chat),
        ),
        roles=roles,
    )
    found = sum(
        x is not None and x != []
        for x in (fields.date, start_time, address, child_name, child_age, price.amount, roles)
    )
    if intent.booking:
        fields.confidence = round(min(0.95, 0.3 + 0.09 * found), 2)
        fields.reasons = [date_decision.reason, price.reason]
    else:
        fields.confidence = round(min(0.95, 0.6 + 0.1 * len(intent.reasons)), 2)
        fields.reasons = intent.reasons
    return fields


__all__ = ["HEURISTIC_VERSION", "extract", "usable_messages"]
