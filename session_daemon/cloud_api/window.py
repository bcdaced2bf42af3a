"""The 24-hour customer-service window of the Cloud API. Pure.

A business may send free-form messages (text, media, reactions) only within 24 hours of the
client's last message to it; outside the window only an approved template goes out (and is
billed). Meta refuses a free-form send outside it with error 131047; checking first saves the
call and gives the app a clear `outside_service_window` at once, and it is never retried.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from shared.timeutil import ensure_utc

__all__ = ["WINDOW", "SendKind", "WindowState", "window_state"]

WINDOW: Final = timedelta(hours=24)
SendKind = Literal["free_form", "template"]


@dataclass(frozen=True)
class WindowState:
    open: bool
    closes_at: datetime | None  # None: the client never wrote

    def allows(self, kind: SendKind) -> bool:
        return kind == "template" or self.open


def window_state(last_inbound_at: datetime | None, now: datetime) -> WindowState:
    """`last_inbound_at`: the time of the client's newest message (not ours, not an echo)."""
    if last_inbound_at is None:
        return WindowState(False, None)
    closes = ensure_utc(last_inbound_at) + WINDOW
    return WindowState(ensure_utc(now) < closes, closes)
