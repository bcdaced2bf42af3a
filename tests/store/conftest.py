"""The `store` fixture: every contract case runs on each backend (SQLite here; the platform
engineer adds the Firestore emulator backend)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.store.sqlite import SqliteStore


@pytest.fixture(params=["sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "store.db")
    yield s
    s.close()
