"""shared.events: V3 normalization, role synonyms, slot keys, real dates, accessors."""

from __future__ import annotations

import copy
import random
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.events import (
    DEFAULT_DURATIONS,
    ROLE_TYPES,
    canonical_payment_method,
    canonical_payment_status,
    canonical_role_type,
    event_amount,
    event_date,
    event_phone,
    event_short_id,
    event_sort_key,
    event_start_datetime,
    event_status,
    format_event_date,
    is_archived,
    normalize_event,
    normalize_role,
    normalize_time,
    parse_event_date,
    parse_number,
    parse_slot_key,
    slot_key,
)

# ---------------------------------------------------------------------------------------------
# normalize_event: (raw document, expected subset of the normalized document)

NORMALIZE_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("date legacy", {"data": "07-02-2026"}, {"date": "07-02-2026"}),
    ("date unpadded", {"data": "7-2-2026"}, {"date": "07-02-2026"}),
    ("date slashes", {"data": "7/2/2026"}, {"date": "07-02-2026"}),
    ("date dots", {"data": "07.02.2026"}, {"date": "07-02-2026"}),
    ("date two-digit year", {"data": "07-02-26"}, {"date": "07-02-2026"}),
    ("date iso", {"date": "2026-02-07"}, {"date": "07-02-2026"}),
    (
        "date timestamp is a Bucharest day",
        {"data": datetime(2026, 2, 6, 22, 30, tzinfo=UTC)},
        {"date": "07-02-2026"},
    ),
    ("date junk kept", {"data": "sambata"}, {"date": "sambata"}),
    ("date impossible kept", {"data": "31-02-2026"}, {"date": "31-02-2026"}),
    ("v3 wins over legacy", {"date": "01-03-2026", "data": "02-03-2026"}, {"date": "01-03-2026"}),
    ("address", {"adresa": "Str. Lalelelor nr. 8"}, {"address": "Str. Lalelelor nr. 8"}),
    ("child name", {"sarbatoritNume": "Sofia"}, {"childName": "Sofia"}),
    ("child age number", {"sarbatoritVarsta": 5}, {"childAge": 5}),
    ("child age text", {"sarbatoritVarsta": "5 ani"}, {"childAge": 5}),
    ("child age months", {"sarbatoritVarsta": "18 luni"}, {"childAge": 1}),
    ("child dob", {"dataNasterii": "3.4.2021"}, {"childDob": "03-04-2021"}),
    (
        "phone e164 legacy",
        {"telefonClientE164": "+40722123456"},
        {"phoneE164": "+40722123456"},
    ),
    (
        "phone national in e164 field",
        {"telefonClientE164": "0722 123 456"},
        {"phoneE164": "+40722123456", "phoneRaw": "0722 123 456"},
    ),
    (
        "phone raw only",
        {"telefonClient": "0040722123456"},
        {"phoneE164": "+40722123456", "phoneRaw": "0040722123456"},
    ),
    ("parent", {"numeParinte": "Ana Pop"}, {"parentName": "Ana Pop"}),
    ("parent phone", {"telefonParinte": "0722123456"}, {"parentPhone": "+40722123456"}),
    ("children count", {"nrCopii": "12 copii"}, {"numChildren": 12}),
    ("children count alt", {"numarCopii": 15}, {"numChildren": 15}),
    (
        "payment paid cash",
        {"incasare": {"stare": "INCASAT", "metoda": "NUMERAR", "suma": 650}},
        {"payment": {"status": "PAID", "method": "CASH", "amount": 650}},
    ),
    (
        "payment unpaid",
        {"incasare": {"stare": "NEINCASAT", "suma": "1.200 RON"}},
        {"payment": {"status": "UNPAID", "method": None, "amount": 1200}},
    ),
    (
        "payment cancelled diacritics",
        {"incasare": {"stare": "anulat", "metoda": "transfer bancar", "suma": "450,50"}},
        {"payment": {"status": "CANCELLED", "method": "TRANSFER", "amount": 450.5}},
    ),
    (
        "payment încasat lowercase",
        {"incasare": {"stare": "încasat", "metoda": "card"}},
        {"payment": {"status": "PAID", "method": "CARD", "amount": 0}},
    ),
    (
        "payment v3 untouched",
        {"payment": {"status": "PAID", "method": "CARD", "amount": 900, "currency": "RON"}},
        {"payment": {"status": "PAID", "method": "CARD", "amount": 900, "currency": "RON"}},
    ),
    (
        "payment missing",
        {},
        {"payment": {"status": "UNPAID", "method": None, "amount": 0}},
    ),
    (
        "payment junk",
        {"incasare": {"stare": "poate", "metoda": "bitcoin", "suma": "mult"}},
        {"payment": {"status": "UNPAID", "method": None, "amount": 0}},
    ),
    ("archived legacy", {"esteArhivat": True}, {"isArchived": True}),
    ("archived text", {"esteArhivat": "da"}, {"isArchived": True}),
    ("not archived default", {}, {"isArchived": False}),
    ("archive fields", {"arhivatDe": "u1", "motivArhivare": "dublură"}, {"archivedBy": "u1"}),
    ("created by", {"creatDe": "uid-7"}, {"createdBy": "uid-7"}),
    (
        "created at ms",
        {"creatLa": 1_767_225_600_000},
        {"createdAt": datetime(2026, 1, 1, tzinfo=UTC)},
    ),
    (
        "created at iso",
        {"createdAt": "2026-01-01T02:00:00+02:00"},
        {"createdAt": datetime(2026, 1, 1, tzinfo=UTC)},
    ),
    ("short id string", {"eventShortId": "0042"}, {"eventShortId": 42}),
    ("noted by", {"notatDeCod": "A7"}, {"notedByCode": "A7"}),
    ("schema version set", {"schemaVersion": 2}, {"schemaVersion": 3}),
    ("unknown field kept", {"observatiiInterne": "parcare"}, {"observatiiInterne": "parcare"}),
    ("ids kept", {"accountId": "acc", "threadId": "t1"}, {"accountId": "acc", "threadId": "t1"}),
]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [case[1:] for case in NORMALIZE_CASES],
    ids=[case[0] for case in NORMALIZE_CASES],
)
def test_normalize_event(raw: dict[str, Any], expected: dict[str, Any]) -> None:
    before = copy.deepcopy(raw)
    out = normalize_event(raw)
    assert raw == before, "the input must not be modified"
    for key, value in expected.items():
        assert out[key] == value, key
    assert out["schemaVersion"] == 3
    legacy = {"data", "adresa", "sarbatoritNume", "incasare", "esteArhivat", "roluriPeSlot"}
    assert not legacy & out.keys()


def test_full_legacy_document() -> None:
    raw = {
        "data": "14-03-2026",
        "adresa": "Restaurant Casa Viilor",
        "sarbatoritNume": "Matei",
        "telefonClientE164": "+40764998139",
        "incasare": {"stare": "NEINCASAT", "suma": "1.200"},
        "eventShortId": 7,
        "roluriPeSlot": {
            "07A": {"rol": "ursitoare", "oraStart": "21:30"},
            "07B": {"rol": "fum greu", "oraStart": "21.30"},
            "07C": {"rol": "animatoare", "detalii": {"personaj": "Elsa"}},
        },
        "esteArhivat": False,
        "creatDe": "uid1",
    }
    out = normalize_event(raw)
    assert out["rolesBySlot"]["07A"] == {
        "slot": "07A",
        "roleType": "URSITOARE",
        "label": "Ursitoare",
        "startTime": "21:30",
        "durationMin": 60,
        "status": "PENDING",
        "details": {},
    }
    assert out["rolesBySlot"]["07B"]["roleType"] == "DRY_ICE"
    assert out["rolesBySlot"]["07B"]["durationMin"] is None
    assert out["rolesBySlot"]["07C"]["details"] == {"character": "Elsa", "childName": "Matei"}
    assert out["rolesBySlot"]["07C"]["status"] == "PENDING"
    assert normalize_event(out) == out, "normalizing twice changes nothing"


def test_roles_list_gets_slot_keys_and_draft_keys_move_to_real_id() -> None:
    draft = normalize_event({"roles": [{"roleType": "ANIMATOR"}, {"roleType": "POPCORN"}]})
    assert list(draft["rolesBySlot"]) == ["00A", "00B"]
    assert "roles" not in draft
    saved = normalize_event({**draft, "eventShortId": 123})
    assert list(saved["rolesBySlot"]) == ["123A", "123B"]
    assert saved["rolesBySlot"]["123B"]["slot"] == "123B"


def test_draft_start_time_and_child_flow_into_roles() -> None:
    draft = {
        "date": "07-02-2026",
        "startTime": "16",
        "childName": "Sofia",
        "childAge": 5,
        "numChildren": 12,
        "roles": [
            {"roleType": "ANIMATOR", "character": "Elsa", "count": 1},
            {"roleType": "POPCORN", "startTime": "17:00"},
        ],
    }
    out = normalize_event(draft)
    animator, popcorn = out["rolesBySlot"]["00A"], out["rolesBySlot"]["00B"]
    assert out["startTime"] == "16:00"
    assert animator["startTime"] == "16:00"
    assert popcorn["startTime"] == "17:00", "a role's own start time wins"
    assert animator["details"] == {
        "character": "Elsa",
        "childName": "Sofia",
        "childAge": 5,
        "numChildren": 12,
    }
    assert animator["count"] == 1, "unknown role fields are kept"
    assert "childName" not in popcorn["details"]
    assert normalize_event(out) == out


def test_roles_list_beside_slots_is_kept() -> None:
    out = normalize_event({"rolesBySlot": {"01A": {"roleType": "POPCORN"}}, "roles": [{"x": 1}]})
    assert out["roles"] == [{"x": 1}]
    assert list(out["rolesBySlot"]) == ["01A"]


def test_non_slot_role_keys_are_kept() -> None:
    out = normalize_event({"roluriPeSlot": {"animator": {"rol": "animator"}, "bad": "x"}})
    assert out["rolesBySlot"]["animator"]["roleType"] == "ANIMATOR"
    assert "bad" not in out["rolesBySlot"]  # not a role at all


def test_normalize_rejects_non_mapping() -> None:
    with pytest.raises(TypeError, match="mapping"):
        normalize_event(["data"])  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Roles

ROLE_SYNONYMS: list[tuple[str, str | None]] = [
    ("animator", "ANIMATOR"),
    ("Animatoare", "ANIMATOR"),
    ("animatoarea Elsa", "ANIMATOR"),
    ("personaj", "ANIMATOR"),
    ("Personaje Disney", "ANIMATOR"),
    ("mascotă", "ANIMATOR"),
    ("clovn", "ANIMATOR"),
    ("ursitoare", "URSITOARE"),
    ("Ursitoarele", "URSITOARE"),
    ("3 ursitoare cu fum greu", "URSITOARE"),
    ("arcade", "ARCADE"),
    ("jocuri", "ARCADE"),
    ("Jocuri arcade", "ARCADE"),
    ("aparate de jocuri", "ARCADE"),
    ("baloane", "BALLOONS"),
    ("baloane modelate", "BALLOONS"),
    ("balloons", "BALLOONS"),
    ("vată de zahăr", "COTTON_CANDY"),
    ("VATA DE ZAHAR", "COTTON_CANDY"),
    ("mașină de vată de zahăr", "COTTON_CANDY"),
    ("cotton candy", "COTTON_CANDY"),
    ("popcorn", "POPCORN"),
    ("Mașina de popcorn", "POPCORN"),
    ("floricele", "POPCORN"),
    ("decor", "DECORATIONS"),
    ("decorațiuni", "DECORATIONS"),
    ("Decor cu baloane", "DECORATIONS"),
    ("baloane cu heliu", "HELIUM_BALLOONS"),
    ("Baloane heliu", "HELIUM_BALLOONS"),
    ("heliu", "HELIUM_BALLOONS"),
    ("Moș Crăciun", "SANTA_CLAUS"),
    ("Mos Craciun", "SANTA_CLAUS"),
    ("Moş Crăciun", "SANTA_CLAUS"),  # cedilla ş
    ("santa", "SANTA_CLAUS"),
    ("fum greu", "DRY_ICE"),
    ("gheață carbonică", "DRY_ICE"),
    ("gheaţă carbonică", "DRY_ICE"),  # cedilla ţ
    ("dry ice", "DRY_ICE"),
    ("COTTON_CANDY", "COTTON_CANDY"),
    ("helium-balloons", "HELIUM_BALLOONS"),
    ("SANTA_CLAUS", "SANTA_CLAUS"),
    ("", None),
    ("   ", None),
    ("fotograf", None),
    ("xyz", None),
    ("123", None),
]


@pytest.mark.parametrize(("text", "expected"), ROLE_SYNONYMS)
def test_canonical_role_type(text: str, expected: str | None) -> None:
    assert canonical_role_type(text) == expected


@pytest.mark.parametrize("role_type", ROLE_TYPES)
def test_every_canonical_name_maps_to_itself(role_type: str) -> None:
    assert canonical_role_type(role_type) == role_type
    assert canonical_role_type(role_type.lower().replace("_", " ")) == role_type


def test_non_strings_have_no_role_type() -> None:
    assert canonical_role_type(None) is None
    assert canonical_role_type(7) is None


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ({"roleType": "ANIMATOR"}, "PENDING_PERSONAJ"),
        ({"roleType": "ANIMATOR", "details": {"character": "  "}}, "PENDING_PERSONAJ"),
        ({"roleType": "ANIMATOR", "details": {"character": "Elsa"}}, "PENDING"),
        ({"roleType": "ANIMATOR", "status": "PENDING_PERSONAJ", "personaj": "Elsa"}, "PENDING"),
        ({"roleType": "ANIMATOR", "status": "ASSIGNED"}, "ASSIGNED"),
        ({"roleType": "POPCORN", "stare": "alocat"}, "ASSIGNED"),
        ({"roleType": "POPCORN", "stare": "arhivat"}, "ARCHIVED"),
        ({"roleType": "POPCORN"}, "PENDING"),
        ({"roleType": "POPCORN", "status": "nonsense"}, "PENDING"),
    ],
)
def test_role_status(raw: dict[str, Any], status: str) -> None:
    assert normalize_role(raw)["status"] == status


@pytest.mark.parametrize(
    ("role_type", "minutes"),
    [
        ("ANIMATOR", 120),
        ("URSITOARE", 60),
        ("ARCADE", 180),
        ("COTTON_CANDY", 120),
        ("POPCORN", 120),
        ("SANTA_CLAUS", 60),
        ("BALLOONS", None),
        ("DRY_ICE", None),
    ],
)
def test_default_durations(role_type: str, minutes: int | None) -> None:
    assert DEFAULT_DURATIONS.get(role_type) == minutes
    assert normalize_role({"roleType": role_type})["durationMin"] == minutes


def test_explicit_duration_wins_and_legacy_role_fields_rename() -> None:
    role = normalize_role(
        {"rol": "Moș Crăciun", "durata": "30 min", "eticheta": "Moș", "nota": "barbă", "ora": 18}
    )
    assert role["roleType"] == "SANTA_CLAUS"
    assert role["durationMin"] == 30
    assert role["label"] == "Moș"
    assert role["note"] == "barbă"
    assert role["startTime"] == "18:00"


def test_animator_details_from_legacy_names() -> None:
    role = normalize_role(
        {"rol": "animator", "detalii": {"personaj": "Spider-Man", "varsta": "6 ani", "nrCopii": 15}}
    )
    assert role["details"] == {"character": "Spider-Man", "childAge": 6, "numChildren": 15}


# ---------------------------------------------------------------------------------------------
# Slot keys


@pytest.mark.parametrize(
    ("short_id", "index", "key"),
    [
        (7, 0, "07A"),
        (1, 1, "01B"),
        (0, 0, "00A"),
        (42, 25, "42Z"),
        (99, 2, "99C"),
        (100, 0, "100A"),
        (123, 1, "123B"),
        (2101, 3, "2101D"),
    ],
)
def test_slot_key(short_id: int, index: int, key: str) -> None:
    assert slot_key(short_id, index) == key
    assert parse_slot_key(key) == (short_id, index)


@pytest.mark.parametrize(
    ("short_id", "index", "error"),
    [
        (7, 26, ValueError),
        (7, -1, ValueError),
        (-1, 0, ValueError),
        ("7", 0, TypeError),
        (7, "A", TypeError),
        (True, 0, TypeError),
    ],
)
def test_slot_key_errors(short_id: Any, index: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        slot_key(short_id, index)


@pytest.mark.parametrize("junk", ["", "A", "07", "07AA", "AB1", "7-A", None, 7])
def test_parse_slot_key_junk(junk: object) -> None:
    assert parse_slot_key(junk) is None


@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=25))
def test_slot_key_round_trip(short_id: int, index: int) -> None:
    assert parse_slot_key(slot_key(short_id, index)) == (short_id, index)


# ---------------------------------------------------------------------------------------------
# Dates and times


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("07-02-2026", date(2026, 2, 7)),
        ("7-2-2026", date(2026, 2, 7)),
        ("29-02-2028", date(2028, 2, 29)),
        ("2026-02-07", date(2026, 2, 7)),
        ("2026-02-07T10:00:00Z", date(2026, 2, 7)),
        ("31-12-2025", date(2025, 12, 31)),
        ("29-02-2026", None),
        ("32-01-2026", None),
        ("00-01-2026", None),
        ("07-13-2026", None),
        ("02-07", None),
        ("mâine", None),
        ("", None),
        (None, None),
        (20260207, None),
    ],
)
def test_parse_event_date(text: object, expected: date | None) -> None:
    assert parse_event_date(text) == expected


def test_format_event_date() -> None:
    assert format_event_date(date(2026, 2, 7)) == "07-02-2026"
    assert format_event_date(date(998, 1, 1)) == "01-01-0998"


@given(st.dates(min_value=date(1000, 1, 1), max_value=date(9999, 12, 31)))
def test_date_round_trip(day: date) -> None:
    assert parse_event_date(format_event_date(day)) == day


def test_events_sort_by_real_date_not_string() -> None:
    events: list[dict[str, Any]] = [
        {"date": "15-02-2025"},
        {"data": "01-03-2026"},
        {"date": None},
        {"date": "02-01-2026"},
        {"date": "31-12-2025"},
        {"date": "rubbish"},
    ]
    random.Random(3).shuffle(events)
    newest_first = sorted(events, key=event_sort_key, reverse=True)
    dates = [event_date(e) for e in newest_first]
    assert dates[:4] == [date(2026, 3, 1), date(2026, 1, 2), date(2025, 12, 31), date(2025, 2, 15)]
    assert dates[4:] == [None, None]
    # The string order would have put "31-12-2025" first.
    assert max(e.get("date") or "" for e in events) == "rubbish"


def test_same_day_sorts_by_start_time() -> None:
    late = {"date": "07-02-2026", "rolesBySlot": {"01A": {"startTime": "18:00"}}}
    early = {"date": "07-02-2026", "rolesBySlot": {"02A": {"startTime": "09:30"}}}
    assert sorted([late, early], key=event_sort_key) == [early, late]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("16:00", "16:00"),
        ("16", "16:00"),
        ("9", "09:00"),
        ("9:5", "09:05"),
        ("16.30", "16:30"),
        ("16h30", "16:30"),
        ("ora 16", "16:00"),
        ("la ora 11:00", "11:00"),
        (16, "16:00"),
        (16.0, "16:00"),
        (16.5, None),
        (float("inf"), None),
        ("23:59", "23:59"),
        ("24:00", None),
        ("16:60", None),
        ("16.3", None),
        ("seara", None),
        ("", None),
        (None, None),
    ],
)
def test_normalize_time(raw: object, expected: str | None) -> None:
    assert normalize_time(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (650, 650),
        (650.0, 650),
        (12.5, 12.5),
        ("650", 650),
        ("650 lei", 650),
        ("1.200", 1200),
        ("1.200 RON", 1200),
        ("1,200", 1200),
        ("1 200", 1200),
        ("12,5", 12.5),
        ("1.200,50", 1200.5),
        ("1,200.50", 1200.5),
        ("cost: 900 lei", 900),
        ("-5", None),
        (-5, None),
        ("lei", None),
        (True, None),
        (None, None),
        (float("nan"), None),
        (10**400, None),
        ("9" * 400, None),
    ],
)
def test_parse_number(raw: object, expected: float | None) -> None:
    assert parse_number(raw) == expected


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("INCASAT", "PAID"),
        ("ÎNCASAT", "PAID"),
        ("NEINCASAT", "UNPAID"),
        ("neîncasat", "UNPAID"),
        ("ANULAT", "CANCELLED"),
        ("PAID", "PAID"),
        ("canceled", "CANCELLED"),
        ("x", None),
        (None, None),
    ],
)
def test_canonical_payment_status(text: object, status: str | None) -> None:
    assert canonical_payment_status(text) == status


@pytest.mark.parametrize(
    ("text", "method"),
    [("NUMERAR", "CASH"), ("cash", "CASH"), ("POS", "CARD"), ("OP", "TRANSFER"), ("x", None)],
)
def test_canonical_payment_method(text: str, method: str | None) -> None:
    assert canonical_payment_method(text) == method


# ---------------------------------------------------------------------------------------------
# Accessors on legacy and V3 documents

LEGACY = {
    "data": "14-02-2026",
    "incasare": {"stare": "INCASAT", "suma": "650"},
    "telefonClientE164": "+40722123456",
    "esteArhivat": True,
    "idScurt": "2101",
    "roluriPeSlot": {"01A": {"oraStart": "16:00"}},
}
V3 = normalize_event(LEGACY)


@pytest.mark.parametrize("event", [LEGACY, V3], ids=["legacy", "v3"])
def test_accessors(event: dict[str, Any]) -> None:
    assert event_date(event) == date(2026, 2, 14)
    assert event_amount(event) == 650
    assert event_status(event) == "PAID"
    assert event_phone(event) == "+40722123456"
    assert is_archived(event) is True
    assert event_short_id(event) == 2101
    # 16:00 in Bucharest (EET, UTC+2) in February.
    assert event_start_datetime(event) == datetime(2026, 2, 14, 14, 0, tzinfo=UTC)


def test_accessors_on_empty_event() -> None:
    assert event_date({}) is None
    assert event_amount({}) == 0
    assert event_status({}) == "UNPAID"
    assert event_phone({}) is None
    assert is_archived({}) is False
    assert event_short_id({}) is None
    assert event_start_datetime({}) is None


@pytest.mark.parametrize(
    ("event", "archived"),
    [
        ({"esteArhivat": True}, True),
        ({"arhivat": "da"}, True),
        ({"isArchived": True}, True),
        ({"isArchived": False, "esteArhivat": True}, False),  # unarchived in the app
        ({"isArchived": None, "esteArhivat": True}, False),  # the V3 name is present
        ({"isArchived": True, "esteArhivat": False}, True),
    ],
)
def test_the_v3_archive_flag_wins_over_the_legacy_one(
    event: dict[str, Any], archived: bool
) -> None:
    assert is_archived(event) is archived
    assert is_archived(normalize_event(event)) is archived


def test_accessors_on_junk_values() -> None:
    junk = {"date": 5, "payment": "paid", "phoneE164": "abc", "isArchived": "nu"}
    assert event_date(junk) is None
    assert event_amount(junk) == 0
    assert event_status(junk) == "UNPAID"
    assert event_phone(junk) is None
    assert is_archived(junk) is False


def test_summer_time_start() -> None:
    event = {"date": "09-05-2026", "rolesBySlot": {"01A": {"startTime": "11:00"}}}
    assert event_start_datetime(event) == datetime(2026, 5, 9, 8, 0, tzinfo=UTC)


@given(
    st.dictionaries(
        st.sampled_from(
            ["data", "date", "adresa", "incasare", "roluriPeSlot", "esteArhivat", "nrCopii", "x"]
        ),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.text(max_size=12),
            st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
        ),
        max_size=6,
    )
)
def test_normalize_never_crashes_and_is_idempotent(raw: dict[str, Any]) -> None:
    out = normalize_event(raw)
    assert out["schemaVersion"] == 3
    assert out["payment"]["status"] in ("PAID", "UNPAID", "CANCELLED")
    assert isinstance(out["isArchived"], bool)
    assert normalize_event(out) == out


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
_ROLE = st.dictionaries(
    st.sampled_from(
        ["rol", "roleType", "oraStart", "startTime", "durata", "stare", "detalii", "details", "x"]
    ),
    _JSON,
    max_size=5,
)


@given(
    roles=st.dictionaries(st.sampled_from(["01A", "01B", "7C", "zz", ""]), _ROLE, max_size=3),
    top=st.dictionaries(
        st.sampled_from(["startTime", "ora", "sarbatoritNume", "sarbatoritVarsta", "eventShortId"]),
        _JSON,
        max_size=4,
    ),
)
def test_normalize_survives_any_json_in_roles(roles: dict[str, Any], top: dict[str, Any]) -> None:
    out = normalize_event({**top, "roluriPeSlot": roles})
    for role in out["rolesBySlot"].values():
        assert role["roleType"] is None or role["roleType"] in ROLE_TYPES
        assert role["status"] in ("PENDING", "PENDING_PERSONAJ", "ASSIGNED", "ARCHIVED")
        assert isinstance(role["details"], dict)
    assert normalize_event(out) == out
