"""V3 party events (``evenimente/{eventId}``): normalization and accessors. Pure, no I/O.

Old documents use Romanian field names (``data``, ``adresa``, ``incasare {stare, metoda, suma}``,
``roluriPeSlot`` …) and the app writes both schema versions, so everything that reads an event
goes through :func:`normalize_event` or the accessors at the bottom (``event_date``,
``event_amount`` …), which accept either shape. Dates stay ``DD-MM-YYYY`` strings in documents
(the app depends on it) but are compared only as real dates: :func:`event_sort_key`.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from typing import Any, Final, Literal, get_args

from shared.phones import to_e164
from shared.timeutil import ensure_utc, from_ms, parse_iso

__all__ = [
    "DEFAULT_DURATIONS",
    "EVENT_SCHEMA_VERSION",
    "PAYMENT_METHODS",
    "PAYMENT_STATUSES",
    "ROLE_LABELS",
    "ROLE_STATUSES",
    "ROLE_TYPES",
    "PaymentMethod",
    "PaymentStatus",
    "RoleStatus",
    "RoleType",
    "canonical_payment_method",
    "canonical_payment_status",
    "canonical_role_type",
    "event_amount",
    "event_date",
    "event_phone",
    "event_short_id",
    "event_sort_key",
    "event_start_datetime",
    "event_status",
    "fold",
    "format_event_date",
    "is_archived",
    "normalize_event",
    "normalize_payment",
    "normalize_role",
    "normalize_time",
    "parse_event_date",
    "parse_number",
    "parse_slot_key",
    "roles_by_slot",
    "slot_key",
]

EVENT_SCHEMA_VERSION: Final = 3

RoleType = Literal[
    "ANIMATOR",
    "URSITOARE",
    "ARCADE",
    "BALLOONS",
    "COTTON_CANDY",
    "POPCORN",
    "DECORATIONS",
    "HELIUM_BALLOONS",
    "SANTA_CLAUS",
    "DRY_ICE",
]
RoleStatus = Literal["PENDING", "PENDING_PERSONAJ", "ASSIGNED", "ARCHIVED"]
PaymentStatus = Literal["PAID", "UNPAID", "CANCELLED"]
PaymentMethod = Literal["CASH", "CARD", "TRANSFER"]

ROLE_TYPES: Final[tuple[RoleType, ...]] = get_args(RoleType)
ROLE_STATUSES: Final[tuple[RoleStatus, ...]] = get_args(RoleStatus)
PAYMENT_STATUSES: Final[tuple[PaymentStatus, ...]] = get_args(PaymentStatus)
PAYMENT_METHODS: Final[tuple[PaymentMethod, ...]] = get_args(PaymentMethod)

# Minutes; roles without a customary length (balloons, decorations, dry ice) have none.
DEFAULT_DURATIONS: Final[dict[str, int]] = {
    "ANIMATOR": 120,
    "URSITOARE": 60,
    "ARCADE": 180,
    "COTTON_CANDY": 120,
    "POPCORN": 120,
    "SANTA_CLAUS": 60,
}

# What staff call each role in the app (Romanian), used when a role has no label of its own.
ROLE_LABELS: Final[dict[str, str]] = {
    "ANIMATOR": "Animator",
    "URSITOARE": "Ursitoare",
    "ARCADE": "Arcade",
    "BALLOONS": "Baloane",
    "COTTON_CANDY": "Vată de zahăr",
    "POPCORN": "Popcorn",
    "DECORATIONS": "Decorațiuni",
    "HELIUM_BALLOONS": "Baloane cu heliu",
    "SANTA_CLAUS": "Moș Crăciun",
    "DRY_ICE": "Fum greu",
}

# Event dates are local to Romania; a stored Timestamp means "that day in Bucharest".
try:
    from zoneinfo import ZoneInfo

    LOCAL_TZ: tzinfo = ZoneInfo("Europe/Bucharest")
except Exception:  # pragma: no cover - only without a tz database
    LOCAL_TZ = timezone(timedelta(hours=2), "EET")


# ---------------------------------------------------------------------------------------------
# Text helpers


def fold(text: str) -> str:
    """Lowercase, without diacritics (ș/ş, ț/ţ, ă, â, î …), punctuation as spaces, one space."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    cleaned = re.sub(r"[^0-9a-z]+", " ", bare.lower())
    return cleaned.strip()


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_NUMBER_TOKEN_RE = re.compile(r"\d[\d.,\s]*")


def _clean_number_token(token: str) -> float | None:
    token = re.sub(r"\s+", "", token).rstrip(".,")
    if "." in token and "," in token:
        decimal_sep = "." if token.rfind(".") > token.rfind(",") else ","
        thousands = "," if decimal_sep == "." else "."
        token = token.replace(thousands, "").replace(decimal_sep, ".")
    elif "." in token or "," in token:
        sep = "." if "." in token else ","
        if re.fullmatch(rf"\d{{1,3}}(\{sep}\d{{3}})+", token):
            token = token.replace(sep, "")  # 1.200 / 1,200: thousands
        elif token.count(sep) == 1:
            token = token.replace(sep, ".")  # 12,5 / 12.5: decimal
        else:
            return None
    try:
        return float(token)
    except (ValueError, OverflowError):
        return None


def parse_number(value: object) -> int | float | None:
    """A non-negative amount or count from a number or text (``"1.200 RON"``, ``"12,5"``)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:  # an int beyond any float: not an amount
            return None
    elif isinstance(value, str):
        text = value.strip()
        if not text or text.startswith("-"):
            return None
        match = _NUMBER_TOKEN_RE.search(text)
        if match is None:
            return None
        cleaned = _clean_number_token(match.group(0))
        if cleaned is None:
            return None
        number = cleaned
    else:
        return None
    if number != number or number in (float("inf"), float("-inf")) or number < 0:
        return None
    return int(number) if number.is_integer() else number


def _parse_count(value: object) -> int | None:
    """A whole count (children, years). ``"18 luni"`` (months) becomes years."""
    number = parse_number(value)
    if number is None:
        return None
    if isinstance(value, str) and re.search(r"\bluni\b|\bluna\b", fold(value)):
        return int(number) // 12
    return int(number)


# ---------------------------------------------------------------------------------------------
# Dates and times

_DMY_RE = re.compile(r"^(\d{1,2})[-./ ](\d{1,2})[-./ ](\d{2}|\d{4})$")
_YMD_RE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ].*)?$")


def parse_event_date(value: object) -> date | None:
    """``DD-MM-YYYY`` (also ``/``, ``.``, two-digit years, ISO ``YYYY-MM-DD``, a date or an
    aware datetime taken in Romanian time) → a real ``date``; None when it is no real day."""
    if isinstance(value, datetime):
        aware = ensure_utc(value) if value.tzinfo is None else value
        return aware.astimezone(LOCAL_TZ).date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        return None
    text = value.strip()
    day = month = year = 0
    if match := _DMY_RE.match(text):
        day, month, year = (int(g) for g in match.groups())
        if len(match.group(3)) == 2:
            year += 2000
    elif match := _YMD_RE.match(text):
        year, month, day = (int(g) for g in match.groups())
    else:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def format_event_date(value: date) -> str:
    """A date as the app stores it: ``DD-MM-YYYY``."""
    if isinstance(value, datetime):
        parsed = parse_event_date(value)
        assert parsed is not None
        value = parsed
    return f"{value.day:02d}-{value.month:02d}-{value.year:04d}"


_TIME_RE = re.compile(r"^(\d{1,2})(?:\s*(?:[:.hH]|\s)\s*(\d{1,2}))?\s*(?:h|ore|ora)?$")


def normalize_time(value: object) -> str | None:
    """``16``, ``16.30``, ``16:5``, ``ora 16``, ``16h30`` → ``HH:MM``; None if no real time."""
    if isinstance(value, time):
        return f"{value.hour:02d}:{value.minute:02d}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value) or value != int(value):
            return None
        value = str(int(value))
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    text = re.sub(r"^(la\s+)?(ora|orele)\s+", "", text)
    match = _TIME_RE.match(text)
    if match is None:
        return None
    hour = int(match.group(1))
    minute = int(match.group(2)) if match.group(2) else 0
    if hour > 23 or minute > 59:
        return None
    if match.group(2) and len(match.group(2)) == 1 and ":" not in text:
        return None  # "16.3" is ambiguous; only "16:5" is read as 16:05
    return f"{hour:02d}:{minute:02d}"


def _to_timestamp(value: object) -> object:
    """Timestamps as aware datetimes; ms numbers and ISO strings converted; else unchanged."""
    if isinstance(value, datetime):
        return ensure_utc(value)
    # Numbers this large are milliseconds (seconds would be past the year 5000).
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 10**11:
        try:
            return from_ms(value)
        except (OverflowError, ValueError):  # past year 9999: not a timestamp, keep it
            return value
    if isinstance(value, str):
        parsed = parse_iso(value)
        return parsed if parsed is not None else value
    return value


# ---------------------------------------------------------------------------------------------
# Slot keys

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


def _rename(raw: Mapping[str, Any], aliases: Mapping[str, str]) -> dict[str, Any]:
    """Apply field aliases; a V3 name already present wins over its legacy alias."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in aliases:
            out[key] = value
    for key, value in raw.items():
        target = aliases.get(key)
        if target is not None and target not in out:
            out[target] = value
    return out


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
    role = _rename(raw, _ROLE_FIELD_ALIASES)
    raw_details = role.get("details")
    details = (
        _rename(raw_details, _DETAIL_FIELD_ALIASES) if isinstance(raw_details, Mapping) else {}
    )
    # A character written on the role itself (old documents) belongs in details.
    for key in ("character", "personaj"):
        if key in role and "character" not in details:
            details["character"] = role.pop(key)
    for key in ("childAge", "numChildren"):
        if key in details:
            count = _parse_count(details[key])
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


def _normalize_roles_map(raw: object, event_short_id: int | None) -> dict[str, Any]:
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


# ---------------------------------------------------------------------------------------------
# Payment

_PAYMENT_STATUS_SYNONYMS: Final[dict[str, str]] = {
    "paid": "PAID",
    "incasat": "PAID",
    "platit": "PAID",
    "achitat": "PAID",
    "unpaid": "UNPAID",
    "neincasat": "UNPAID",
    "neplatit": "UNPAID",
    "neachitat": "UNPAID",
    "de incasat": "UNPAID",
    "pending": "UNPAID",
    "cancelled": "CANCELLED",
    "canceled": "CANCELLED",
    "anulat": "CANCELLED",
    "anulata": "CANCELLED",
}
_PAYMENT_METHOD_SYNONYMS: Final[dict[str, str]] = {
    "cash": "CASH",
    "numerar": "CASH",
    "bani gheata": "CASH",
    "card": "CARD",
    "pos": "CARD",
    "card bancar": "CARD",
    "transfer": "TRANSFER",
    "transfer bancar": "TRANSFER",
    "op": "TRANSFER",
    "ordin de plata": "TRANSFER",
    "virament": "TRANSFER",
    "iban": "TRANSFER",
    "bank transfer": "TRANSFER",
}


def canonical_payment_status(value: object) -> str | None:
    """``INCASAT``/``NEINCASAT``/``ANULAT`` (any case, diacritics) and English → V3."""
    if not isinstance(value, str):
        return None
    return _PAYMENT_STATUS_SYNONYMS.get(fold(value).replace(" ", "")) or (
        _PAYMENT_STATUS_SYNONYMS.get(fold(value))
    )


def canonical_payment_method(value: object) -> str | None:
    """``NUMERAR``/cash, card/POS, transfer/OP → CASH, CARD, TRANSFER; else None."""
    if not isinstance(value, str):
        return None
    return _PAYMENT_METHOD_SYNONYMS.get(fold(value))


_PAYMENT_FIELD_ALIASES: Final[dict[str, str]] = {
    "stare": "status",
    "metoda": "method",
    "suma": "amount",
    "valoare": "amount",
    "moneda": "currency",
}


def normalize_payment(raw: object) -> dict[str, Any]:
    """``incasare {stare, metoda, suma}`` or ``payment {status, method, amount}`` → V3.

    A missing or unknown status reads as UNPAID (money not yet received); a missing amount as 0.
    """
    source = _rename(raw, _PAYMENT_FIELD_ALIASES) if isinstance(raw, Mapping) else {}
    payment = dict(source)
    payment["status"] = canonical_payment_status(source.get("status")) or "UNPAID"
    payment["method"] = canonical_payment_method(source.get("method"))
    amount = parse_number(source.get("amount"))
    payment["amount"] = amount if amount is not None else 0
    if "currency" in payment and not payment["currency"]:
        del payment["currency"]
    return payment


# ---------------------------------------------------------------------------------------------
# Events

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
_TRUE_WORDS: Final = frozenset({"true", "da", "yes", "1"})


def _as_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return fold(value) in _TRUE_WORDS
    if _is_number(value):
        return value != 0
    return False


def _as_short_id(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


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
    event = _rename(raw, _EVENT_FIELD_ALIASES)
    event["schemaVersion"] = EVENT_SCHEMA_VERSION

    short_id = _as_short_id(event.get("eventShortId"))
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
            count = _parse_count(event[field])
            event[field] = count if count is not None else event[field]

    event["payment"] = normalize_payment(event.get("payment"))

    roles_source = event.get("rolesBySlot")
    if not roles_source and isinstance(event.get("roles"), list | tuple):
        roles_source = event.pop("roles")  # a draft's list becomes slots
    event["rolesBySlot"] = _normalize_roles_map(roles_source, short_id)
    _apply_event_defaults_to_roles(event)

    event["isArchived"] = _as_bool(event.get("isArchived", False))
    for field in _TIMESTAMP_FIELDS:
        if field in event:
            event[field] = _to_timestamp(event[field])
    return event


_EVENT_START_FIELDS: Final = ("startTime", "oraStart", "ora", "oraInceput")


def _apply_event_defaults_to_roles(event: dict[str, Any]) -> None:
    """Fill what a role lacks from the event: the start time a draft gives once for the whole
    party, and an animator's child (name, age, number of children). Never overwrites."""
    start_raw = _first(event, *_EVENT_START_FIELDS)
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


# ---------------------------------------------------------------------------------------------
# Accessors: work on legacy and V3 documents alike, without normalizing the whole event.


def _first(event: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        value = event.get(name)
        if value is not None:
            return value
    return None


def event_date(event: Mapping[str, Any]) -> date | None:
    """The party day as a real date (``date`` or legacy ``data``); None if missing/unreadable."""
    return parse_event_date(_first(event, "date", "data", "dataEveniment"))


def event_amount(event: Mapping[str, Any]) -> int | float:
    """The event's price (``payment.amount`` or legacy ``incasare.suma``); 0 when unknown."""
    payment = _first(event, "payment", "incasare", "plata")
    if not isinstance(payment, Mapping):
        return 0
    amount = parse_number(_first(payment, "amount", "suma", "valoare"))
    return amount if amount is not None else 0


def event_status(event: Mapping[str, Any]) -> str:
    """The payment status, PAID, UNPAID or CANCELLED; UNPAID when missing or unknown."""
    payment = _first(event, "payment", "incasare", "plata")
    if not isinstance(payment, Mapping):
        return "UNPAID"
    return canonical_payment_status(_first(payment, "status", "stare")) or "UNPAID"


def event_phone(event: Mapping[str, Any]) -> str | None:
    """The client's E.164 phone (``phoneE164``, legacy ``telefonClientE164``, raw fallbacks)."""
    for name in ("phoneE164", "telefonClientE164", "telefonE164", "phoneRaw", "telefonClient"):
        e164 = to_e164(event.get(name))
        if e164 is not None:
            return e164
    return None


def is_archived(event: Mapping[str, Any]) -> bool:
    """``isArchived`` when the event has it (the app writes it, also to unarchive an event the
    old system archived), else legacy ``esteArhivat``/``arhivat``: the same precedence as
    :func:`normalize_event`."""
    for name in ("isArchived", "esteArhivat", "arhivat"):
        if name in event:
            return _as_bool(event[name])
    return False


def event_short_id(event: Mapping[str, Any]) -> int | None:
    return _as_short_id(_first(event, "eventShortId", "idScurt", "codScurt", "shortId"))


def _earliest_start(event: Mapping[str, Any]) -> str | None:
    roles = _first(event, "rolesBySlot", "roluriPeSlot")
    starts: list[str] = []
    if isinstance(roles, Mapping):
        for role in roles.values():
            if isinstance(role, Mapping):
                start = normalize_time(_first(role, "startTime", "oraStart", "ora"))
                if start is not None:
                    starts.append(start)
    return min(starts) if starts else None


def event_start_datetime(event: Mapping[str, Any]) -> datetime | None:
    """When the party starts, as an aware UTC datetime: the date at the earliest role start
    (midnight without one), Romanian local time. For ``clients.lastEventAt``."""
    day = event_date(event)
    if day is None:
        return None
    start = _earliest_start(event) or "00:00"
    hour, minute = (int(part) for part in start.split(":"))
    local = datetime.combine(day, time(hour, minute), tzinfo=LOCAL_TZ)
    return local.astimezone(UTC)


def event_sort_key(event: Mapping[str, Any]) -> tuple[int, date, str]:
    """Sort events by real date (then start time), never by the ``DD-MM-YYYY`` string.

    Undated events sort first ascending, last with ``reverse=True`` (newest first).
    """
    day = event_date(event)
    if day is None:
        return (0, date.min, "")
    return (1, day, _earliest_start(event) or "")
