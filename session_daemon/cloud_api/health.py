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

__all__ = ["CloudHealth", "cloud_account_status", "describe", "sentence"]

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


_REASONS: Final[dict[str, str]] = {
    "token_expired": "Meta refused the access token (expired or revoked); save a new token "
    "with POST /api/whatsapp/cloud-accounts (sends wait until then)",
    "permission_denied": "the access token lacks whatsapp_business_messaging or "
    "whatsapp_business_management for this number; sends wait for a token that has them",
    "number_blocked": "Meta blocked this number; see the WhatsApp Manager",
    "not_found": "Meta does not know this phone number id (or the token cannot see it)",
    "no_cloud_credentials": "no Cloud API credentials are saved for this account",
    "webhook_silent": "no webhook delivery for hours although messages were sent; check the "
    "app's callback URL and its messages subscription",
    "not_checked": "not checked with Meta yet",
    "graph_unavailable": "Meta's Graph API did not answer; checked again later",
}


def describe(reason: str | None) -> str | None:
    return None if reason is None else sentence(reason)


def sentence(reason: str) -> str:
    """The operator's sentence for a health reason, the stable code first (tools parse it)."""
    if reason.startswith("number_") and reason not in _REASONS:
        return f"{reason}: Meta reports the number as {reason[7:].upper()}; it cannot send"
    text = _REASONS.get(reason)
    return f"{reason}: {text}" if text else reason
