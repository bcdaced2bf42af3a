"""Payment of an event: status and method synonyms, and normalization of the payment map."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from shared.events.values import fold, parse_number, rename_fields

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
    source = rename_fields(raw, _PAYMENT_FIELD_ALIASES) if isinstance(raw, Mapping) else {}
    payment = dict(source)
    payment["status"] = canonical_payment_status(source.get("status")) or "UNPAID"
    payment["method"] = canonical_payment_method(source.get("method"))
    amount = parse_number(source.get("amount"))
    payment["amount"] = amount if amount is not None else 0
    if "currency" in payment and not payment["currency"]:
        del payment["currency"]
    return payment
