"""Every metric family `/metrics` exports, as its `# TYPE` line names it (counters end in
`_total`). Written out by hand on purpose: the running-daemon test compares the exposition with
it, and the deploy/ test checks the alert rules and the Grafana dashboard use only these."""

from __future__ import annotations

LEASE_COUNTERS = (
    "acquired", "takeovers", "handovers_in", "handovers_out", "released", "lost", "contended",
    "tick_errors",
)  # fmt: skip
INBOUND_COUNTERS = (
    "events_submitted", "messages_journalled", "messages_stored", "duplicates_skipped",
    "messages_rehomed", "receipts_applied", "pending_receipts_applied", "receipt_errors",
    "store_writes", "thread_writes", "flushes", "store_errors", "replayed_entries", "lid_mappings",
    "quarantined_entries", "corrupt_journal_entries", "changes_applied", "placeholders_upgraded",
    "journal_commits", "skipped",
)  # fmt: skip
INBOUND_GAUGES = (
    "pending_lid_messages", "pending_lid_chats", "set_aside_entries", "journal_backlog_entries",
    "queued_entries", "inflight_entries", "last_flush_seconds",
)  # fmt: skip

EXPORTED: dict[str, str] = {
    # per number (only the daemon holding the account's lease exports these)
    "superparty_account_up": "gauge",
    "superparty_account_status": "gauge",
    "superparty_inbound_messages_total": "counter",
    "superparty_outbound_messages_total": "counter",
    "superparty_outbox_queue_depth": "gauge",
    "superparty_last_inbound_timestamp_seconds": "gauge",
    "superparty_phone_last_seen_timestamp_seconds": "gauge",
    "superparty_inbound_lag_seconds": "histogram",
    "superparty_reconnects_total": "counter",
    "superparty_auto_replies_total": "counter",
    # daemon-wide
    "superparty_sessions": "gauge",
    "superparty_pairings_in_progress": "gauge",
    "superparty_uptime_seconds": "gauge",
    "superparty_http_requests_total": "counter",
    "superparty_http_request_duration_seconds": "histogram",
    **{f"superparty_lease_{name}_total": "counter" for name in LEASE_COUNTERS},
    **{f"superparty_inbound_{name}_total": "counter" for name in INBOUND_COUNTERS},
    **{f"superparty_inbound_{name}": "gauge" for name in INBOUND_GAUGES},
}


def series_names() -> set[str]:
    """The names a query may select: each family, and a histogram's `_bucket`, `_sum`,
    `_count` series."""
    names = set(EXPORTED)
    for name, kind in EXPORTED.items():
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return names
