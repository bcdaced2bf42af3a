"""Send pacing (pure, clock passed in): a per-account gap with jitter and a per-recipient cap.

WhatsApp bans numbers that send in bursts, so each account sends like a person would: one
message, then a pause of `min_gap + uniform(0, jitter)` seconds. Each account has its own
pacer (its own lane in the worker), so a busy account never delays another.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable

from session_daemon.outbox.config import OutboxConfig


class AccountPacer:
    """When the next send of one account may start (monotonic seconds)."""

    def __init__(self, config: OutboxConfig, rand: Callable[[], float] = random.random) -> None:
        self._config = config
        self._rand = rand
        self._next_at = 0.0
        self._recent: dict[str, deque[float]] = {}

    def wait_for_gap(self, now: float) -> float:
        """Seconds to wait before the next send may start (0 when it may start now)."""
        return max(0.0, self._next_at - now)

    def recipient_wait(self, to_jid: str, now: float) -> float:
        """Seconds until `to_jid` is under its cap again (0 when a send may go now)."""
        cap, window = self._config.recipient_max, self._config.recipient_window_s
        if cap <= 0 or window <= 0:
            return 0.0
        times = self._recent.get(to_jid)
        if not times:
            return 0.0
        while times and times[0] <= now - window:
            times.popleft()
        if len(times) < cap:
            return 0.0
        return times[0] + window - now

    def record_send(self, to_jid: str, now: float) -> None:
        """A send started now: schedule the next gap and count it against the recipient."""
        gap = self._config.pace_min_gap_s + self._rand() * self._config.pace_jitter_s
        self._next_at = now + gap
        if self._config.recipient_max > 0:
            self._recent.setdefault(to_jid, deque()).append(now)

    def typing_seconds(self, text: str) -> float:
        if not self._config.typing:
            return 0.0
        per_char = self._config.typing_ms_per_char / 1000.0
        return min(self._config.typing_max_s, max(0.5, len(text) * per_char))
