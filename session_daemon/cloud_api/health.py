"""A Cloud API account's status from its token and its webhook's health. Pure.

A cloud account has no socket to watch: it is healthy when the token works for its number
(`GET /{phone-number-id}` answers), Meta reports the number usable, and webhooks keep arriving.
A number that hears nothing for `silent_after` while it has sent something recently is probably
no longer subscribed (the app's webhook URL changed, or the subscription was removed): the
operator is told, with the reason in `lastError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from shared.timeutil import ensure_utc

__all__ = ["CloudHealth", "cloud_account_status"]

SILENT_AFTER: Final = timedelta(hours=6)
# Meta's number statuses in which it can send (others: PENDING, DELETED, MIGRATED, BANNED, …)
_USABLE: Final = frozenset({"CONNECTED", "FLAGGED", "RATE_LIMITED"})


@dataclass(frozen=True)
class CloudHealth:
    status: str  # connected | disconnected | error (the account statuses the app knows)
    reason: str | None  # lastError: token_expired, number_blocked, webhook_silent, …


def cloud_account_status(
    *,
    now: datetime,
    token_error: str | None,
    number_info: Mapping[str, Any] | None,
    last_webhook_at: datetime | None,
    last_send_at: datetime | None,
    silent_after: timedelta = SILENT_AFTER,
) -> CloudHealth:
    """`token_error`: the stable code of the last failed check (`token_expired`, …), None when
    the last `GET /{phone-number-id}` answered; `number_info` its answer."""
    if token_error is not None:
        return CloudHealth("error", token_error)
    if number_info is None:
        return CloudHealth("disconnected", "not_checked")
    meta_status = str(number_info.get("status") or "CONNECTED").upper()
    if meta_status not in _USABLE:
        return CloudHealth("error", f"number_{meta_status.lower()}")
    if last_send_at is not None:
        heard = ensure_utc(last_webhook_at) if last_webhook_at is not None else None
        sent = ensure_utc(last_send_at)
        # sends get `sent` statuses within seconds: silence long after a send means no webhook
        if ensure_utc(now) - sent >= silent_after and (heard is None or heard < sent):
            return CloudHealth("connected", "webhook_silent")
    return CloudHealth("connected", None)
