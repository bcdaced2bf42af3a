"""aggregateClientStats: client totals converge to a from-scratch recomputation under
duplicated, reordered deliveries (CONTRACT section 6, flaw 8)."""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shared.crm.aggregate import (
    contribution_of,
    plan_event_write,
    recompute_clients,
    totals_from_ledger,
)
from shared.crm.client_stats import apply_event, rebuild_client_stats
from shared.store.port import query
from shared.store.sqlite import SqliteStore

NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
PHONES = ["+40722000001", "+40722000002", "+40733000003", "+40744000004"]


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    return SqliteStore(tmp_path / "agg.db", synchronous="NORMAL")


def external_delete(store: SqliteStore, path: str) -> None:
    """The app or the console deleting an event (our code never deletes)."""
    with sqlite3.connect(store.path) as conn:
        conn.execute("DELETE FROM docs WHERE path = ?", (path,))


def v3(phone: str, amount: float, status: str, day: str, archived: bool = False) -> dict[str, Any]:
    return {
        "schemaVersion": 3,
        "date": day,
        "phoneE164": phone,
        "parentName": "Maria",
        "payment": {"status": status, "method": "CASH", "amount": amount},
        "isArchived": archived,
    }


def legacy(phone: str, amount: float, status: str, day: str, archived: bool) -> dict[str, Any]:
    stare = {"PAID": "INCASAT", "UNPAID": "NEINCASAT", "CANCELLED": "ANULAT"}[status]
    return {
        "data": day,
        "telefonClientE164": phone,
        "incasare": {"stare": stare, "metoda": "CASH", "suma": amount},
        "esteArhivat": archived,
    }


def clients_of(store: SqliteStore) -> dict[str, dict[str, Any]]:
    return {s.id: s.data for s in store.query(query("clients"))}


def events_of(store: SqliteStore) -> list[tuple[str, dict[str, Any]]]:
    return [(s.id, s.data) for s in store.query(query("evenimente"))]


def assert_converged(store: SqliteStore) -> None:
    expected = recompute_clients(events_of(store))
    actual = clients_of(store)
    for phone, doc in actual.items():
        totals = {k: doc[k] for k in ("lifetimeSpendPaid", "lifetimeSpendAll", "eventsCount")}
        totals["lastEventAt"] = doc["lastEventAt"]
        want = expected.get(
            phone,
            {
                "lifetimeSpendPaid": 0.0,
                "lifetimeSpendAll": 0.0,
                "eventsCount": 0,
                "lastEventAt": None,
            },
        )
        assert totals == want, phone
        assert doc["phoneE164"] == phone
    assert set(expected) <= set(actual)


def test_create_update_archive_unarchive_delete_and_phone_change(store: SqliteStore) -> None:
    a, b = PHONES[0], PHONES[1]
    store.set("evenimente/e1", v3(a, 500, "PAID", "12-12-2026"))
    apply_event(store, "e1", NOW)
    client = clients_of(store)[a]
    assert client["eventsCount"] == 1 and client["lifetimeSpendPaid"] == 500.0
    # lastEventAt is the party's own day (Romanian midnight), a datetime, not the write time.
    assert client["lastEventAt"] == datetime(2026, 12, 11, 22, 0, tzinfo=UTC)
    assert client["createdAt"] == NOW and client["displayName"] == "Maria"

    apply_event(store, "e1", NOW)  # redelivery
    assert clients_of(store)[a]["eventsCount"] == 1

    store.set("evenimente/e1", v3(a, 800, "UNPAID", "12-12-2026"))
    apply_event(store, "e1", NOW)
    client = clients_of(store)[a]
    assert (client["lifetimeSpendAll"], client["lifetimeSpendPaid"]) == (800.0, 0.0)

    store.set("evenimente/e1", v3(a, 800, "UNPAID", "12-12-2026", archived=True))
    apply_event(store, "e1", NOW)
    assert clients_of(store)[a]["eventsCount"] == 0
    assert clients_of(store)[a]["lastEventAt"] is None

    store.set("evenimente/e1", v3(b, 300, "PAID", "01-02-2027"))  # unarchived + phone change
    apply_event(store, "e1", NOW)
    clients = clients_of(store)
    assert clients[a]["eventsCount"] == 0  # the client is kept, never deleted
    assert clients[b]["eventsCount"] == 1 and clients[b]["lifetimeSpendPaid"] == 300.0

    store.set("evenimente/e1", v3(b, 300, "CANCELLED", "01-02-2027"))
    apply_event(store, "e1", NOW)
    assert clients_of(store)[b]["lifetimeSpendAll"] == 0.0

    store.set("evenimente/e1", legacy(b, 450, "PAID", "01-02-2027", False))
    apply_event(store, "e1", NOW)
    assert clients_of(store)[b]["lifetimeSpendPaid"] == 450.0

    external_delete(store, "evenimente/e1")
    apply_event(store, "e1", NOW)
    assert clients_of(store)[b]["eventsCount"] == 0
    assert_converged(store)


def test_last_event_at_is_the_latest_party_not_the_latest_write(store: SqliteStore) -> None:
    phone = PHONES[2]
    store.set("evenimente/late", v3(phone, 100, "PAID", "20-05-2027"))
    store.set("evenimente/early", v3(phone, 100, "PAID", "03-01-2027"))
    apply_event(store, "late", NOW)
    apply_event(store, "early", NOW)  # written last, earlier party
    assert clients_of(store)[phone]["lastEventAt"].date().isoformat() == "2027-05-19"


def test_duplicate_delivery_writes_nothing() -> None:
    event = v3(PHONES[0], 10, "PAID", "01-01-2027")
    first = plan_event_write("e", event, None, {PHONES[0]: None}, NOW)
    doc = first.clients[PHONES[0]]
    again = plan_event_write("e", event, PHONES[0], {PHONES[0]: doc}, NOW)
    assert again.clients == {} and again.holder == PHONES[0]


def test_no_phone_or_archived_contributes_nothing() -> None:
    assert contribution_of({"date": "01-01-2027", "payment": {"amount": 5}}) is None
    assert contribution_of(v3(PHONES[0], 5, "PAID", "01-01-2027", archived=True)) is None
    assert totals_from_ledger({})["lastEventAt"] is None


def _random_event(rng: random.Random) -> dict[str, Any]:
    phone = rng.choice(PHONES)
    amount = rng.choice([0, 150, 299.99, 500, 1234.5, "700 lei"])
    status = rng.choice(["PAID", "UNPAID", "CANCELLED"])
    day = f"{rng.randint(1, 28):02d}-{rng.randint(1, 12):02d}-{rng.choice([2025, 2026, 2027])}"
    archived = rng.random() < 0.2
    if rng.random() < 0.25:
        return legacy(
            phone, amount if isinstance(amount, int | float) else 700, status, day, archived
        )
    event = v3(phone, 0, status, day, archived)
    event["payment"]["amount"] = amount
    return event


@pytest.mark.parametrize("seed", range(4))
def test_random_operations_with_duplicated_reordered_deliveries_converge(
    store: SqliteStore, seed: int
) -> None:
    rng = random.Random(seed)
    event_ids = [f"ev{i}" for i in range(25)]
    pending: list[str] = []
    for _ in range(1500):
        event_id = rng.choice(event_ids)
        if rng.random() < 0.1:
            external_delete(store, f"evenimente/{event_id}")
        else:
            store.set(f"evenimente/{event_id}", _random_event(rng))
        pending.extend([event_id] * rng.choice([1, 1, 2, 3]))  # at-least-once
        rng.shuffle(pending)  # any order
        for _ in range(rng.randint(0, 3)):  # some deliveries arrive late
            if pending:
                apply_event(store, pending.pop(), NOW)
    while pending:
        apply_event(store, pending.pop(), NOW)
    assert_converged(store)
    # Every client document is a plain recomputation of its ledger.
    for doc in clients_of(store).values():
        assert {k: doc[k] for k in totals_from_ledger(doc["ledger"])} == totals_from_ledger(
            doc["ledger"]
        )


def test_concurrent_deliveries_converge(store: SqliteStore) -> None:
    """Instances handle deliveries at the same time: the transaction keeps the ledger whole."""
    from concurrent.futures import ThreadPoolExecutor

    rng = random.Random(99)
    event_ids = [f"c{i}" for i in range(12)]
    for event_id in event_ids:
        store.set(f"evenimente/{event_id}", _random_event(rng))
    deliveries = [e for e in event_ids for _ in range(4)]
    rng.shuffle(deliveries)
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda e: apply_event(store, e, NOW), deliveries))
    assert_converged(store)


def test_rebuild_replaces_the_old_systems_totals_with_the_events(store: SqliteStore) -> None:
    """Cut-over: the old system's client documents carry (wrong) totals and no ledger; one
    rebuild gives every client the totals of all its events, and the trigger then keeps them."""
    a, b = PHONES[0], PHONES[1]
    old = {"displayName": "Old", "lifetimeSpendAll": 9999, "eventsCount": 42, "note": "kept"}
    store.set(f"clients/{a}", {"phoneE164": a, **old})
    store.set("evenimente/e1", v3(a, 500, "PAID", "12-12-2026"))
    store.set("evenimente/e2", legacy(a, 300, "UNPAID", "01-03-2027", False))
    store.set("evenimente/e3", v3(b, 200, "PAID", "05-05-2027"))
    store.set("evenimente/e4", v3(b, 700, "PAID", "06-05-2027", archived=True))
    seen: list[tuple[int, int]] = []
    assert rebuild_client_stats(store, progress=lambda done, total: seen.append((done, total))) == 4
    assert seen[-1] == (4, 4)
    assert_converged(store)
    client = clients_of(store)[a]
    assert (client["eventsCount"], client["lifetimeSpendAll"]) == (2, 800.0)
    assert client["note"] == "kept" and client["displayName"] == "Old"  # nothing else is lost
    assert len(store.query(query("evenimente"))) == 4  # events untouched
    before = clients_of(store)
    rebuild_client_stats(store)  # a second run changes nothing but updatedAt
    after = clients_of(store)
    assert {p: {k: v for k, v in d.items() if k != "updatedAt"} for p, d in after.items()} == {
        p: {k: v for k, v in d.items() if k != "updatedAt"} for p, d in before.items()
    }
