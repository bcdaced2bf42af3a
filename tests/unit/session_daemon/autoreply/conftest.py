"""The auto-reply tests' rig: a started inbound pipeline on SQLite (tests/support/kinds) and an
engine over the same store, fed with what the pipeline created."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from session_daemon.autoreply.engine import AutoReplyEngine, incoming_of
from session_daemon.autoreply.model import ModelReplier
from session_daemon.autoreply.settings import AutoReplyConfig
from session_daemon.inbound.pipeline import CreatedMessage
from session_daemon.transport.port import HistorySyncChunk, WireMessage
from shared.store.port import query
from tests.support.kinds import ACC, T0, TID, Rig, started_rig

NOW = T0 + timedelta(minutes=1)


@dataclass
class AutoRig:
    rig: Rig
    config: AutoReplyConfig = field(default_factory=AutoReplyConfig)
    model: ModelReplier | None = None
    owns: bool = True
    now: datetime = NOW
    wakes: int = 0

    @property
    def store(self) -> Any:
        return self.rig.store

    def engine(self) -> AutoReplyEngine:
        def wake() -> None:
            self.wakes += 1

        return AutoReplyEngine(
            self.store,
            config=self.config,
            model=self.model,
            owns=lambda _a: self.owns,
            wake=wake,
            clock=lambda: self.now,
        )

    def account(self, **fields: Any) -> None:
        self.store.set(f"accounts/{ACC}", {"autoReplyEnabled": True, **fields}, merge=True)

    async def stored(self, message: WireMessage, *, history: bool = False) -> CreatedMessage:
        """Send one message through the pipeline; what its on_created listener heard of it."""
        before = len(self.rig.created)
        if history:
            self.rig.pipeline.submit(HistorySyncChunk(ACC, (message,)))
        else:
            self.rig.send(message)
        await self.rig.drain()
        new = self.rig.created[before:]
        assert len(new) == 1, new
        return new[0]

    async def reply_to(self, message: WireMessage, engine: AutoReplyEngine | None = None) -> str:
        created = await self.stored(message)
        return (engine or self.engine()).handle(incoming_of(created))

    def outbox(self) -> list[dict[str, Any]]:
        items = [s.data for s in self.store.query(query("outbox"))]
        return sorted(items, key=lambda d: (d["createdAtMs"], d["clientMessageId"]))

    def sent_texts(self, thread_id: str = TID) -> list[str]:
        return [d["body"] for d in self.outbox() if d["threadId"] == thread_id]


@pytest.fixture
async def auto(tmp_path: Path) -> AsyncIterator[AutoRig]:
    rig = await started_rig(tmp_path)
    yield AutoRig(rig)
    await rig.pipeline.stop()
    rig.store.close()
