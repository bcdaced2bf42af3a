"""Per-number activity a daemon saw itself: the source of the per-account Prometheus series and
of the fleet dashboard's counters.

Fed by four hooks (each may run on any thread; one lock guards everything):
- `on_created`: the inbound pipeline's messages created in the store (a client's message is
  *inbound*; one typed on the phone counts as the number's last *outbound* activity);
- `on_outbox`: the outbox worker's final outcome of an item (`sent` or `failed`);
- `on_connected`: a session reached `connected`; every one after the first is a reconnect;
- `on_auto_reply`: the auto-reply engine's outcome for one client message (a reply kind queued,
  or the gate that stopped it, `model_failed`, ...).

Counters only ever grow for the life of the process (Prometheus computes rates); the "today"
figures restart at midnight in the company's time zone. Nothing here is persisted: after a
restart the counters start again, and the last message times are read once from the store's
threads (`seed`, view.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from session_daemon.inbound.entries import CreatedMessage
from session_daemon.transport.port import Connected, TransportEvent
from shared.timeutil import from_ms, utc_now

# The company works in Romania: "messages today" follows its calendar day, not UTC's.
COMPANY_TZ = ZoneInfo("Europe/Bucharest")

# WhatsApp timestamp -> stored document, in seconds. Live messages land in well under a second;
# the long buckets show a daemon that was down or a journal replay.
LAG_BUCKETS: tuple[float, ...] = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600)
OUTCOMES = ("sent", "failed")


@dataclass
class AccountStats:
    inbound_total: int = 0
    outbound_total: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    reconnects_total: int = 0
    auto_replies: dict[str, int] = field(default_factory=dict)  # outcome -> count
    connections: int = 0  # Connected events seen (the first is not a reconnect)
    last_inbound_at: datetime | None = None
    last_outbound_at: datetime | None = None
    # the lag histogram: counts per upper bound (cumulative when exported), sum, count
    lag_counts: list[int] = field(default_factory=lambda: [0] * (len(LAG_BUCKETS) + 1))
    lag_sum: float = 0.0
    day: date | None = None
    inbound_today: int = 0
    outbound_today: int = 0
    failed_today: int = 0

    def lag_buckets(self) -> list[tuple[str, int]]:
        """Cumulative buckets as Prometheus wants them, `+Inf` last."""
        out, running = [], 0
        for bound, count in zip((*LAG_BUCKETS, float("inf")), self.lag_counts, strict=True):
            running += count
            out.append(("+Inf" if bound == float("inf") else repr(float(bound)), running))
        return out


class FleetStats:
    def __init__(self, clock: Callable[[], datetime] = utc_now) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._accounts: dict[str, AccountStats] = {}
        self._seeded: set[str] = set()

    def _get(self, account_id: str, now: datetime) -> AccountStats:
        stats = self._accounts.get(account_id)
        if stats is None:
            stats = self._accounts[account_id] = AccountStats()
        today = now.astimezone(COMPANY_TZ).date()
        if stats.day != today:
            stats.day = today
            stats.inbound_today = stats.outbound_today = stats.failed_today = 0
        return stats

    # ---- hooks -----------------------------------------------------------------------------

    def on_created(self, created: Iterable[CreatedMessage]) -> None:
        now = self._clock()
        with self._lock:
            for item in created:
                record = item.record
                if record.source != "live" or item.replayed:
                    continue  # history sync and journal replays are not today's traffic
                stats = self._get(record.account_id, now)
                sent_at = from_ms(record.ts_ms)
                if record.from_me:  # typed on the phone: the number did send something
                    stats.last_outbound_at = _latest(stats.last_outbound_at, sent_at)
                    continue
                stats.inbound_total += 1
                stats.inbound_today += 1
                stats.last_inbound_at = _latest(stats.last_inbound_at, sent_at)
                lag = max(0.0, (now - sent_at).total_seconds())
                stats.lag_sum += lag
                stats.lag_counts[_bucket(lag)] += 1

    def on_outbox(self, account_id: str, outcome: str) -> None:
        if outcome not in OUTCOMES:
            return
        now = self._clock()
        with self._lock:
            stats = self._get(account_id, now)
            stats.outbound_total[outcome] += 1
            if outcome == "sent":
                stats.outbound_today += 1
                stats.last_outbound_at = now
            else:
                stats.failed_today += 1

    def on_status_event(self, event: TransportEvent) -> None:
        """The session manager's status events: only `Connected` counts here."""
        if isinstance(event, Connected):
            self.on_connected(event.account_id)

    def on_connected(self, account_id: str) -> None:
        with self._lock:
            stats = self._get(account_id, self._clock())
            stats.connections += 1
            if stats.connections > 1:
                stats.reconnects_total += 1

    def on_auto_reply(self, account_id: str, outcome: str) -> None:
        with self._lock:
            stats = self._get(account_id, self._clock())
            stats.auto_replies[outcome] = stats.auto_replies.get(outcome, 0) + 1

    def needs_seed(self, account_id: str) -> bool:
        with self._lock:
            return account_id not in self._seeded

    def seed(self, account_id: str, last_in: datetime | None, last_out: datetime | None) -> None:
        """What the store says of the last messages, read once when this daemon starts
        counting an account: the times survive a restart or a lease moving here."""
        with self._lock:
            self._seeded.add(account_id)
            stats = self._get(account_id, self._clock())
            if last_in is not None:
                stats.last_inbound_at = _latest(stats.last_inbound_at, last_in)
            if last_out is not None:
                stats.last_outbound_at = _latest(stats.last_outbound_at, last_out)

    # ---- views -----------------------------------------------------------------------------

    def get(self, account_id: str) -> AccountStats:
        """A copy of one account's figures (zeros for an account not seen yet)."""
        with self._lock:
            stats = self._get(account_id, self._clock())
            return AccountStats(
                inbound_total=stats.inbound_total,
                outbound_total=dict(stats.outbound_total),
                reconnects_total=stats.reconnects_total,
                auto_replies=dict(stats.auto_replies),
                connections=stats.connections,
                last_inbound_at=stats.last_inbound_at,
                last_outbound_at=stats.last_outbound_at,
                lag_counts=list(stats.lag_counts),
                lag_sum=stats.lag_sum,
                day=stats.day,
                inbound_today=stats.inbound_today,
                outbound_today=stats.outbound_today,
                failed_today=stats.failed_today,
            )


def _bucket(lag: float) -> int:
    for i, bound in enumerate(LAG_BUCKETS):
        if lag <= bound:
            return i
    return len(LAG_BUCKETS)


def _latest(current: datetime | None, candidate: datetime) -> datetime:
    return candidate if current is None or candidate > current else current
