"""fleet_rows: the dashboard's rows from the store's view and this daemon's own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from session_daemon.fleet.stats import AccountStats, FleetStats
from session_daemon.fleet.view import Local, fleet_rows, reason_for, seed_from_store
from shared.store.port import Snapshot
from shared.store.sqlite import SqliteStore

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def local(here: set[str]) -> Local:
    return Local(
        instance_id="d1",
        status_of=lambda acc: "connected" if acc in here else None,
        is_pairing=lambda acc: False,
        runs_here=lambda acc: acc in here,
        stats=lambda acc: AccountStats(inbound_today=3, last_inbound_at=NOW),
    )


def test_rows_show_own_counters_only_for_numbers_run_here() -> None:
    accounts = [
        Snapshot("accounts/b", {"name": "beta", "status": "needs_qr", "phone": "0722"}),
        Snapshot("accounts/a", {"name": "Alpha", "status": "connecting", "autoReplyEnabled": True}),
        Snapshot("accounts/z", {"name": "Gone", "status": "deleted"}),
    ]
    owned = {"a": ("d1", NOW), "b": ("d2", NOW)}
    rows = fleet_rows(accounts, owned, {"a": 4}, local({"a"}))
    assert [r["id"] for r in rows] == ["a", "b"]  # by name, deleted ones left out
    a, b = rows
    # this daemon's live status wins over the document's; its counters are shown
    assert a["status"] == "connected" and a["runsHere"] and a["owner"] == "d1"
    assert (a["queueDepth"], a["inboundToday"], a["lastInboundAt"]) == (4, 3, NOW.isoformat())
    assert a["autoReplyEnabled"] is True
    # another daemon's number: its status from the store, its counters are that daemon's
    assert b["status"] == "needs_qr" and not b["runsHere"] and b["owner"] == "d2"
    assert b["inboundToday"] is None and b["queueDepth"] == 0
    assert "Regenerate QR" in b["reason"]


def test_reason_prefers_the_sessions_own_words_and_adds_the_phone_warning() -> None:
    data = {"lastError": "logged out from the phone", "phoneOfflineWarning": "Phone away 12 days"}
    assert reason_for("logged_out", data) == (
        "logged out from the phone Pair again: Regenerate QR. Phone away 12 days"
    )
    assert reason_for("connected", {}) == "Connected; messages flow both ways."
    assert "Next retry at" in reason_for("error", {"nextRetryAt": NOW})


def test_last_message_times_are_seeded_once_from_the_accounts_threads(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    times = [NOW - timedelta(minutes=m) for m in range(4)]
    for i, (direction, account) in enumerate(
        [("outbound", "a"), ("outbound", "a"), ("inbound", "a"), ("inbound", "b")]
    ):
        store.set(
            f"threads/{account}__{i}@s.whatsapp.net",
            {"accountId": account, "lastMessageAt": times[i], "lastMessageDirection": direction},
        )
    fleet = FleetStats(clock=lambda: NOW)
    seed_from_store(store, fleet, ["a"])
    a = fleet.get("a")
    assert (a.last_inbound_at, a.last_outbound_at) == (times[2], times[0])
    # once: a later store change is the live hooks' to report, not a second read
    store.set("threads/a__9@s.whatsapp.net", {"accountId": "a", "lastMessageAt": NOW,
                                              "lastMessageDirection": "inbound"})  # fmt: skip
    seed_from_store(store, fleet, ["a"])
    assert fleet.get("a").last_inbound_at == times[2]
    store.close()
