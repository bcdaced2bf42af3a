"""FairQueue: per-account FIFO, fair batches, nothing lost or reordered within an account."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from session_daemon.inbound.fair_queue import FairQueue


def account(item: tuple[str, int]) -> str:
    return item[0]


def test_a_burst_from_one_account_does_not_starve_the_others() -> None:
    queue: FairQueue[tuple[str, int]] = FairQueue(account)
    queue.extend(("history", i) for i in range(10_000))
    queue.extend([("live-a", 1), ("live-b", 1)])
    batch = queue.take(100)
    assert ("live-a", 1) in batch and ("live-b", 1) in batch
    assert len(batch) == 100 and len(queue) == 10_002 - 100
    assert queue.size_of("history") == 10_000 - 98 and queue.size_of("live-a") == 0


def test_push_front_restores_the_order() -> None:
    queue: FairQueue[tuple[str, int]] = FairQueue(account)
    queue.extend([("a", 1), ("a", 2), ("b", 1)])
    batch = queue.take(2)
    queue.push_front(batch)
    assert sorted(queue.take(10)) == [("a", 1), ("a", 2), ("b", 1)]
    assert not queue


@given(
    st.lists(st.tuples(st.sampled_from("abcd"), st.integers()), max_size=200),
    st.integers(min_value=1, max_value=50),
)
def test_take_conserves_items_and_per_account_order(
    items: list[tuple[str, int]], limit: int
) -> None:
    queue: FairQueue[tuple[str, int]] = FairQueue(account)
    tagged = [(acc, i) for i, (acc, _) in enumerate(items)]
    queue.extend(tagged)
    out: list[tuple[str, int]] = []
    while queue:
        batch = queue.take(limit)
        assert 0 < len(batch) <= limit
        out.extend(batch)
    assert sorted(out) == sorted(tagged)
    for acc in "abcd":
        seq = [i for a, i in out if a == acc]
        assert seq == sorted(seq)
