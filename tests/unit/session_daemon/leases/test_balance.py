"""The balance planner (pure), checked on generated inputs: every account placed on a live
daemon, counts within one of each other, pairing accounts never moved and limits respected,
nothing moved when already balanced, the same plan whatever the input order."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from session_daemon.leases.balance import AccountSlot, DaemonSlot, plan, spread

DAEMONS = ["d0", "d1", "d2", "d3", "d4"]


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[AccountSlot], list[DaemonSlot]]:
    live = draw(st.lists(st.sampled_from(DAEMONS), min_size=1, max_size=5, unique=True))
    limit = draw(st.integers(min_value=1, max_value=3))
    daemons = [DaemonSlot(d, limit) for d in live]
    n = draw(st.integers(min_value=0, max_value=40))
    holders = [*DAEMONS, None]  # dead daemons and nobody hold some
    pairings_on: dict[str, int] = {}
    accounts = []
    for i in range(n):
        holder = draw(st.sampled_from(holders))
        pairing = draw(st.booleans()) and draw(st.booleans())
        if pairing and holder is not None:
            # a daemon enforces its own limit: never more pairing sessions than that
            if pairings_on.get(holder, 0) >= limit:
                pairing = False
            else:
                pairings_on[holder] = pairings_on.get(holder, 0) + 1
        accounts.append(AccountSlot(f"wa_{i:02d}", holder, pairing))
    return accounts, daemons


@settings(max_examples=400, deadline=None)
@given(worlds())
def test_plan_properties(world: tuple[list[AccountSlot], list[DaemonSlot]]) -> None:
    accounts, daemons = world
    live = {d.instance_id for d in daemons}
    limit = daemons[0].max_pairings
    target = plan(accounts, daemons)
    assert set(target) == {a.account_id for a in accounts}
    pairing_on: dict[str, int] = {}
    for acc in accounts:
        owner = target[acc.account_id]
        assert owner is None or owner in live
        if acc.pairing and acc.holder in live:
            assert owner == acc.holder  # a QR being scanned is never moved
        if not acc.pairing:
            assert owner is not None  # only a pairing account may wait for room
        if acc.pairing and owner is not None:
            pairing_on[owner] = pairing_on.get(owner, 0) + 1
    assert all(count <= limit for count in pairing_on.values())
    counts = spread(target, live)
    unplaced = sum(1 for o in target.values() if o is None)
    if unplaced == 0 and max(pairing_on.values(), default=0) <= len(accounts) // len(live):
        assert max(counts.values()) - min(counts.values()) <= 1, counts
    # deterministic, whatever order the store returned things in
    shuffled = list(accounts)
    random.Random(len(accounts)).shuffle(shuffled)
    assert plan(shuffled, list(reversed(daemons))) == target


@settings(max_examples=200, deadline=None)
@given(worlds())
def test_a_balanced_world_stays_put(world: tuple[list[AccountSlot], list[DaemonSlot]]) -> None:
    accounts, daemons = world
    first = plan(accounts, daemons)
    settled = [AccountSlot(a.account_id, first[a.account_id], a.pairing) for a in accounts]
    assert plan(settled, daemons) == first


def test_moves_are_few_when_a_daemon_joins() -> None:
    accounts = [AccountSlot(f"wa_{i:02d}", f"d{i % 2}") for i in range(30)]
    target = plan(accounts, [DaemonSlot("d0"), DaemonSlot("d1"), DaemonSlot("d2")])
    assert spread(target, ["d0", "d1", "d2"]) == {"d0": 10, "d1": 10, "d2": 10}
    moved = sum(1 for a in accounts if target[a.account_id] != a.holder)
    assert moved == 10  # only what the newcomer needs


def test_pairing_limits_hold_when_a_daemon_dies() -> None:
    accounts = [AccountSlot(f"wa_{i}", "dead", pairing=True) for i in range(5)]
    accounts += [AccountSlot("wa_9", "d0", pairing=True)]
    target = plan(accounts, [DaemonSlot("d0", 2), DaemonSlot("d1", 2)])
    assert spread(target, ["d0", "d1"]) == {"d0": 2, "d1": 2}
    assert target["wa_9"] == "d0" and list(target.values()).count(None) == 2


def test_no_live_daemon_places_nothing() -> None:
    assert plan([AccountSlot("wa_1", "d0")], []) == {"wa_1": None}
