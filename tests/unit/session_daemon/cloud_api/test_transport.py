"""`CloudTransport` behind the transport port, against the Graph API stand-in, with secrets in
a real SQLite store's `accountSecrets`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from session_daemon.cloud_api import secrets_store
from session_daemon.cloud_api.dispatch import DispatchingTransport
from session_daemon.cloud_api.graph import GraphClient
from session_daemon.cloud_api.health import cloud_account_status
from session_daemon.cloud_api.secrets_store import CloudSecrets
from session_daemon.cloud_api.transport import (
    AccountStopped,
    CloudSendError,
    CloudTransport,
    NotLinkedDevice,
    OutsideServiceWindow,
)
from session_daemon.transport.port import (
    Connected,
    Disconnected,
    NotConnected,
    TransportEvent,
    WhatsAppTransport,
)
from session_daemon.transport.simulated import SimulatedTransport
from shared.store.sqlite import SqliteStore
from tests.support.graph_standin import (
    APP_SECRET,
    PHONE_NUMBER_ID,
    TOKEN,
    WABA_ID,
    GraphStandIn,
)

ACC = "wa_40722000009"
CLIENT_JID = "40733111222@s.whatsapp.net"
BSUID = "RO.13491208655302741918"
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
SECRETS = CloudSecrets(ACC, PHONE_NUMBER_ID, WABA_ID, TOKEN, APP_SECRET, "verify-me")


@dataclass
class Rig:
    graph: GraphStandIn
    store: SqliteStore
    transport: CloudTransport
    events: list[TransportEvent] = field(default_factory=list)
    last_inbound: dict[str, datetime] = field(default_factory=dict)


@pytest.fixture
async def rig(
    tmp_path: Path, graph: GraphStandIn, http: aiohttp.ClientSession
) -> AsyncIterator[Rig]:
    store = SqliteStore(tmp_path / "store.db")
    secrets_store.save(store, SECRETS)
    last: dict[str, datetime] = {}

    async def secrets(account_id: str) -> CloudSecrets | None:
        return await asyncio.to_thread(secrets_store.load, store, account_id)

    async def last_inbound(account_id: str, client_jid: str) -> datetime | None:
        return last.get(client_jid)

    transport = CloudTransport(
        GraphClient(http, graph.base_url), secrets, last_inbound, clock=lambda: NOW
    )
    port: WhatsAppTransport = transport  # the port's shape, checked by mypy
    r = Rig(graph, store, transport, last_inbound=last)
    await port.start_session(ACC, tmp_path / "unused.db", r.events.append)
    yield r
    await port.close()
    store.close()


async def test_starts_connected_and_refuses_linked_device_operations(rig: Rig) -> None:
    assert rig.events == [Connected(ACC)] and rig.transport.is_connected(ACC)
    with pytest.raises(NotLinkedDevice) as caught:
        await rig.transport.request_pairing_code(ACC, "+40722000009")
    assert not caught.value.retryable and str(caught.value).startswith("not_linked_device")
    with pytest.raises(NotLinkedDevice):
        await rig.transport.request_history(ACC, CLIENT_JID, 50)


async def test_free_text_inside_the_window_goes_out(rig: Rig) -> None:
    rig.last_inbound[CLIENT_JID] = NOW - timedelta(hours=2)
    rig.graph.window_open.add("40733111222")
    result = await rig.transport.send_text(ACC, CLIENT_JID, "Bună ziua!")
    [sent] = rig.graph.sent
    assert result.message_id == sent.wamid and sent.body["to"] == "40733111222"
    assert sent.body["text"]["body"] == "Bună ziua!"


async def test_outside_the_window_text_is_refused_without_calling_meta(rig: Rig) -> None:
    rig.last_inbound[CLIENT_JID] = NOW - timedelta(hours=25)
    with pytest.raises(OutsideServiceWindow) as caught:
        await rig.transport.send_text(ACC, CLIENT_JID, "Mai sunteți interesați?")
    assert not caught.value.retryable and caught.value.code == "outside_service_window"
    assert rig.graph.sent == []
    # a template goes out (and is billed)
    await rig.transport.send_template(ACC, CLIENT_JID, "reengage", "ro", ["Ana"])
    assert rig.graph.sent[0].body["type"] == "template"


async def test_outside_the_window_a_file_is_refused_before_fetching_or_uploading(
    rig: Rig,
) -> None:
    rig.last_inbound[CLIENT_JID] = NOW - timedelta(hours=25)
    media = {"url": "http://127.0.0.1:9/never-fetched.pdf", "mimeType": "application/pdf"}
    with pytest.raises(OutsideServiceWindow):
        await rig.transport.send_message(ACC, CLIENT_JID, "Oferta", media=media)
    with pytest.raises(OutsideServiceWindow):  # a quoted text is free-form too
        await rig.transport.send_message(ACC, CLIENT_JID, "Da", reply_to="wamid.IN1")
    assert rig.graph.sent == [] and rig.graph.uploads == []


async def test_a_username_client_is_sent_to_by_bsuid(rig: Rig) -> None:
    jid = f"{BSUID}@bsuid"
    rig.last_inbound[jid] = NOW - timedelta(minutes=5)
    rig.graph.window_open.add(BSUID)
    await rig.transport.send_text(ACC, jid, "Salut")
    assert rig.graph.sent[0].body["recipient"] == BSUID and "to" not in rig.graph.sent[0].body


async def test_expired_token_stops_sends_until_a_new_token_is_saved(rig: Rig) -> None:
    rig.last_inbound[CLIENT_JID] = NOW - timedelta(hours=1)
    rig.graph.window_open.add("40733111222")
    rig.graph.tokens.clear()  # Meta expired the token
    with pytest.raises(AccountStopped) as caught:  # not sent: it waits in the outbox
        await rig.transport.send_text(ACC, CLIENT_JID, "1")
    assert caught.value.code == "token_expired"
    last = rig.events[-1]
    assert isinstance(last, Disconnected) and last.reason.startswith("token_expired: ")
    assert rig.transport.health(ACC).reason == "token_expired"
    calls = len(rig.graph.requests)
    with pytest.raises(NotConnected):  # stopped: no call to Meta with the refused token
        await rig.transport.send_text(ACC, CLIENT_JID, "2")
    assert len(rig.graph.requests) == calls
    rig.graph.tokens.add("EAAnew")
    secrets_store.save(rig.store, replace(SECRETS, access_token="EAAnew"))  # no restart
    await rig.transport.send_text(ACC, CLIENT_JID, "3")
    assert [s.body["text"]["body"] for s in rig.graph.sent] == ["3"]
    assert (await rig.transport.check(ACC)).status == "connected"


async def test_rate_limits_are_retryable_and_do_not_stop_the_account(rig: Rig) -> None:
    rig.last_inbound[CLIENT_JID] = NOW
    rig.graph.throughput_left = 0
    with pytest.raises(CloudSendError) as caught:
        await rig.transport.send_text(ACC, CLIENT_JID, "x")
    assert caught.value.code == "rate_limited" and caught.value.retryable
    assert rig.transport.is_connected(ACC)


async def test_templates_and_read_receipts(rig: Rig) -> None:
    rig.graph.templates = [{"name": "reengage", "language": "ro", "status": "APPROVED"}]
    [tpl] = await rig.transport.list_templates(ACC)
    assert (tpl.name, tpl.status) == ("reengage", "APPROVED")
    await rig.transport.mark_read(ACC, "wamid.IN1")
    assert rig.graph.reads == ["wamid.IN1"]


def test_secrets_stay_in_account_secrets_and_are_found_by_number(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    secrets_store.save(store, SECRETS)
    assert secrets_store.load(store, ACC) == SECRETS
    assert secrets_store.find_by_phone_number_id(store, PHONE_NUMBER_ID) == SECRETS
    assert secrets_store.find_by_phone_number_id(store, "1") is None
    assert store.get(f"accounts/{ACC}") is None
    # a second account claiming the same number makes the lookup refuse both
    secrets_store.save(store, replace(SECRETS, account_id="wa_40722000010"))
    assert secrets_store.find_by_phone_number_id(store, PHONE_NUMBER_ID) is None
    store.close()


def test_health_from_token_number_and_webhooks() -> None:
    info = {"status": "CONNECTED"}
    assert (
        cloud_account_status(
            now=NOW,
            token_error="token_expired",
            number_info=info,
            last_webhook_at=None,
            last_send_at=None,
        ).reason
        == "token_expired"
    )
    assert (
        cloud_account_status(
            now=NOW,
            token_error=None,
            number_info={"status": "BANNED"},
            last_webhook_at=None,
            last_send_at=None,
        ).status
        == "error"
    )
    sent = NOW - timedelta(hours=7)
    silent = cloud_account_status(
        now=NOW,
        token_error=None,
        number_info=info,
        last_webhook_at=sent - timedelta(hours=1),
        last_send_at=sent,
    )
    assert (silent.status, silent.reason) == ("connected", "webhook_silent")
    heard = cloud_account_status(
        now=NOW,
        token_error=None,
        number_info=info,
        last_webhook_at=sent + timedelta(seconds=3),
        last_send_at=sent,
    )
    assert heard.reason is None


async def test_one_port_for_both_kinds_and_a_number_that_moves(rig: Rig, tmp_path: Path) -> None:
    linked = SimulatedTransport(receipt_delay=0.0)
    kinds = {ACC: "linked"}
    port: WhatsAppTransport = DispatchingTransport(
        linked, rig.transport, lambda a: kinds.get(a, "linked")
    )
    events: list[TransportEvent] = []
    await port.start_session(ACC, tmp_path / f"{ACC}.db", events.append)
    await linked.arun(linked.pair, ACC, "+40722000009")
    assert port.is_connected(ACC)
    linked_result = await port.send_text(ACC, CLIENT_JID, "de pe telefonul legat")
    assert rig.graph.sent == [] and linked_result.message_id
    # the number moves to the Cloud API: same account id, the linked session stopped first
    await port.stop_session(ACC, logout=True)
    kinds[ACC] = "cloud"
    await port.start_session(ACC, tmp_path / f"{ACC}.db", events.append)
    assert events[-1] == Connected(ACC)
    rig.last_inbound[CLIENT_JID] = NOW
    rig.graph.window_open.add("40733111222")
    await port.send_text(ACC, CLIENT_JID, "din Cloud API")
    assert [s.body["text"]["body"] for s in rig.graph.sent] == ["din Cloud API"]
    with pytest.raises(NotLinkedDevice):
        await port.request_pairing_code(ACC, "+40722000009")
    await linked.close()
