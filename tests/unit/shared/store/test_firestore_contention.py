"""`FirestoreStore.transaction` under contention, against a tiny gRPC Firestore server that
answers ABORTED (the npm emulator never aborts a transaction): the store retries, then raises
Contention after `max_attempts`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from shared.store.port import Contention
from tests.support.aborting_firestore import AbortingFirestore, serve_store


@pytest.fixture
def aborting(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    fake = AbortingFirestore(request.param)
    with serve_store(fake, "contention", monkeypatch) as store:
        yield fake, store


def _read_then_write(tx: Any) -> None:
    tx.get("counters/c")
    tx.set("counters/c", {"value": 1})


@pytest.mark.parametrize("aborting", ["commit"], indirect=True)
def test_aborted_commits_are_retried_then_raise_contention(aborting: Any) -> None:
    fake, store = aborting
    with pytest.raises(Contention):
        store.transaction(_read_then_write, max_attempts=3)
    assert fake.calls["commit"] == 3
    assert fake.calls["begin"] == 3


@pytest.mark.parametrize("aborting", ["read"], indirect=True)
def test_aborted_reads_are_retried_then_raise_contention(aborting: Any) -> None:
    fake, store = aborting
    with pytest.raises(Contention):
        store.transaction(_read_then_write, max_attempts=3)
    assert fake.calls["commit"] == 0
    assert fake.calls["begin"] == 3
