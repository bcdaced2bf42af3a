"""Outbox worker settings: retries, lease, pacing. Built from the environment once at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from session_daemon.config import ConfigError


class OutboxConfigError(ConfigError, ValueError):
    """A bad `WHATSAPP_OUTBOX_*` value; the daemon's CLI reports it as a configuration error."""


@dataclass(frozen=True)
class OutboxConfig:
    # retries: attempt n waits backoff in [cap/2, cap], cap = min(max, initial * 2**(n-1))
    max_attempts: int = 12
    backoff_initial_s: float = 2.0
    backoff_max_s: float = 300.0
    # lease held on a claimed item, renewed every lease/3 while the transport call runs
    lease_s: float = 60.0
    # fallback poll when no change-stream event arrives; sweep for expired leases as often
    poll_interval_s: float = 5.0
    # pacing per account: each send waits at least `min_gap` + uniform(0, jitter) after the last
    pace_min_gap_s: float = 1.5
    pace_jitter_s: float = 2.0
    # per recipient: at most `recipient_max` sends per `recipient_window_s` (0 = no cap)
    recipient_max: int = 20
    recipient_window_s: float = 60.0
    # typing presence before a send, for ~`typing_ms_per_char` per character, capped
    typing: bool = False
    typing_ms_per_char: float = 40.0
    typing_max_s: float = 4.0
    # how many queued items one scheduler pass reads, and how many one account lane holds
    fetch_batch: int = 500
    lane_capacity: int = 50
    # threads running the worker's store calls (None: 1 for SQLite, one writer anyway; else 8)
    store_threads: int | None = None
    # on stop, wait this long for in-flight sends to be recorded
    drain_timeout_s: float = 10.0

    @classmethod
    def unpaced(cls, **overrides: object) -> OutboxConfig:
        """No pacing, no recipient cap, no typing: for tests and the latency bench."""
        base: dict[str, object] = {
            "pace_min_gap_s": 0.0,
            "pace_jitter_s": 0.0,
            "recipient_max": 0,
            "typing": False,
        }
        base.update(overrides)
        return cls(**base)  # type: ignore[arg-type]

    def validate(self) -> OutboxConfig:
        if self.max_attempts < 1:
            raise OutboxConfigError("WHATSAPP_OUTBOX_MAX_ATTEMPTS must be at least 1")
        if self.lease_s <= 0 or self.poll_interval_s <= 0:
            raise OutboxConfigError("outbox lease and poll interval must be positive")
        if min(self.backoff_initial_s, self.pace_min_gap_s, self.pace_jitter_s) < 0:
            raise OutboxConfigError("outbox backoff and pacing must not be negative")
        if self.recipient_max < 0 or self.recipient_window_s < 0:
            raise OutboxConfigError("outbox recipient cap must not be negative")
        return self


_ENV: dict[str, tuple[str, type]] = {
    "WHATSAPP_OUTBOX_MAX_ATTEMPTS": ("max_attempts", int),
    "WHATSAPP_OUTBOX_BACKOFF_INITIAL_SECONDS": ("backoff_initial_s", float),
    "WHATSAPP_OUTBOX_BACKOFF_MAX_SECONDS": ("backoff_max_s", float),
    "WHATSAPP_OUTBOX_LEASE_SECONDS": ("lease_s", float),
    "WHATSAPP_OUTBOX_POLL_SECONDS": ("poll_interval_s", float),
    "WHATSAPP_OUTBOX_PACE_MIN_GAP_SECONDS": ("pace_min_gap_s", float),
    "WHATSAPP_OUTBOX_PACE_JITTER_SECONDS": ("pace_jitter_s", float),
    "WHATSAPP_OUTBOX_RECIPIENT_MAX": ("recipient_max", int),
    "WHATSAPP_OUTBOX_RECIPIENT_WINDOW_SECONDS": ("recipient_window_s", float),
    "WHATSAPP_OUTBOX_TYPING": ("typing", bool),
}


def outbox_config_from_env(env: Mapping[str, str] | None = None) -> OutboxConfig:
    """`OutboxConfig` with the `WHATSAPP_OUTBOX_*` variables applied; raises OutboxConfigError."""
    env = os.environ if env is None else env
    values: dict[str, object] = {}
    for name, (attr, kind) in _ENV.items():
        raw = env.get(name)
        if raw is None or raw.strip() == "":
            continue
        if kind is bool:
            values[attr] = raw.strip().lower() in {"1", "true", "yes", "on"}
            continue
        try:
            values[attr] = kind(raw)
        except ValueError as exc:
            raise OutboxConfigError(f"{name} must be a number, got {raw!r}") from exc
    return OutboxConfig(**values).validate()  # type: ignore[arg-type]
