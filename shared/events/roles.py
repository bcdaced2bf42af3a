"""Roles of an event: slot keys (``07A``), role-type synonyms, and normalization of one role
and of a whole ``rolesBySlot`` map."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from shared.events.values import fold, normalize_time, parse_count, parse_number, rename_fields
from shared.events.vocabulary import DEFAULT_DURATIONS, ROLE_LABELS, ROLE_STATUSES, ROLE_TYPES

_SLOT_RE = re.compile(r"^(\d+)([A-Z])$")


def slot_key(event_short_id: int, index: int) -> str:
    """``slot_key(7, 0) == "07A"``; ids of 100 and more keep all their digits (``"123B"``)."""
    if isinstance(event_short_id, bool) or not isinstance(event_short_id, int):
        raise TypeError(f"event_short_id must be an int, got {event_short_id!r}")
    if isinstance(index, bool) or not isinstance(index, int):
        raise TypeError(f"slot index must be an int, got {index!r}")
    if event_short_id < 0:
        raise ValueError(f"event_short_id must be >= 0, got {event_short_id}")
    if not 0 <= index < 26:
        raise ValueError(f"slot index must be 0..25 (A..Z), got {index}")
    return f"{event_short_id:02d}{chr(ord('A') + index)}"


def parse_slot_key(key: object) -> tuple[int, int] | None:
    """``"07A"`` → ``(7, 0)``; None when it is not a slot key."""
    if not isinstance(key, str):
        return None
    match = _SLOT_RE.match(key.strip().upper())
    if match is None:
        return None
    return int(match.group(1)), ord(match.group(2)) - ord("A")


# ---------------------------------------------------------------------------------------------
# Roles

# Each pattern runs on folded text (no diacritics, lowercase). The match that starts first wins,
# then the longest, so "baloane cu heliu" is helium and "ursitoare cu fum greu" is ursitoare.
_ROLE_PATTERNS: Final[tuple[tuple[str, str], ...]] = (
    ("HELIUM_BALLOONS", r"balo\w*\s+(?:cu\s+|din\s+)?heli\w*"),
    ("HELIUM_BALLOONS", r"heli(?:u|um)\w*"),
    ("DRY_ICE", r"fum\w*\s+gre\w*"),
    ("DRY_ICE", r"gheat\w*\s+carbonic\w*"),
    ("DRY_ICE", r"dry\s+ice|fum"),
    ("COTTON_CANDY", r"vat\w*\s+de\s+zahar|vata|cotton\s+candy|candy\s+floss"),
    ("POPCORN", r"pop\s*corn\w*|floricel\w*"),
    ("SANTA_CLAUS", r"mos\w*\s+craciun\w*|santa(?:\s+claus)?|mosul|mos"),
    ("URSITOARE", r"ursitoa\w*|ursitori\w*|ursitel\w*"),
    ("ARCADE", r"arcade|jocuri\w*(?:\s+arcade)?|aparat\w*\s+(?:de\s+)?joc\w*|console?"),
    ("DECORATIONS", r"decor\w*|aranjament\w*"),
    ("BALLOONS", r"balo\w*|balon\w*|balloons?"),
    ("ANIMATOR", r"animat\w*|personaj\w*|mascot\w*|clovn\w*|characters?|entertainers?"),
)
_COMPILED_ROLE_PATTERNS = tuple((t, re.compile(rf"\b(?:{p})\b")) for t, p in _ROLE_PATTERNS)


def canonical_role_type(text: object) -> str | None:
    """One of :data:`ROLE_TYPES` for a role name in Romanian or English, any case or
    diacritics (``"Vată de zahăr"`` → ``COTTON_CANDY``); None when nothing matches."""
    if not isinstance(text, str):
        return None
    upper = text.strip().upper().replace("-", "_").replace(" ", "_")
    if upper in ROLE_TYPES:
        return upper
    folded = fold(text)
    if not folded:
        return None
    best: tuple[int, int, str] | None = None  # (start, -length, type)
    for role_type, pattern in _COMPILED_ROLE_PATTERNS:
        match = pattern.search(folded)
        if match is None:
            continue
        candidate = (match.start(), -(match.end() - match.start()), role_type)
        if best is None or candidate[:2] < best[:2]:
            best = candidate
    return best[2] if best else None


_ROLE_STATUS_SYNONYMS: Final[dict[str, str]] = {
    "pending": "PENDING",
    "in asteptare": "PENDING",
    "neasignat": "PENDING",
    "nealocat": "PENDING",
    "liber": "PENDING",
    "pending personaj": "PENDING_PERSONAJ",
    "fara personaj": "PENDING_PERSONAJ",
    "assigned": "ASSIGNED",
    "asignat": "ASSIGNED",
    "alocat": "ASSIGNED",
    "ocupat": "ASSIGNED",
    "archived": "ARCHIVED",
    "arhivat": "ARCHIVED",
    "anulat": "ARCHIVED",
}

# Legacy role fields → V3 role fields.
_ROLE_FIELD_ALIASES: Final[dict[str, str]] = {
    "rol": "roleType",
    "tipRol": "roleType",
    "tip": "roleType",
    "type": "roleType",
    "eticheta": "label",
    "denumire": "label",
    "nume": "label",
    "oraStart": "startTime",
    "oraInceput": "startTime",
    "ora": "startTime",
    "start": "startTime",
    "durata": "durationMin",
    "durataMin": "durationMin",
    "durataMinute": "durationMin",
    "duration": "durationMin",
    "stare": "status",
    "detalii": "details",
    "nota": "note",
    "notita": "note",
    "observatii": "note",
    "resurse": "resources",
    "alocatLui": "assignedTo",
    "asignatLui": "assignedTo",
    "asignatUid": "assignedTo",
    "slotKey": "slot",
}
_DETAIL_FIELD_ALIASES: Final[dict[str, str]] = {
    "personaj": "character",
    "personajul": "character",
    "numeSarbatorit": "childName",
    "sarbatoritNume": "childName",
    "sarbatorit": "childName",
    "varsta": "childAge",
    "varstaSarbatorit": "childAge",
    "sarbatoritVarsta": "childAge",
    "nrCopii": "numChildren",
    "numarCopii": "numChildren",
}


def _role_status(raw_status: object, role_type: str | None, character: object) -> str:
    status: str | None = None
    if isinstance(raw_status, str):
        upper = raw_status.strip().upper()
        status = upper if upper in ROLE_STATUSES else _ROLE_STATUS_SYNONYMS.get(fold(raw_status))
    if status in ("ASSIGNED", "ARCHIVED"):
        return status
    has_character = isinstance(character, str) and bool(character.strip())
    if role_type == "ANIMATOR" and not has_character:
        return "PENDING_PERSONAJ"
    return "PENDING"


def normalize_role(raw: Mapping[str, Any], slot: str | None = None) -> dict[str, Any]:
    """One role to V3: canonical ``roleType``, ``HH:MM`` start, default duration, status
    ``PENDING_PERSONAJ`` for an animator without a character. Unknown fields are kept."""
    role = rename_fields(raw, _ROLE_FIELD_ALIASES)
    raw_details = role.get("details")
    details = (
        rename_fields(raw_details, _DETAIL_FIELD_ALIASES)
        if isinstance(raw_details, Mapping)
        else {}
    )
    # A character written on the role itself (old documents) belongs in details.
    for key in ("character", "personaj"):
        if key in role and "character" not in details:
            details["character"] = role.pop(key)
    for key in ("childAge", "numChildren"):
        if key in details:
            count = parse_count(details[key])
            details[key] = count if count is not None else details[key]

    raw_type = role.get("roleType")
    role_type = canonical_role_type(raw_type) or canonical_role_type(role.get("label"))
    role["roleType"] = role_type
    if not role.get("label"):
        role["label"] = ROLE_LABELS.get(
            role_type or "", raw_type if isinstance(raw_type, str) else ""
        )
    if slot is not None:
        role["slot"] = slot
    start = normalize_time(role.get("startTime"))
    role["startTime"] = start if start is not None else role.get("startTime")
    duration = parse_number(role.get("durationMin"))
    if duration is None and role_type is not None:
        duration = DEFAULT_DURATIONS.get(role_type)
    role["durationMin"] = int(duration) if duration is not None else None
    role["status"] = _role_status(role.get("status"), role_type, details.get("character"))
    role["details"] = details
    return role


def roles_by_slot(roles: Iterable[Mapping[str, Any]], event_short_id: int | None) -> dict[str, Any]:
    """A list of roles → ``{slotKey: role}`` in order (``07A``, ``07B`` …).

    Without an ``eventShortId`` yet (a dry-run draft: the id is allocated only on save) the
    keys use ``00``; :func:`normalize_event` re-keys them once the id is known.
    """
    short_id = event_short_id if event_short_id is not None else 0
    out: dict[str, Any] = {}
    for index, role in enumerate(roles):
        key = slot_key(short_id, index)
        out[key] = normalize_role(role, slot=key)
    return out


def normalize_roles_map(raw: object, event_short_id: int | None) -> dict[str, Any]:
    if isinstance(raw, list | tuple):
        return roles_by_slot([r for r in raw if isinstance(r, Mapping)], event_short_id)
    if not isinstance(raw, Mapping):
        return {}
    out: dict[str, Any] = {}
    leftovers: list[tuple[str, Mapping[str, Any]]] = []
    for key, role in raw.items():
        if not isinstance(role, Mapping):
            continue
        parsed = parse_slot_key(key)
        if parsed is None:
            leftovers.append((str(key), role))
            continue
        short_id, index = parsed
        # Keys written before the id was known ("00A") move to the real id.
        if event_short_id is not None and short_id in (0, event_short_id):
            short_id = event_short_id
        new_key = slot_key(short_id, index)
        out[new_key] = normalize_role(role, slot=new_key)
    for original_key, role in leftovers:
        # A key that is not a slot key is kept (never drop a role), the role normalized.
        out[original_key] = normalize_role(role, slot=original_key)
    return out
