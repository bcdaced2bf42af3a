"""The daemon's media service on a real SimulatedTransport: a file WhatsApp no longer holds
ends `failed` with `expired` at once (neonize 0.5.2 cannot ask for a re-upload), and a message
without download information is never a silent null."""

from __future__ import annotations

from pathlib import Path

import pytest

from session_daemon.media.jobs import DownloadError
from session_daemon.media.service import MediaService
from session_daemon.transport.simulated import SimulatedTransport
from shared.store.sqlite import SqliteStore


async def test_a_dropped_file_is_expired_and_final(tmp_path: Path) -> None:
    sim = SimulatedTransport(qr_interval=0.05)
    store = SqliteStore(tmp_path / "store.db")
    await sim.start_session("acc", tmp_path / "acc.session", lambda event: None)
    await sim.arun(sim.pair, "acc", "+40722000111", "Superparty")
    service = MediaService.from_settings(
        store, "sqlite:///x.db", tmp_path, "http://daemon", sim.download_media, environ={}
    )
    with pytest.raises(DownloadError) as caught:
        await service._fetch("acc", "sim-never-stored")()
    assert (caught.value.reason, caught.value.permanent) == ("expired", True)
    without = MediaService.from_settings(
        store, "sqlite:///x.db", tmp_path, "http://daemon", None, environ={}
    )
    with pytest.raises(DownloadError) as none:
        await without._fetch("acc", "h")()
    assert none.value.reason == "no_download_info"
    await sim.close()
    store.close()
