"""The `store` fixture: every contract case runs on each backend, SQLite (a fresh file per test)
and Firestore (the npm emulator, a fresh project id per test).

Cases marked `@pytest.mark.firestore_emulator_gap(reason=...)` are skipped on the Firestore
param with that reason and still run on SQLite. Each reason was checked against the source of
the emulator (@firestore-emulator/server 0.3.15); the real Firestore service has none of these gaps.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.store.firestore import FirestoreStore
from shared.store.sqlite import SqliteStore
from tests.conftest import unique_project_id

BACKENDS = ["sqlite", "firestore"]


def emulator_gap_reason(node: pytest.Item) -> str | None:
    marker = node.get_closest_marker("firestore_emulator_gap")
    if marker is None:
        return None
    return str(marker.kwargs.get("reason") or (marker.args[0] if marker.args else "no reason"))


def open_emulator_store(host: str, monkeypatch: pytest.MonkeyPatch) -> FirestoreStore:
    # The client reads FIRESTORE_EMULATOR_HOST once, when it is built.
    with monkeypatch.context() as env:
        env.setenv("FIRESTORE_EMULATOR_HOST", host)
        return FirestoreStore(unique_project_id("contract"))


@pytest.fixture(params=BACKENDS)
def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    if request.param == "sqlite":
        s: Any = SqliteStore(tmp_path / "store.db")
    else:
        reason = emulator_gap_reason(request.node)
        if reason is not None:
            pytest.skip(f"firestore emulator gap: {reason}")
        s = open_emulator_store(request.getfixturevalue("firestore_emulator"), monkeypatch)
    yield s
    s.close()
