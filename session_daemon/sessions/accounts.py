"""Account documents (`accounts/{accountId}`): ids, new documents, and the API view (pure)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from shared import paths
from shared.store.sentinels import SERVER_TIMESTAMP

ACCOUNTS = paths.ACCOUNTS
# fullmatch, never `$`: `$` also matches before a final newline (`wa_1\n` would pass)
_ACCOUNT_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")
# the same rule in /openapi.json (JSON Schema regexes are ECMA: `$` is the true end there)
ACCOUNT_ID_PATTERN = f"^{_ACCOUNT_ID.pattern}$"


def account_path(account_id: str) -> str:
    return paths.account_path(account_id)


def account_id_for_phone(phone_e164: str) -> str:
    """Deterministic id: adding the same number twice (the app retries) lands on one document."""
    return "wa_" + phone_e164.lstrip("+")


def is_valid_account_id(account_id: str) -> bool:
    """Account ids become file names (`<id>.db`) and document ids: letters, digits, `_`, `-`."""
    return isinstance(account_id, str) and bool(_ACCOUNT_ID.fullmatch(account_id))


def new_account_doc(name: str, phone_raw: str, phone_e164: str) -> dict[str, Any]:
    return {
        "name": name,
        "phone": phone_raw,
        "phoneE164": phone_e164,
        "status": "connecting",
        "lastError": None,
        "paired": False,
        "autoReplyEnabled": False,
        "autoReplyPrompt": "",
        "createdAt": SERVER_TIMESTAMP,
        "updatedAt": SERVER_TIMESTAMP,
        "lastBackfillAt": None,
    }


def _str_or_none(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return str(value)


def account_view(
    account_id: str,
    data: dict[str, Any],
    *,
    qr_code: str | None = None,
    pairing_code: str | None = None,
) -> dict[str, str | None]:
    """The account as the API returns it: strings or null only (CONTRACT.md section 4)."""
    return {
        "id": account_id,
        "name": _str_or_none(data.get("name")),
        "phone": _str_or_none(data.get("phone")),
        "phoneE164": _str_or_none(data.get("phoneE164")),
        "status": _str_or_none(data.get("status")),
        "lastError": _str_or_none(data.get("lastError")),
        "qrCode": qr_code,
        "pairingCode": pairing_code,
        "createdAt": _str_or_none(data.get("createdAt")),
        "updatedAt": _str_or_none(data.get("updatedAt")),
        "lastBackfillAt": _str_or_none(data.get("lastBackfillAt")),
        # the linked phone's last own activity, and the warning 12 days after it
        "phoneLastSeenAt": _str_or_none(data.get("phoneLastSeenAt")),
        "phoneOfflineWarning": _str_or_none(data.get("phoneOfflineWarning")),
    }
