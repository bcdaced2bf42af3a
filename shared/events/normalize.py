"""`normalize_event`: any event document (legacy Romanian, V2 or V3) to a V3 dict."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from shared.events.payment import normalize_payment
from shared.events.roles import normalize_roles_map
from shared.events.values import (
    as_bool,
    as_short_id,
    first_of,
    format_event_date,
    normalize_time,
    parse_count,
    parse_event_date,
    rename_fields,
    to_timestamp,
)
from shared.events.vocabulary import EVENT_SCHEMA_VERSION
from shared.phones import to_e164

# Legacy (Romanian) event fields → V3 names. Several old spellings map to one V3 field.
_EVENT_FIELD_ALIASES: Final[dict[str, str]] = {
    "data": "date",
    "dataEveniment": "date",
    "adresa": "address",
    "locatie": "address",
    "sarbatoritNume": "childName",
    "numeSarbatorit": "childName",
    "sarbatoritVarsta": "childAge",
    "varstaSarbatorit": "childAge",
    "sarbatoritDataNastere": "childDob",
    "sarbatoritDataNasterii": "childDob",
    "dataNasterii": "childDob",
    "telefonClientE164": "phoneE164",
    "telefonE164": "phoneE164",
    "telefonClient": "phoneRaw",
    "telefon": "phoneRaw",
    "numeParinte": "parentName",
    "numeClient": "parentName",
    "telefonParinte": "parentPhone",
    "nrCopii": "numChildren",
    "numarCopii": "numChildren",
    "incasare": "payment",
    "plata": "payment",
    "roluriPeSlot": "rolesBySlot",
    "roluri": "roles",
    "esteArhivat": "isArchived",
    "arhivat": "isArchived",
    "arhivatLa": "archivedAt",
    "arhivatDe": "archivedBy",
    "motivArhivare": "archiveReason",
    "notatDeCod": "notedByCode",
    "codNotare": "notedByCode",
    "notatDe": "notedByCode",
    "creatDe": "createdBy",
    "creatLa": "createdAt",
    "dataCreare": "createdAt",
    "actualizatDe": "updatedBy",
    "actualizatLa": "updatedAt",
    "modificatDe": "updatedBy",
    "modificatLa": "updatedAt",
    "idScurt": "eventShortId",
    "codScurt": "eventShortId",
    "numarEveniment": "eventShortId",
    "nrEveniment": "eventShortId",
    "shortId": "eventShortId",
    "contId": "accountId",
    "idCont": "accountId",
    "idConversatie": "threadId",
    "versiuneSchema": "schemaVersion",
}
_TIMESTAMP_FIELDS: Final = ("createdAt", "updatedAt", "archivedAt")


def normalize_event(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Any event document (legacy Romanian, V2 or V3) → a V3 dict. Pure; the input is untouched.

    Legacy names are renamed (a V3 name present in the same document wins), values are
    canonicalized (``DD-MM-YYYY`` date, E.164 phone, payment, roles by slot), unknown fields are
    kept as they are (never lose data), and ``schemaVersion`` becomes 3. A value that cannot be
    understood (an unreadable date) is kept unchanged rather than dropped; the accessors return
    None for it.
    """
    if not isinstance(raw, Mapping):
        raise TypeError(f"an event must be a mapping, got {type(raw).__name__}")
    event = rename_fields(raw, _EVENT_FIELD_ALIASES)
    event["schemaVersion"] = EVENT_SCHEMA_VERSION

    short_id = as_short_id(event.get("eventShortId"))
    if short_id is not None:
        event["eventShortId"] = short_id

    for field in ("date", "childDob"):
        if field in event:
            parsed = parse_event_date(event[field])
            if parsed is not None:
                event[field] = format_event_date(parsed)

    phone_raw = event.get("phoneRaw")
    e164 = to_e164(event.get("phoneE164")) or to_e164(phone_raw)
    if e164 is not None:
        event["phoneE164"] = e164
    written = raw.get("phoneE164") or raw.get("telefonClientE164")
    if not phone_raw and isinstance(written, str) and written != e164:
        event["phoneRaw"] = written  # keep what was typed when it was not canonical
    if "parentPhone" in event:
        event["parentPhone"] = to_e164(event["parentPhone"]) or event["parentPhone"]

    for field in ("childAge", "numChildren"):
        if field in event and event[field] is not None:
            count = parse_count(event[field])
            event[field] = count if count is not None else event[field]

    event["payment"] = normalize_payment(event.get("payment"))

    roles_source = event.get("rolesBySlot")
    if not roles_source and isinstance(event.get("roles"), list | tuple):
        roles_source = event.pop("roles")  # a draft's list becomes slots
    event["rolesBySlot"] = normalize_roles_map(roles_source, short_id)
    _apply_event_defaults_to_roles(event)

    event["isArchived"] = as_bool(event.get("isArchived", False))
    for field in _TIMESTAMP_FIELDS:
        if field in event:
            event[field] = to_timestamp(event[field])
    return event


_EVENT_START_FIELDS: Final = ("startTime", "oraStart", "ora", "oraInceput")


def _apply_event_defaults_to_roles(event: dict[str, Any]) -> None:
    """Fill what a role lacks from the event: the start time a draft gives once for the whole
    party, and an animator's child (name, age, number of children). Never overwrites."""
    start_raw = first_of(event, *_EVENT_START_FIELDS)
    start = normalize_time(start_raw) if start_raw is not None else None
    if start is not None:
        for name in _EVENT_START_FIELDS[1:]:
            event.pop(name, None)
        event["startTime"] = start
    for role in event["rolesBySlot"].values():
        if start is not None and role.get("startTime") is None:
            role["startTime"] = start
        if role.get("roleType") == "ANIMATOR":
            details = role["details"]
            for field in ("childName", "childAge", "numChildren"):
                if details.get(field) is None and event.get(field) is not None:
                    details[field] = event[field]
