"""The per-number Prometheus series (`superparty_account_*` and friends).

Only the daemon that runs an account (holds its lease) exports that account's series, so a
fleet of daemons scraped together never reports one number twice; when the lease moves, the
series move with it (the new owner's counters start from zero, which `rate()` handles).
Counters come from `FleetStats` (what this daemon saw); status, queue depth and the phone's
last activity are read at scrape time (the scrape runs in a worker thread).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from session_daemon.fleet.stats import OUTCOMES
from session_daemon.fleet.view import Local, queued_by_account
from shared.paths import ACCOUNTS
from shared.schemas import ACCOUNT_STATUSES
from shared.store.port import DocumentStore, query


class AccountCollector(Collector):
    def __init__(self, store: DocumentStore, local: Callable[[], Local]) -> None:
        self._store = store
        self._local = local  # built at scrape time: the manager may be replaced in tests

    def collect(self) -> Iterator[Metric]:
        local = self._local()
        accounts = [
            snap
            for snap in self._store.query(query(ACCOUNTS))
            if snap.data.get("status") != "deleted" and local.runs_here(snap.id)
        ]
        local.seed([snap.id for snap in accounts])
        queued = queued_by_account(self._store) if accounts else {}
        up = GaugeMetricFamily(
            "superparty_account_up", "1 while the number is connected, else 0", labels=["account"]
        )
        status = GaugeMetricFamily(
            "superparty_account_status",
            "The number's session status (1 for the current one)",
            labels=["account", "status"],
        )
        inbound = CounterMetricFamily(
            "superparty_inbound_messages",
            "Live client messages stored",
            labels=["account"],
        )
        outbound = CounterMetricFamily(
            "superparty_outbound_messages",
            "Outbox items finished, by outcome (sent, failed)",
            labels=["account", "status"],
        )
        depth = GaugeMetricFamily(
            "superparty_outbox_queue_depth", "Outbox items waiting to be sent", labels=["account"]
        )
        last_in = GaugeMetricFamily(
            "superparty_last_inbound_timestamp_seconds",
            "WhatsApp time of the last client message (from the store at first, then live)",
            labels=["account"],
        )
        phone = GaugeMetricFamily(
            "superparty_phone_last_seen_timestamp_seconds",
            "Last sign of the linked phone's own activity (WhatsApp unlinks it after ~14 days)",
            labels=["account"],
        )
        lag = HistogramMetricFamily(
            "superparty_inbound_lag_seconds",
            "WhatsApp timestamp to stored document, live client messages",
            labels=["account"],
        )
        reconnects = CounterMetricFamily(
            "superparty_reconnects", "Connections after the first one", labels=["account"]
        )
        auto_replies = CounterMetricFamily(
            "superparty_auto_replies",
            "Auto-reply outcomes per client message: the reply kind queued, or why none was "
            "(a gate's reason, model_failed, duplicate, ...)",
            labels=["account", "outcome"],
        )
        for snap in accounts:
            acc = snap.id
            current = local.status_of(acc) or str(snap.data.get("status") or "")
            up.add_metric([acc], 1.0 if current == "connected" else 0.0)
            for name in ACCOUNT_STATUSES:
                if name != "deleted":
                    status.add_metric([acc, name], 1.0 if name == current else 0.0)
            stats = local.stats(acc)
            inbound.add_metric([acc], stats.inbound_total)
            for outcome in OUTCOMES:
                outbound.add_metric([acc, outcome], stats.outbound_total[outcome])
            depth.add_metric([acc], queued.get(acc, 0))
            if stats.last_inbound_at is not None:
                last_in.add_metric([acc], stats.last_inbound_at.timestamp())
            seen = _seconds(snap.data.get("phoneLastSeenAt"))
            if seen is not None:
                phone.add_metric([acc], seen)
            lag.add_metric([acc], buckets=stats.lag_buckets(), sum_value=stats.lag_sum)
            reconnects.add_metric([acc], stats.reconnects_total)
            for outcome, count in sorted(stats.auto_replies.items()):  # the outcomes seen
                auto_replies.add_metric([acc, outcome], count)
        yield from (
            up, status, inbound, outbound, depth, last_in, phone, lag, reconnects, auto_replies
        )  # fmt: skip


def _seconds(value: Any) -> float | None:
    return value.timestamp() if isinstance(value, datetime) else None
