"""The V3 event vocabulary: schema version, role types, statuses, payment kinds, default role
lengths, role labels, and the local time zone of event dates. Data only."""

from __future__ import annotations

from datetime import timedelta, timezone, tzinfo
from typing import Final, Literal, get_args

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
