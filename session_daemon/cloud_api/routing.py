"""Which account a webhook change belongs to. Pure.

The URL names an account (`/webhooks/whatsapp-cloud/{accountId}`) and the signature proves the
delivery comes from that account's Meta app. One app may deliver several numbers to one URL, so
each event is routed by its `metadata.phone_number_id`: to the URL's account when it is its
number, to another account of the *same app* (same app secret) when that one has it, and
nowhere otherwise (counted as `unknown_phone_number_id`: a secret of one app must never write
into an account of another).
"""

from __future__ import annotations

import hmac
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from session_daemon.cloud_api.model import AccountNotice, CloudEvent, WebhookBatch

__all__ = ["CloudAccountKeys", "Routed", "route_batch"]


@dataclass(frozen=True)
class CloudAccountKeys:
    """What the webhook needs of an account (from `accountSecrets`, server-only)."""

    account_id: str
    phone_number_id: str
    waba_id: str
    app_secret: str
    verify_token: str


@dataclass
class Routed:
    by_account: dict[str, list[CloudEvent]] = field(default_factory=lambda: defaultdict(list))
    unrouted: Counter[str] = field(default_factory=Counter)


def _same_app(a: CloudAccountKeys, b: CloudAccountKeys) -> bool:
    return hmac.compare_digest(a.app_secret.encode(), b.app_secret.encode())


def route_batch(
    batch: WebhookBatch,
    url_account: CloudAccountKeys,
    by_phone_number_id: Mapping[str, CloudAccountKeys],
) -> Routed:
    out = Routed()
    for event in batch.events:
        if isinstance(event, AccountNotice):
            # account-level notices name the WABA, not a number
            if event.waba_id == url_account.waba_id:
                out.by_account[url_account.account_id].append(event)
            else:
                out.unrouted["unknown_waba_id"] += 1
            continue
        pnid = event.phone_number_id
        if pnid == url_account.phone_number_id:
            out.by_account[url_account.account_id].append(event)
            continue
        other = by_phone_number_id.get(pnid)
        if other is not None and _same_app(other, url_account):
            out.by_account[other.account_id].append(event)
        else:
            out.unrouted["unknown_phone_number_id"] += 1
    return out
