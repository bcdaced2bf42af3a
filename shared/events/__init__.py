"""V3 party events (``evenimente/{eventId}``): normalization and accessors. Pure, no I/O.

Old documents use Romanian field names (``data``, ``adresa``, ``incasare {stare, metoda, suma}``,
``roluriPeSlot`` …) and the app writes both schema versions, so everything that reads an event
goes through :func:`normalize_event` or the accessors at the bottom (``event_date``,
``event_amount`` …), which accept either shape. Dates stay ``DD-MM-YYYY`` strings in documents
(the app depends on it) but are compared only as real dates: :func:`event_sort_key`.

The package's names are its public surface; the modules: `vocabulary` (types, roles, labels,
time zone), `values` (text, numbers, dates, times), `roles` (slot keys and roles), `payment`,
`normalize` (`normalize_event`), `accessors` (read either shape).
"""

from shared.events.accessors import (
    event_amount,
    event_date,
    event_phone,
    event_short_id,
    event_sort_key,
    event_start_datetime,
    event_status,
    is_archived,
)
from shared.events.normalize import (
    normalize_event,
)
from shared.events.payment import (
    canonical_payment_method,
    canonical_payment_status,
    normalize_payment,
)
from shared.events.roles import (
    canonical_role_type,
    normalize_role,
    parse_slot_key,
    roles_by_slot,
    slot_key,
)
from shared.events.values import (
    fold,
    format_event_date,
    normalize_time,
    parse_event_date,
    parse_number,
)
from shared.events.vocabulary import (
    DEFAULT_DURATIONS,
    EVENT_SCHEMA_VERSION,
    LOCAL_TZ,
    PAYMENT_METHODS,
    PAYMENT_STATUSES,
    ROLE_LABELS,
    ROLE_STATUSES,
    ROLE_TYPES,
    PaymentMethod,
    PaymentStatus,
    RoleStatus,
    RoleType,
)

__all__ = [
    "DEFAULT_DURATIONS",
    "EVENT_SCHEMA_VERSION",
    "LOCAL_TZ",
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
