"""Is the linked phone still around? (pure)

WhatsApp unlinks a companion device whose phone has not been online for about 14 days. The
daemon cannot ask the phone, so it watches the phone's own activity: a message typed on the
phone (a from-me message the daemon did not send), a history-sync chunk (only the phone sends
them), and the pairing itself. The latest one is the account's `phoneLastSeenAt`; 12 days
after it the account carries a `phoneOfflineWarning` the app and the dashboard show, so that
someone opens WhatsApp on that phone before the device is unlinked. (Receipts are not counted:
the port does not say whether a receipt came from the phone or from the client.)
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from session_daemon.transport.port import (
    HistorySyncChunk,
    MessageReceived,
    Paired,
    TransportEvent,
)

WARN_AFTER: Final = timedelta(days=12)
UNLINK_AFTER: Final = timedelta(days=14)


def is_phone_activity(event: TransportEvent) -> bool:
    if isinstance(event, MessageReceived):
        return event.message.from_me
    return isinstance(event, HistorySyncChunk | Paired)


def phone_warning(last_seen: datetime | None, now: datetime) -> str | None:
    """The warning to show, or None while the phone was seen recently (or never: unknown)."""
    if last_seen is None:
        return None
    away = now - last_seen
    if away < WARN_AFTER:
        return None
    days = away.days
    left = (UNLINK_AFTER - away).days
    when = f"in about {left} day{'s' if left != 1 else ''}" if left > 0 else "any time now"
    return (
        f"The phone of this number has not been seen for {days} days; WhatsApp unlinks this "
        f"device after ~14 days without it ({when}). Open WhatsApp on the phone, connected to "
        "the internet."
    )
