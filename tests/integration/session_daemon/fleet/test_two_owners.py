"""Two daemons on one store: each exports the per-number series of the accounts whose lease it
holds, and only those (a fleet scraped together reports every number once); the dashboard's
data on either names the owner of every number."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from shared.paths import account_path
from shared.store.sqlite import SqliteStore
from tests.support.daemon import DaemonProcess, daemons_sharing_a_store

ACCOUNTS = {f"wa_4072200000{i}" for i in range(1, 5)}


@pytest.fixture
def two(tmp_path: Path) -> Iterator[tuple[DaemonProcess, DaemonProcess]]:
    store = SqliteStore(tmp_path / "store.db")
    for account in ACCOUNTS:
        store.set(account_path(account), {"name": account, "status": "needs_qr"})
    store.close()
    with daemons_sharing_a_store(tmp_path, {"WHATSAPP_LEASE_SECONDS": "2"}) as made:
        yield made[0], made[1]


def exported(d: DaemonProcess) -> set[str]:
    text = d.get("/metrics").body.decode()
    return {
        sample.labels["account"]
        for family in text_string_to_metric_families(text)
        if family.name == "superparty_account_up"
        for sample in family.samples
    }


def test_each_number_is_exported_by_its_lease_holder_only(
    two: tuple[DaemonProcess, DaemonProcess],
) -> None:
    a, b = two

    def held(d: DaemonProcess) -> set[str]:
        return set(d.get("/diag").json()["leases"]["held"])

    deadline = time.monotonic() + 15
    while not (len(held(a)) == len(held(b)) == 2):  # the leases spread over both
        assert time.monotonic() < deadline, "the accounts did not spread over both daemons"
        time.sleep(0.2)
    mine, theirs = held(a), held(b)
    assert exported(a) == mine and exported(b) == theirs
    assert mine | theirs == ACCOUNTS and not mine & theirs
    rows = {row["id"]: row for row in a.get("/api/fleet").json()["accounts"]}
    assert set(rows) == ACCOUNTS
    for account in theirs:
        row = rows[account]
        assert row["owner"] == "b" and not row["runsHere"] and row["inboundToday"] is None
    for account in mine:
        assert rows[account]["owner"] == "a" and rows[account]["inboundToday"] == 0
