"""Capped exponential backoff with full jitter (pure: the random source is a parameter)."""

from __future__ import annotations

import random
from collections.abc import Callable


def backoff_delay(
    attempt: int,
    *,
    initial: float = 1.0,
    maximum: float = 300.0,
    rand: Callable[[], float] = random.random,
) -> float:
    """Delay before retry number `attempt` (1-based): uniform in [cap/2, cap] where
    cap = min(maximum, initial * 2**(attempt-1)). Half-jitter keeps a floor so thirty sessions
    failing together spread out without retrying in a hot loop."""
    if attempt < 1:
        return 0.0
    cap = min(maximum, initial * (2 ** min(attempt - 1, 32)))
    return cap / 2 + rand() * cap / 2
