"""The simulator control API while the inbound pipeline is closed (the daemon stopping): a clear
503 JSON error, no 500 and no stack trace in the log, and the message is not lost.

In-process: the real `Daemon` wiring (SQLite store, simulated transport, inbound pipeline, HTTP
server on a free port), so the test can close the pipeline at an exact moment.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from session_daemon.app import Daemon
from session_daemon.config import Settings
from tests.daemon.conftest import free_port

TOKEN = "simulator-closing-token-0123456789"
CLIENT = "+40711222333"


async def _call(
    http: aiohttp.ClientSession, method: str, path: str, body: Any = None
) -> tuple[int, dict[str, Any]]:
    async with http.request(method, path, json=body) as resp:
        assert resp.content_type == "application/json", await resp.text()
        data: dict[str, Any] = await resp.json()
        return resp.status, data


async def test_delivering_while_the_pipeline_is_closed_is_a_clear_503(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'store.db'}",
        transport="simulated",
        port=free_port(),
        sessions_path=tmp_path / "sessions",
        service_token=TOKEN,
        instance_id="closing-test",
        simulator_qr_interval=0.05,
    )
    daemon = Daemon(settings)
    await daemon.start()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    base = f"http://127.0.0.1:{settings.port}"
    try:
        async with aiohttp.ClientSession(base, headers=headers) as http:
            status, body = await _call(
                http, "POST", "/api/whatsapp/add-account", {"name": "A", "phone": "0722123456"}
            )
            assert status == 200, body
            account = body["accountId"]
            for _ in range(100):  # the session shows its first QR, then the phone scans it
                status, body = await _call(http, "POST", f"/api/simulator/pair/{account}", {})
                if status == 200:
                    break
                assert (status, body["error"]) == (409, "not_pairing"), body
                await asyncio.sleep(0.05)
            assert status == 200, body
            path = f"/api/simulator/messages/{account}"
            status, body = await _call(http, "POST", path, {"from": CLIENT, "text": "first"})
            assert status == 200, body

            assert daemon.pipeline is not None
            await daemon.pipeline.stop()  # what a shutdown does before the HTTP server is gone
            caplog.clear()
            status, body = await _call(
                http, "POST", path, {"from": CLIENT, "text": "second", "id": "M2"}
            )
            assert status == 503, body
            assert body == {
                "success": False,
                "error": "inbound_unavailable",
                "message": body["message"],
            }
            assert "Traceback" not in caplog.text
            assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
            # the message was not acknowledged: it waits on the simulated server for a reconnect
            assert daemon.transport is not None
            held = daemon.transport._sessions[account].offline_queue  # type: ignore[attr-defined]
            assert [e.message.id for e in held] == ["M2"]
    finally:
        await daemon.stop()
