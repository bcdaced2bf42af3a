"""`CloudRuntime` against the Graph API stand-in and a real SQLite store: the health check
writes `cloudHealth` and, for a number that sent but hears no webhook for hours, the reason in
`lastError` (cleared when webhooks arrive again, even ones another daemon took); inbound media
by its `cloud:<media id>` handle, a vanished id being final for the media service."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from session_daemon.cloud_api.accounts import CloudAccountRequest, register_cloud_account
from session_daemon.cloud_api.runtime import CloudRuntime
from session_daemon.media.jobs import classify_download_error
from session_daemon.transport.port import TransportError, TransportEvent
from session_daemon.transport.simulated import SimulatedTransport
from shared import paths
from shared.store.sqlite import SqliteStore
from shared.timeutil import utc_now
from tests.support.graph_standin import (
    GraphStandIn,
    account_request,
)


async def test_health_and_media(
    tmp_path: Path, graph: GraphStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WHATSAPP_GRAPH_BASE_URL", graph.base_url)
    store = SqliteStore(tmp_path / "s.db")
    reg = register_cloud_account(
        store,
        CloudAccountRequest.model_validate(account_request()),
    )
    acc = reg.account_id
    now = [utc_now()]
    linked = SimulatedTransport()
    runtime = await CloudRuntime.create(store, lambda e: None, linked, clock=lambda: now[0])
    events: list[TransportEvent] = []
    await runtime.wiring.transport.start_session(acc, tmp_path / "unused.db", events.append)
    try:
        first = await runtime.check(acc)
        assert (first["status"], first["reason"], first["numberStatus"]) == (
            "connected",
            None,
            "CONNECTED",
        )
        # sent 7 hours ago, no webhook since: probably unsubscribed
        runtime.wiring.cloud._accounts[acc].last_send_at = now[0] - timedelta(hours=7)
        silent = await runtime.check(acc)
        assert silent["reason"] == "webhook_silent"
        account = store.get(paths.account_path(acc))
        assert account is not None
        assert str(account.data["lastError"]).startswith("webhook_silent: no webhook delivery")
        # another daemon took a delivery and noted it on the account
        store.update(paths.account_path(acc), {"cloudLastWebhookAt": now[0]})
        again = await runtime.check(acc)
        assert again["reason"] is None
        account = store.get(paths.account_path(acc))
        assert account is not None and account.data["lastError"] is None

        graph.media["4490709327384033"] = (b"%PDF-1.7 contract", "application/pdf")
        assert await runtime.download_media(acc, "cloud:4490709327384033") == b"%PDF-1.7 contract"
        with pytest.raises(TransportError) as caught:
            await runtime.download_media(acc, "cloud:1111111111")
        assert classify_download_error(str(caught.value)).permanent
    finally:
        await runtime.stop()
        await linked.close()
        store.close()
