"""FleetStats: what counts as inbound, outbound, a reconnect, today; the lag histogram."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from session_daemon.fleet.stats import LAG_BUCKETS, FleetStats
from session_daemon.inbound.convert import InboundRecord
from session_daemon.inbound.entries import CreatedMessage
from session_daemon.transport.port import Connected, Disconnected
from shared.timeutil import to_ms

# 21:30 UTC on 4 Dec is 23:30 in Bucharest: half an hour before the company's midnight
NOW = datetime(2026, 12, 4, 21, 30, tzinfo=UTC)


def created(
    account: str = "a", *, sent: datetime, from_me: bool = False, source: str = "live",
    replayed: bool = False,
) -> CreatedMessage:  # fmt: skip
    record = InboundRecord(
        account_id=account, wa_id="W", addr_jid="4072@s.whatsapp.net", pn_jid=None,
        from_me=from_me, ts_ms=to_ms(sent), text="x", message_type="text", push_name=None,
        media=None, source=source, received_ms=to_ms(sent),  # type: ignore[arg-type]
    )  # fmt: skip
    return CreatedMessage(record, "a__4072@s.whatsapp.net", "threads/t/messages/W", {}, replayed)


def test_live_client_messages_count_and_their_lag_is_measured() -> None:
    clock = [NOW]
    stats = FleetStats(clock=lambda: clock[0])
    stats.on_created(
        [
            created(sent=NOW - timedelta(seconds=0.3)),
            created(sent=NOW - timedelta(hours=2)),  # delivered late: the slowest bucket
            created(sent=NOW - timedelta(days=30), source="history"),  # not today's traffic
            created(sent=NOW, replayed=True),  # a journal replay after a restart
            created(sent=NOW - timedelta(seconds=5), from_me=True),  # typed on the phone
        ]
    )
    a = stats.get("a")
    assert a.inbound_total == a.inbound_today == 2
    assert a.last_inbound_at == NOW - timedelta(seconds=0.3)
    assert a.last_outbound_at == NOW - timedelta(seconds=5)
    buckets = dict(a.lag_buckets())
    assert buckets["0.5"] == 1 and buckets[repr(float(LAG_BUCKETS[-1]))] == 1
    assert buckets["+Inf"] == 2 and round(a.lag_sum, 1) == 7200.3
    assert stats.get("other").inbound_total == 0


def test_outbox_outcomes_and_the_day_rolls_over_at_the_companys_midnight() -> None:
    clock = [NOW]
    stats = FleetStats(clock=lambda: clock[0])
    stats.on_outbox("a", "sent")
    stats.on_outbox("a", "failed")
    stats.on_outbox("a", "requeued")  # not an outcome: ignored
    a = stats.get("a")
    assert a.outbound_total == {"sent": 1, "failed": 1}
    assert (a.outbound_today, a.failed_today, a.last_outbound_at) == (1, 1, NOW)
    clock[0] = NOW + timedelta(hours=1)  # 00:30 in Bucharest, still 4 Dec in UTC
    a = stats.get("a")
    assert (a.outbound_today, a.failed_today) == (0, 0)
    assert a.outbound_total == {"sent": 1, "failed": 1}  # counters never go back


def test_only_connections_after_the_first_are_reconnects() -> None:
    stats = FleetStats(clock=lambda: NOW)
    stats.on_status_event(Connected("a"))
    assert stats.get("a").reconnects_total == 0
    stats.on_status_event(Disconnected("a", "network"))
    stats.on_status_event(Connected("a"))
    stats.on_status_event(Connected("a"))
    assert stats.get("a").reconnects_total == 2
