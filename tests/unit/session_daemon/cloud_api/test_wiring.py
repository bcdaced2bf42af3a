"""The assembled Cloud API (`build_cloud`) round trip, against the Graph API stand-in: a client
writes (signed webhook → journal → store), staff answer inside the window through the one
transport port, Meta's statuses move the answer to `read`; a linked account on the same port is
untouched."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from session_daemon.cloud_api import secrets_store
from session_daemon.cloud_api.accounts import CloudAccountRequest, register_cloud_account
from session_daemon.cloud_api.transport import OutsideServiceWindow
from session_daemon.cloud_api.wiring import build_cloud
from session_daemon.inbound.convert import message_path
from session_daemon.inbound.pipeline import InboundPipeline
from session_daemon.transport.port import Connected, TransportEvent
from session_daemon.transport.simulated import SimulatedTransport
from shared.ids import thread_id
from shared.store.sqlite import SqliteStore
from shared.timeutil import from_ms
from tests.support.graph_standin import (
    GraphStandIn,
    account_request,
    change,
    contact,
    dumps,
    entry,
    envelope,
    status,
    text_message,
)

CLIENT = "40733111222"


async def test_round_trip_through_the_assembled_parts(tmp_path: Path, graph: GraphStandIn) -> None:
    store = SqliteStore(tmp_path / "store.db")
    pipeline = InboundPipeline(store, tmp_path / "journal", flush_interval=0.01)
    await pipeline.start()
    linked = SimulatedTransport(receipt_delay=0.0)
    # the client wrote at 1764760000; staff answer a minute later
    clock = [from_ms(1764760000_000 + 60_000)]
    wiring = await build_cloud(
        store, pipeline.submit, linked, graph_base_url=graph.base_url, clock=lambda: clock[0]
    )
    reg = register_cloud_account(
        store,
        CloudAccountRequest.model_validate(account_request()),
    )
    assert secrets_store.load(store, reg.account_id) is not None
    wiring.kinds.set_cloud(reg.account_id)
    app = web.Application()
    app.add_routes(wiring.webhook.routes())
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    graph.webhook_url = str(server.make_url(f"/webhooks/whatsapp-cloud/{reg.account_id}"))
    events: list[TransportEvent] = []
    try:
        await wiring.transport.start_session(reg.account_id, tmp_path / "x.db", events.append)
        assert events == [Connected(reg.account_id)]
        inbound = change(
            contacts=[contact(CLIENT, "Ana Pop")],
            messages=[text_message("wamid.IN", "Aveți liber pe 14?", 1764760000, sender=CLIENT)],
        )
        assert await graph.deliver(dumps(envelope(entry(inbound)))) == 200
        assert await pipeline.drain(5)
        graph.window_open.add(CLIENT)  # Meta sees the window open too
        result = await wiring.transport.send_text(
            reg.account_id, f"{CLIENT}@s.whatsapp.net", "Da, avem!"
        )
        tid = thread_id(reg.account_id, f"{CLIENT}@s.whatsapp.net")
        store.create(
            message_path(tid, "req1"),
            {
                "accountId": reg.account_id,
                "clientJid": f"{CLIENT}@s.whatsapp.net",
                "direction": "outbound",
                "status": "sent",
                "waMessageId": result.message_id,
                "body": "Da, avem!",
            },
        )
        for name in ("read", "delivered"):
            st = status(result.message_id, name, 1764760100, recipient_id=CLIENT)
            assert await graph.deliver(dumps(envelope(entry(change(statuses=[st]))))) == 200
        assert await pipeline.drain(5)
        doc = store.get(message_path(tid, "req1"))
        assert doc is not None and doc.data["status"] == "read"
        assert [s.body["text"]["body"] for s in graph.sent] == ["Da, avem!"]
        # a free-form answer a day later is refused before reaching Meta
        clock[0] += timedelta(hours=24)
        with pytest.raises(OutsideServiceWindow):
            await wiring.transport.send_text(reg.account_id, f"{CLIENT}@s.whatsapp.net", "?")
        assert len(graph.sent) == 1
        # another account on the same port is a linked device: the simulator's
        assert wiring.kinds.kind_of(reg.account_id) == "cloud"
        assert wiring.kinds.kind_of("wa_40722000010") == "linked"
    finally:
        await server.close()
        await wiring.close()
        await pipeline.stop()
        store.close()
