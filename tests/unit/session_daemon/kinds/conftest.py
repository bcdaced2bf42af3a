"""The per-kind test files' fixture: a started inbound pipeline on SQLite (tests/support/kinds)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.kinds import Rig, started_rig


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    r = await started_rig(tmp_path)
    yield r
    await r.pipeline.stop()
    r.store.close()
