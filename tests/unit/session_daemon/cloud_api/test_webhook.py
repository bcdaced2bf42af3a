"""The webhook route end to end: the stand-in sends signed deliveries the way Meta does, the
handler checks and routes them, and the intake journals them through the real inbound pipeline
into a real SQLite store. Bad signatures store nothing; retries store nothing twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from session_daemon.cloud_api.identity import client_thread_id
from session_daemon.cloud_api.intake import PipelineIntake
from session_daemon.cloud_api.model import CloudEvent, CloudMessage, CloudStatus
from session_daemon.cloud_api.routing import CloudAccountKeys
from session_daemon.cloud_api.webhook import CloudWebhook, Delivery
from session_daemon.inbound.convert import message_path, thread_path
from session_daemon.inbound.pipeline import InboundPipeline
from shared import paths
from shared.ids import thread_id
from shared.store.port import Snapshot, query
from shared.store.sqlite import SqliteStore
from tests.support.graph_standin import (
    APP_SECRET,
    PHONE_NUMBER_ID,
    WABA_ID,
    GraphStandIn,
    change,
    contact,
    dumps,
    entry,
    envelope,
    status,
    text_message,
)

ACC = "wa_40722000009"
ACC2 = "wa_40722000010"
PNID2 = "106540352242923"
CLIENT = "40733111222"
BSUID = "RO.13491208655302741918"
KEYS = CloudAccountKeys(ACC, PHONE_NUMBER_ID, WABA_ID, APP_SECRET, "verify-me")
KEYS2 = CloudAccountKeys(ACC2, PNID2, WABA_ID, APP_SECRET, "verify-2")
FOREIGN = CloudAccountKeys("wa_40722000011", "106540352242924", "7", "other-app", "v")


@dataclass
class Rig:
    graph: GraphStandIn
    store: SqliteStore
    pipeline: InboundPipeline
    intake: PipelineIntake
    webhook: CloudWebhook
    url: str
    other: list[tuple[str, CloudEvent]] = field(default_factory=list)
    fail_sink: int = 0

    def messages(self, account: str = ACC, client: str = CLIENT) -> list[Snapshot]:
        tid = thread_id(account, f"{client}@s.whatsapp.net")
        return self.store.query(query(paths.messages_collection(tid), order_by=["tsClient"]))

    async def drain(self) -> None:
        assert await self.pipeline.drain(5)

    async def post(self, payload: dict[str, Any], **kw: Any) -> int:
        return await self.graph.deliver(dumps(payload), **kw)


@pytest.fixture
async def rig(tmp_path: Path, graph: GraphStandIn) -> AsyncIterator[Rig]:
    store = SqliteStore(tmp_path / "store.db")
    pipeline = InboundPipeline(store, tmp_path / "journal", flush_interval=0.01)
    await pipeline.start()
    accounts = {k.account_id: k for k in (KEYS, KEYS2, FOREIGN)}
    by_pnid = {k.phone_number_id: k for k in accounts.values()}
    holder: dict[str, Rig] = {}

    async def on_other(account_id: str, events: list[CloudEvent]) -> None:
        holder["rig"].other.extend((account_id, e) for e in events)

    intake = PipelineIntake(pipeline.submit, on_other, store=store)

    async def sink(delivery: Delivery) -> None:
        if holder["rig"].fail_sink:
            holder["rig"].fail_sink -= 1
            raise OSError("disk full")
        await intake(delivery)

    async def by_account(account_id: str) -> CloudAccountKeys | None:
        return accounts.get(account_id)

    async def by_phone(pnid: str) -> CloudAccountKeys | None:
        return by_pnid.get(pnid)

    webhook = CloudWebhook(by_account, by_phone, sink)
    app = web.Application()
    app.add_routes(webhook.routes())
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    url = str(server.make_url(f"/webhooks/whatsapp-cloud/{ACC}"))
    graph.webhook_url = url
    holder["rig"] = Rig(graph, store, pipeline, intake, webhook, url)
    yield holder["rig"]
    await server.close()
    await pipeline.stop()
    store.close()


def inbound(wamid: str, body: str, ts: int, sender: str = CLIENT, name: str = "Ana Pop") -> dict:
    return change(
        contacts=[contact(sender, name, BSUID if sender == CLIENT else None)],
        messages=[text_message(wamid, body, ts, sender=sender)],
    )


async def test_handshake_is_plain_text_and_checks_the_token(rig: Rig) -> None:
    async with aiohttp.ClientSession() as http:
        params = {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "42"}
        async with http.get(rig.url, params=params) as resp:
            assert resp.status == 200 and resp.content_type == "text/plain"
            assert await resp.text() == "42"
        async with http.get(rig.url, params={**params, "hub.verify_token": "no"}) as resp:
            assert resp.status == 403 and (await resp.json())["error"] == "verify_token_mismatch"
        async with http.get(rig.url.replace(ACC, "wa_1"), params=params) as resp:
            assert resp.status == 404 and resp.content_type == "application/json"


async def test_unsigned_or_mis_signed_deliveries_are_401_and_store_nothing(rig: Rig) -> None:
    payload = envelope(entry(inbound("wamid.A1", "Bună", 1764760000)))
    for signature in (None, "sha256=" + "0" * 64, "sha256=deadbeef", "garbage"):
        assert await rig.post(payload, signature=signature) == 401
    # many failures from one address are not throttled: the next valid delivery goes through
    assert rig.webhook.counters["bad_signature"] == 4
    assert rig.pipeline.stats()["eventsSubmitted"] == 0
    await rig.drain()
    assert rig.messages() == []
    assert await rig.post(payload) == 200
    await rig.drain()
    assert [m.data["body"] for m in rig.messages()] == ["Bună"]


async def test_batched_delivery_and_byte_identical_retries_store_once(rig: Rig) -> None:
    payload = envelope(
        entry(
            inbound("wamid.A1", "Bună, vreau o petrecere cu Elsa", 1764760000),
            inbound("wamid.B1", "Și eu", 1764760005, sender="40733111333", name="Ion"),
        ),
        entry(inbound("wamid.A2", "Pe 14 iunie", 1764760010)),
    )
    assert await rig.post(payload) == 200
    assert await rig.graph.redeliver_last() == 200
    assert await rig.graph.redeliver_last() == 200
    await rig.drain()
    msgs = rig.messages()
    assert [m.data["waMessageId"] for m in msgs] == ["wamid.A1", "wamid.A2"]
    assert all(m.data["direction"] == "inbound" for m in msgs)
    assert [m.data["body"] for m in rig.messages(client="40733111333")] == ["Și eu"]
    thread = rig.store.get(thread_path(thread_id(ACC, f"{CLIENT}@s.whatsapp.net")))
    assert thread is not None and thread.data["displayName"] == "Ana Pop"
    assert thread.data["unreadCount"] == 2  # retries did not count again
    assert rig.pipeline.stats()["duplicatesSkipped"] >= 2


async def test_out_of_order_statuses_move_our_send_forward_only(rig: Rig) -> None:
    tid = thread_id(ACC, f"{CLIENT}@s.whatsapp.net")
    rig.store.create(
        message_path(tid, "req1"),
        {
            "accountId": ACC,
            "clientJid": f"{CLIENT}@s.whatsapp.net",
            "direction": "outbound",
            "status": "sent",
            "waMessageId": "wamid.OUT1",
            "body": "Bună ziua",
        },
    )
    statuses = [
        status("wamid.OUT1", "read", 1764760300, recipient_id=CLIENT),
        status("wamid.OUT1", "delivered", 1764760200, recipient_id=CLIENT),
        status("wamid.OUT1", "sent", 1764760100, recipient_id=CLIENT),
    ]
    for st in statuses:  # one POST each, newest first: as Meta may deliver them
        assert await rig.post(envelope(entry(change(statuses=[st])))) == 200
    await rig.drain()
    doc = rig.store.get(message_path(tid, "req1"))
    assert doc is not None and doc.data["status"] == "read"
    # a failed status after `read` is an error on the message, not a step back
    failed = status(
        "wamid.OUT1",
        "failed",
        1764760400,
        recipient_id=CLIENT,
        errors=[{"code": 131053, "title": "Media upload error"}],
    )
    assert await rig.post(envelope(entry(change(statuses=[failed])))) == 200
    doc = rig.store.get(message_path(tid, "req1"))
    assert doc is not None and doc.data["status"] == "read"
    assert doc.data["deliveryError"]["code"] == "media_error"
    # `sent` is left to the caller (it can settle a send whose answer was lost)
    assert [(a, e.status) for a, e in rig.other if isinstance(e, CloudStatus)] == [(ACC, "sent")]


async def test_echoes_are_stored_as_phone_typed_outbound_once(rig: Rig) -> None:
    tid = thread_id(ACC, f"{CLIENT}@s.whatsapp.net")
    # an app send, already recorded with its wamid (the thread exists: a send needs it)
    rig.store.set(thread_path(tid), {"accountId": ACC, "clientJid": f"{CLIENT}@s.whatsapp.net"})
    rig.store.create(
        message_path(tid, "req1"),
        {
            "accountId": ACC,
            "clientJid": f"{CLIENT}@s.whatsapp.net",
            "direction": "outbound",
            "status": "sent",
            "waMessageId": "wamid.OURS",
            "body": "Trimis din aplicație",
        },
    )
    echoes = [
        {
            "from": "40722000009",
            "to": CLIENT,
            "id": "wamid.E1",
            "timestamp": "1764760200",
            "type": "text",
            "text": {"body": "Vă sunăm mâine"},
        },
        # an echo of our own send: already stored under its requestId, never twice
        {
            "from": "40722000009",
            "to": CLIENT,
            "id": "wamid.OURS",
            "timestamp": "1764760100",
            "type": "text",
            "text": {"body": "Trimis din aplicație"},
        },
    ]
    payload = envelope(entry(change("smb_message_echoes", message_echoes=echoes)))
    assert await rig.post(payload) == 200
    assert await rig.graph.redeliver_last() == 200
    await rig.drain()
    docs = rig.store.query(query(paths.messages_collection(tid)))
    assert sorted((m.id, m.data["direction"], m.data["body"]) for m in docs) == sorted(
        [
            ("req1", "outbound", "Trimis din aplicație"),
            (paths.safe_doc_id("wamid.E1"), "outbound", "Vă sunăm mâine"),
        ]
    )


async def test_routing_by_phone_number_id(rig: Rig) -> None:
    payload = envelope(
        entry(
            inbound("wamid.A1", "pentru primul număr", 1764760000),
            {
                **inbound("wamid.C1", "pentru al doilea", 1764760001),
                "value": {
                    **inbound("wamid.C1", "pentru al doilea", 1764760001)["value"],
                    "metadata": {"display_phone_number": "40722000010", "phone_number_id": PNID2},
                },
            },
            {
                **inbound("wamid.D1", "alt app", 1764760002),
                "value": {
                    **inbound("wamid.D1", "alt app", 1764760002)["value"],
                    "metadata": {
                        "display_phone_number": "40722000011",
                        "phone_number_id": FOREIGN.phone_number_id,
                    },
                },
            },
        )
    )
    assert await rig.post(payload) == 200
    await rig.drain()
    assert [m.data["waMessageId"] for m in rig.messages()] == ["wamid.A1"]
    assert [m.data["waMessageId"] for m in rig.messages(account=ACC2)] == ["wamid.C1"]
    # a number of another Meta app is never written with this app's signature
    assert rig.messages(account=FOREIGN.account_id) == []
    assert rig.webhook.counters["unknown_phone_number_id"] == 1


async def test_a_username_client_gets_a_thread_merged_when_the_phone_appears(rig: Rig) -> None:
    bsuid_tid = client_thread_id(ACC, f"{BSUID}@bsuid")
    only_id = change(
        contacts=[{"profile": {"name": "Ana", "username": "@ana"}, "user_id": BSUID}],
        messages=[
            text_message(
                "wamid.U1", "Salut, am văzut reclama", 1764760000, sender=None, user_id=BSUID
            )
        ],
    )
    assert await rig.post(envelope(entry(only_id))) == 200
    assert await rig.graph.redeliver_last() == 200
    alias = rig.store.get(thread_path(bsuid_tid))
    assert alias is not None and alias.data["clientJid"] == f"{BSUID}@bsuid"
    assert alias.data["displayName"] == "Ana" and alias.data["unreadCount"] == 1
    [first] = rig.store.query(query(paths.messages_collection(bsuid_tid)))
    assert first.data["body"] == "Salut, am văzut reclama"
    # the client shares the phone: Meta names both; one client, one thread
    assert await rig.post(envelope(entry(inbound("wamid.A1", "Sunt Ana", 1764760100)))) == 200
    await rig.drain()
    assert [m.data["waMessageId"] for m in rig.messages()] == ["wamid.U1", "wamid.A1"]
    phone = rig.store.get(thread_path(thread_id(ACC, f"{CLIENT}@s.whatsapp.net")))
    assert phone is not None and phone.data["unreadCount"] == 2
    assert phone.data["lastMessageText"] == "Sunt Ana"
    alias = rig.store.get(thread_path(bsuid_tid))
    assert alias is not None and alias.data["redirectTo"] == phone.id and alias.data["hidden"]
    # nothing deleted: the alias keeps its message
    assert len(rig.store.query(query(paths.messages_collection(bsuid_tid)))) == 1
    # later messages without the phone follow the alias into the phone thread
    later = change(
        contacts=[{"profile": {"name": "Ana"}, "user_id": BSUID}],
        messages=[text_message("wamid.U2", "Mersi", 1764760200, sender=None, user_id=BSUID)],
    )
    assert await rig.post(envelope(entry(later))) == 200
    await rig.drain()
    assert [m.data["waMessageId"] for m in rig.messages()] == ["wamid.U1", "wamid.A1", "wamid.U2"]


async def test_statuses_of_a_username_client_find_the_message_wherever_it_is(rig: Rig) -> None:
    bsuid_tid = client_thread_id(ACC, f"{BSUID}@bsuid")
    rig.store.create(
        message_path(bsuid_tid, "req9"),
        {
            "accountId": ACC,
            "clientJid": f"{BSUID}@bsuid",
            "direction": "outbound",
            "status": "sent",
            "waMessageId": "wamid.OUT9",
            "body": "Bună, Ana",
        },
    )
    # Meta names the recipient by BSUID, and by phone too once it may share it
    read = status("wamid.OUT9", "read", 1764760300, recipient_id=CLIENT, recipient_user_id=BSUID)
    assert await rig.post(envelope(entry(change(statuses=[read])))) == 200
    doc = rig.store.get(message_path(bsuid_tid, "req9"))
    assert doc is not None and doc.data["status"] == "read"
    # a status for a send not recorded yet waits as a pending receipt, nothing lost
    early = status("wamid.OUT10", "delivered", 1764760400, recipient_user_id=BSUID)
    assert await rig.post(envelope(entry(change(statuses=[early])))) == 200
    await rig.drain()
    pending = rig.store.get(paths.pending_receipt_path(ACC, "wamid.OUT10"))
    assert pending is not None and pending.data["status"] == "delivered"


async def test_a_number_change_moves_the_client_s_bsuid_thread_to_the_new_phone(
    rig: Rig,
) -> None:
    only_id = change(
        contacts=[{"profile": {"name": "Ana"}, "user_id": BSUID}],
        messages=[text_message("wamid.U1", "Salut", 1764760000, sender=None, user_id=BSUID)],
    )
    assert await rig.post(envelope(entry(only_id))) == 200
    sentence = "User Ana changed from 40733111222 to 40733999888"
    system = {
        "from": CLIENT,
        "id": "wamid.S1",
        "timestamp": "1764760100",
        "type": "system",
        "system": {
            "body": sentence,
            "type": "user_changed_number",
            "wa_id": "40733999888",
            "user_id": "RO.99",
            "previous_user_id": BSUID,
        },
    }
    assert await rig.post(envelope(entry(change(messages=[system])))) == 200
    await rig.drain()
    # the sentence is in the old phone's thread; the BSUID conversation follows the new phone
    assert [m.data["body"] for m in rig.messages()] == [sentence]
    assert [m.data["waMessageId"] for m in rig.messages(client="40733999888")] == ["wamid.U1"]
    [(account, event)] = rig.other
    assert account == ACC and isinstance(event, CloudMessage) and event.system is not None


async def test_malformed_and_unknown_and_journal_failure(rig: Rig) -> None:
    async with aiohttp.ClientSession() as http:
        from session_daemon.cloud_api.signature import HEADER, sign

        body = b"{not json"
        async with http.post(rig.url, data=body, headers={HEADER: sign(body, APP_SECRET)}) as r:
            assert r.status == 400 and (await r.json())["error"] == "invalid_payload"
        async with http.post(rig.url.replace(ACC, "wa_1"), data=b"{}") as r:
            assert r.status == 404
        async with http.post(rig.url.replace(ACC, "a..b"), data=b"{}") as r:
            assert r.status == 400
    payload = envelope(entry(inbound("wamid.A1", "Bună", 1764760000)))
    rig.fail_sink = 1
    assert await rig.post(payload) == 503  # not journalled: Meta must retry
    assert await rig.graph.redeliver_last() == 200
    await rig.drain()
    assert [m.data["waMessageId"] for m in rig.messages()] == ["wamid.A1"]
