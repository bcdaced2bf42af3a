"""Prometheus metrics: a registry per app (tests build several apps in one process)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from session_daemon.http.context import DaemonContext
from session_daemon.http.errors import Handler
from shared.schemas import ACCOUNT_STATUSES


class _SessionCollector(Collector):
    def __init__(self, ctx: DaemonContext) -> None:
        self._ctx = ctx

    def collect(self) -> Iterator[Metric]:
        summary = self._ctx.manager.summary()
        by_status = GaugeMetricFamily(
            "whatsapp_sessions", "Sessions by account status", labels=["status"]
        )
        for status in ACCOUNT_STATUSES:
            by_status.add_metric([status], summary["byStatus"].get(status, 0))
        yield by_status
        yield GaugeMetricFamily(
            "whatsapp_pairings_in_progress",
            "QR pairings in progress",
            value=summary["pairingsInProgress"],
        )
        yield GaugeMetricFamily(
            "daemon_uptime_seconds",
            "Seconds since the daemon started",
            value=self._ctx.uptime_seconds,
        )
        if self._ctx.leases is not None:
            for key, value in self._ctx.leases.metric_values().items():
                yield GaugeMetricFamily(
                    f"leases_{key}", f"Account leases: {key.replace('_', ' ')} since start",
                    value=value,
                )  # fmt: skip
        stats = _inbound_stats(self._ctx)
        for key, value in stats.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                yield GaugeMetricFamily(
                    f"inbound_{_snake(key)}", f"Inbound pipeline statistic {key}", value=value
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


def _snake(name: str) -> str:
    out = []
    for ch in name:
        if ch.isupper():
            out.append("_" + ch.lower())
        elif ch.isalnum():
            out.append(ch)
        else:
            out.append("_")
    return "".join(out).strip("_")


class HttpMetrics:
    def __init__(self, ctx: DaemonContext) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_seconds", "HTTP request latency", ["route"], registry=self.registry
        )
        self.registry.register(_SessionCollector(ctx))

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
