"""Prometheus metrics: a registry per app (tests build several apps in one process).

Names follow Prometheus conventions: the `superparty_` prefix, `_total` on counters, the unit in
the name (`_seconds`, `_entries`). The daemon-wide series are below; the per-number ones
(`superparty_account_*`, ...) come from `session_daemon.fleet.collector`. The README lists the
old names each of these replaced.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from session_daemon.fleet.collector import AccountCollector
from session_daemon.fleet.view import Local, seed_from_store
from session_daemon.http.context import DaemonContext
from session_daemon.http.errors import Handler
from shared.schemas import ACCOUNT_STATUSES

# `_created` series double every counter for no use here
disable_created_metrics()

# inbound pipeline statistic -> metric (counters get `_total` from the family)
INBOUND_COUNTERS = {
    "eventsSubmitted": "events_submitted",
    "messagesJournalled": "messages_journalled",
    "messagesStored": "messages_stored",
    "duplicatesSkipped": "duplicates_skipped",
    "rehomed": "messages_rehomed",
    "receiptsApplied": "receipts_applied",
    "pendingReceiptsApplied": "pending_receipts_applied",
    "receiptErrors": "receipt_errors",
    "storeWrites": "store_writes",
    "threadWrites": "thread_writes",
    "flushes": "flushes",
    "storeErrors": "store_errors",
    "replayed": "replayed_entries",
    "lidMappings": "lid_mappings",
    "quarantined": "quarantined_entries",
    "corruptJournalEntries": "corrupt_journal_entries",
    "changesApplied": "changes_applied",
    "placeholdersUpgraded": "placeholders_upgraded",
    "journalCommits": "journal_commits",
}
INBOUND_GAUGES = {
    "pendingLid": "pending_lid_messages",
    "pendingLidChats": "pending_lid_chats",
    "setAside": "set_aside_entries",
    "journalBacklog": "journal_backlog_entries",
    "queued": "queued_entries",
    "inflight": "inflight_entries",
}
INBOUND_SKIPS = {
    "group": "groupsSkipped",
    "status": "statusSkipped",
    "broadcast": "broadcastSkipped",
    "newsletter": "newsletterSkipped",
    "other": "otherSkipped",
}
LEASE_COUNTERS = (
    "acquired",
    "takeovers",
    "handovers_in",
    "handovers_out",
    "released",
    "lost",
    "contended",
    "tick_errors",
)


class _DaemonCollector(Collector):
    def __init__(self, ctx: DaemonContext) -> None:
        self._ctx = ctx

    def collect(self) -> Iterator[Metric]:
        summary = self._ctx.manager.summary()
        by_status = GaugeMetricFamily(
            "superparty_sessions", "Sessions of this daemon by account status", labels=["status"]
        )
        for status in ACCOUNT_STATUSES:
            by_status.add_metric([status], summary["byStatus"].get(status, 0))
        yield by_status
        yield GaugeMetricFamily(
            "superparty_pairings_in_progress",
            "QR pairings in progress",
            value=summary["pairingsInProgress"],
        )
        yield GaugeMetricFamily(
            "superparty_uptime_seconds",
            "Seconds since the daemon started",
            value=self._ctx.uptime_seconds,
        )
        leases = self._ctx.leases.metric_values() if self._ctx.leases is not None else {}
        for key in LEASE_COUNTERS:
            yield CounterMetricFamily(
                f"superparty_lease_{key}",
                f"Account leases: {key.replace('_', ' ')} since start",
                value=leases.get(key, 0),
            )
        yield from _inbound_families(_inbound_stats(self._ctx))


def _inbound_families(stats: dict[str, Any]) -> Iterator[Metric]:
    def number(key: str) -> float:
        value = stats.get(key, 0)
        return float(value) if isinstance(value, int | float) else 0.0

    for key, name in INBOUND_COUNTERS.items():
        yield CounterMetricFamily(
            f"superparty_inbound_{name}", f"Inbound pipeline: {key}", value=number(key)
        )
    for key, name in INBOUND_GAUGES.items():
        yield GaugeMetricFamily(
            f"superparty_inbound_{name}", f"Inbound pipeline: {key}", value=number(key)
        )
    skipped = CounterMetricFamily(
        "superparty_inbound_skipped",
        "Messages not mirrored, by reason",
        labels=["reason"],
    )
    for reason, key in INBOUND_SKIPS.items():
        skipped.add_metric([reason], number(key))
    yield skipped
    yield GaugeMetricFamily(
        "superparty_inbound_last_flush_seconds",
        "Duration of the inbound pipeline's last flush",
        value=number("lastFlushMs") / 1000,
    )


def _inbound_stats(ctx: DaemonContext) -> dict[str, Any]:
    if ctx.inbound is None:
        return {}
    try:
        stats = ctx.inbound.stats()
    except Exception:
        return {}
    if hasattr(stats, "__dataclass_fields__"):
        from dataclasses import asdict

        stats = asdict(stats)
    return stats if isinstance(stats, dict) else {}


def local_view(ctx: DaemonContext) -> Local:
    """What this daemon knows of the accounts it runs (the session manager and its leases)."""
    manager = ctx.manager

    def runs_here(account_id: str) -> bool:
        if manager.status_of(account_id) is None:
            return False
        return manager.owns is None or manager.owns(account_id)

    return Local(
        instance_id=ctx.settings.instance_id,
        status_of=manager.status_of,
        is_pairing=manager.is_pairing,
        runs_here=runs_here,
        stats=ctx.fleet.get,
        seed=lambda account_ids: seed_from_store(ctx.store, ctx.fleet, account_ids),
    )


class HttpMetrics:
    def __init__(self, ctx: DaemonContext) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "superparty_http_requests",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "superparty_http_request_duration_seconds",
            "HTTP request latency",
            ["route"],
            registry=self.registry,
        )
        self.registry.register(_DaemonCollector(ctx))
        self.registry.register(AccountCollector(ctx.store, lambda: local_view(ctx)))

    def middleware(self) -> Any:
        @web.middleware
        async def measure(request: web.Request, handler: Handler) -> web.StreamResponse:
            start = time.perf_counter()
            route = _route_name(request)
            response = await handler(request)
            self.requests.labels(request.method, route, str(response.status)).inc()
            self.latency.labels(route).observe(time.perf_counter() - start)
            return response

        return measure


def _route_name(request: web.Request) -> str:
    info = request.match_info.route.resource
    if info is None:
        return "unmatched"
    return info.canonical


inbound_stats = _inbound_stats
