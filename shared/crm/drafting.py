"""Pure rules of the extraction: the quick check, the V3 draft, which open event a chat updates
(compared by real dates) and what an UPDATE writes. No I/O."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from shared.crm.heuristics import usable_messages
from shared.crm.heuristics.dates import DateMention
from shared.crm.heuristics.dates import mentions_in as date_mentions
from shared.crm.heuristics.text import fold
from shared.crm.types import ChatMessage, DraftFields
from shared.events import event_date, event_short_id, normalize_event, parse_event_date, slot_key
from shared.store.port import Snapshot

_MOVED = re.compile(
    r"\b(?:mut\w*|schimb\w*\s+data|aman\w*|reprogram\w*|in\s+loc\s+de|nu\s+mai\s+e\s+pe)\b"
)


def date_context(messages: Sequence[ChatMessage]) -> tuple[frozenset[date], bool]:
    """Every date the chat mentions, and whether it talks about moving the party."""
    dates: set[date] = set()
    recent: list[DateMention] = []
    for message in usable_messages(messages):
        for mention in date_mentions(message, recent):
            dates.add(mention.value)
            if mention.strength == "strong":
                recent.append(mention)
    moved = any(_MOVED.search(fold(m.text)) for m in messages)
    return frozenset(dates), moved


_BOOKING_HINT = re.compile(
    r"\d|\b(?:rezerv\w*|petrecer\w*|ziua|botez\w*|animator\w*|ursitoar\w*|mos\s+craciun|"
    r"aniversar\w*|confirm\w*|pret\w*|cost\w*)"
)


def quick_check(messages: Sequence[ChatMessage]) -> str | None:
    """Why the chat is not worth extracting, or None when it is."""
    usable = usable_messages(messages)
    if not usable:
        return "conversația nu are mesaje cu text"
    if not any(m.from_client for m in usable):
        return "clientul nu a scris nimic"
    text = " ".join(fold(m.text) for m in usable)
    if len(text) < 12 or not _BOOKING_HINT.search(text):
        return "conversația nu pomenește o dată, un preț sau o rezervare"
    return None


def draft_event(fields: DraftFields, *, phone_e164: str | None) -> dict[str, Any]:
    """V3 draft (no eventShortId yet: slots keyed `00A`…) plus `roles` as a list."""
    roles = [
        {"roleType": r.roleType, "character": r.character, "details": {"count": r.count}}
        for r in fields.roles
    ]
    raw: dict[str, Any] = {
        "date": fields.date,
        "startTime": fields.startTime,
        "address": fields.address,
        "phoneE164": phone_e164,
        "childName": fields.childName,
        "childAge": fields.childAge,
        "numChildren": fields.numChildren,
        "parentName": fields.parentName,
        "payment": fields.payment.as_dict(),
        "roles": roles,
        "isArchived": False,
    }
    draft = normalize_event(raw)
    if fields.payment.amount is None:
        draft["payment"]["amount"] = None  # unknown, not free (saved events get 0)
    draft["roles"] = [r.as_dict() for r in fields.roles]
    return draft


def _words(text: object) -> set[str]:
    return set(re.findall(r"\w+", fold(str(text or ""))))


def choose_target(
    draft: Mapping[str, Any],
    open_events: Sequence[Snapshot],
    *,
    client_request_id: str,
    thread_id: str,
    today: datetime,
    hint: str | None = None,
    mentioned_dates: frozenset[date] = frozenset(),
    moved: bool = False,
) -> tuple[Snapshot | None, str]:
    """Which open event this chat updates, compared by real dates, or None (create)."""
    for snap in open_events:
        if snap.data.get("clientRequestId") == client_request_id or (
            snap.data.get("lastExtractionRequestId") == client_request_id
        ):
            return snap, "acest mesaj a fost deja salvat în eveniment"
    if hint:
        for snap in open_events:
            if snap.id == hint:
                return snap, "evenimentul indicat de model"
    day = parse_event_date(draft.get("date")) if draft.get("date") else None
    if day is not None:
        same_day = [s for s in open_events if event_date(s.data) == day]
        if same_day:
            name = _words(draft.get("childName"))
            same_day.sort(
                key=lambda s: (
                    bool(name) and bool(name & _words(s.data.get("childName"))),
                    s.data.get("threadId") == thread_id,
                ),
                reverse=True,
            )
            return same_day[0], f"clientul are deja un eveniment pe {draft.get('date')}"
    # The party moved to another day in this same chat: the one upcoming event this thread
    # created, when the chat names its old date and talks about moving it.
    upcoming = [
        s
        for s in open_events
        if s.data.get("threadId") == thread_id
        and (old := event_date(s.data)) is not None
        and old >= today.date()
    ]
    if moved and len(upcoming) == 1 and event_date(upcoming[0].data) in mentioned_dates:
        return upcoming[0], "petrecerea din această conversație a fost mutată pe altă dată"
    return None, "niciun eveniment deschis al clientului pe această dată"


def merge_into(existing: Mapping[str, Any], draft: Mapping[str, Any]) -> dict[str, Any]:
    """Fields to write on an UPDATE: what the chat fixed, never erasing what it did not say,
    never downgrading a PAID payment, never dropping a role."""
    patch: dict[str, Any] = {}
    for name in ("date", "address", "childName", "childAge", "numChildren", "parentName"):
        value = draft.get(name)
        if value is not None and value != existing.get(name):
            patch[name] = value
    payment = dict(existing.get("payment") or {})
    new_payment = draft.get("payment") or {}
    changed = False
    if new_payment.get("amount"):
        changed |= payment.get("amount") != new_payment["amount"]
        payment["amount"] = new_payment["amount"]
    if new_payment.get("status") == "PAID" and payment.get("status") != "PAID":
        payment["status"], changed = "PAID", True
    for key in ("currency", "method"):
        if new_payment.get(key) and payment.get(key) != new_payment[key]:
            payment[key], changed = new_payment[key], True
    if changed:
        payment.setdefault("status", "UNPAID")
        patch["payment"] = payment
    roles = {k: dict(v) for k, v in (existing.get("rolesBySlot") or {}).items()}
    short_id = event_short_id(existing) or 0
    roles_changed = False
    for role in (draft.get("rolesBySlot") or {}).values():
        details = role.get("details") or {}
        match = next(
            (
                key
                for key, old in roles.items()
                if old.get("roleType") == role.get("roleType")
                and fold(str((old.get("details") or {}).get("character") or ""))
                == fold(str(details.get("character") or ""))
            ),
            None,
        )
        if match is None:
            used = {k[-1] for k in roles}
            letter = next((c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in used), None)
            if letter is None:
                continue
            key = slot_key(short_id, ord(letter) - ord("A"))
            roles[key] = {**role, "slot": key}
            roles_changed = True
            continue
        old = roles[match]
        if role.get("startTime") and old.get("startTime") != role.get("startTime"):
            old["startTime"], roles_changed = role["startTime"], True
        count = details.get("count")
        old_details = dict(old.get("details") or {})
        if count and old_details.get("count") != count:
            old_details["count"] = count
            old["details"], roles_changed = old_details, True
    if roles_changed:
        patch["rolesBySlot"] = roles
    return patch
