"""SimulatedTransport behaves like the WhatsApp network the daemon expects."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest

from session_daemon.transport.port import (
    Connected,
    Disconnected,
    HistorySyncChunk,
    LoggedOut,
    MessageReceived,
    NotConnected,
    Paired,
    PairingCode,
    QrCode,
    QrTimeout,
    ReceiptReceived,
    StreamReplaced,
    TemporaryBan,
    TransportError,
    TransportEvent,
)
from session_daemon.transport.simulated import SimulatedTransport
from session_daemon.transport.simulated_wire import (
    SimulatorError,
    lid_for_phone,
    wire_message_from_spec,
)

E = TypeVar("E")


class Sink:
    """Collects events from any thread; `wait_for` polls until a predicate holds."""

    def __init__(self) -> None:
        self.events: list[TransportEvent] = []
        self._lock = threading.Lock()

    def __call__(self, event: TransportEvent) -> None:
        with self._lock:
            self.events.append(event)

    def of(self, kind: type[E]) -> list[E]:
        with self._lock:
            return [e for e in self.events if isinstance(e, kind)]

    async def wait_for(self, kind: type[E], count: int = 1, timeout: float = 3.0) -> list[E]:
        deadline = time.monotonic() + timeout
        while len(self.of(kind)) < count:
            assert time.monotonic() < deadline, (
                f"no {kind.__name__} after {timeout}s: {self.events}"
            )
            await asyncio.sleep(0.01)
        return self.of(kind)


async def paired(
    tmp_path: Path, account: str = "acc1", receipt_delay: float = 0.02
) -> tuple[SimulatedTransport, Sink]:
    sim = SimulatedTransport(qr_interval=0.05, receipt_delay=receipt_delay)
    sink = Sink()
    await sim.start_session(account, tmp_path / f"{account}.session", sink)
    await sink.wait_for(QrCode)
    await sim.arun(sim.pair, account, "0722 000 111", "Superparty")
    return sim, sink


async def test_qr_codes_repeat_until_timeout(tmp_path: Path) -> None:
    sim = SimulatedTransport(qr_interval=0.03, qr_timeout=0.2)
    sink = Sink()
    await sim.start_session("acc1", tmp_path / "acc1.session", sink)
    await sink.wait_for(QrTimeout)
    codes = [e.code for e in sink.of(QrCode)]
    assert len(codes) >= 3 and len(set(codes)) == len(codes)
    assert all(c.count(",") == 3 for c in codes)
    assert isinstance(sink.events[-1], QrTimeout)
    with pytest.raises(SimulatorError) as err:
        sim.pair("acc1", "+40722000111")
    assert err.value.code == "not_pairing"
    await sim.close()


async def test_pairing_persists_and_a_new_instance_resumes_without_qr(tmp_path: Path) -> None:
    sim, sink = await paired(tmp_path)
    kinds = [type(e) for e in sink.events if not isinstance(e, QrCode)]
    assert kinds == [Paired, Connected]
    assert sink.of(Paired)[0].own_jid == "40722000111@s.whatsapp.net"
    assert sim.is_connected("acc1")
    await sim.close()
    assert json.loads((tmp_path / "acc1.session").read_text())["paired"] is True

    restarted = SimulatedTransport(qr_interval=0.05)
    sink2 = Sink()
    await restarted.start_session("acc1", tmp_path / "acc1.session", sink2)
    await asyncio.sleep(0.1)
    assert [type(e) for e in sink2.events] == [Connected]
    assert restarted.own_jid("acc1") == "40722000111@s.whatsapp.net"
    await restarted.close()


async def test_phone_code_pairing(tmp_path: Path) -> None:
    sim = SimulatedTransport(qr_interval=0.05)
    sink = Sink()
    await sim.start_session("acc1", tmp_path / "acc1.session", sink)
    code = await sim.request_pairing_code("acc1", "+40722000111")
    assert len(code) == 8 and sink.of(PairingCode)[0].code == code
    with pytest.raises(SimulatorError) as err:
        sim.pair_with_code("acc1", "WRONGCOD")
    assert err.value.code == "bad_pairing_code"
    assert sim.pair_with_code("acc1", code.lower()) == "40722000111@s.whatsapp.net"
    await sink.wait_for(Connected)
    with pytest.raises(TransportError):
        await sim.request_pairing_code("acc1", "+40722000111")  # not showing QRs any more
    await sim.close()


async def test_messages_from_phone_and_lid_addresses(tmp_path: Path) -> None:
    sim, sink = await paired(tmp_path)
    mid = await sim.adeliver_message("acc1", "0733 111 222", "Bună", push_name="Ion")
    msg = sink.of(MessageReceived)[-1].message
    assert (msg.id, msg.chat_jid, msg.from_me, msg.push_name) == (
        mid,
        "40733111222@s.whatsapp.net",
        False,
        "Ion",
    )
    assert msg.timestamp.tzinfo is not None

    await sim.adeliver_message("acc1", "+40733111222", "prin LID", via_lid=True)
    msg = sink.of(MessageReceived)[-1].message
    lid = lid_for_phone("+40733111222")
    assert msg.chat_jid == lid and msg.chat_pn_jid == "40733111222@s.whatsapp.net"
    assert sim.pn_for_lid("acc1", lid) == "40733111222@s.whatsapp.net"

    await sim.adeliver_message("acc1", "999888777@lid", "necunoscut")
    msg = sink.of(MessageReceived)[-1].message
    assert msg.chat_jid == "999888777@lid" and msg.chat_pn_jid is None
    sim.learn_lid("acc1", "999888777@lid", "+40744000000")
    assert sim.pn_for_lid("acc1", "999888777@lid") == "40744000000@s.whatsapp.net"

    media = {"type": "image", "mimetype": "image/jpeg"}
    await sim.adeliver_message("acc1", "+40733111222", "poza", media=media)
    msg = sink.of(MessageReceived)[-1].message
    assert msg.message_type == "image" and msg.media is not None
    assert msg.media.mimetype == "image/jpeg"

    typed = await sim.atype_on_phone("acc1", "+40733111222", "Vă sun imediat")
    msg = sink.of(MessageReceived)[-1].message
    assert msg.from_me and msg.id == typed and msg.sender_jid == "40722000111@s.whatsapp.net"
    assert [r.text for r in sim.received_by("+40733111222")] == ["Vă sun imediat"]
    await sim.close()


async def test_sends_receipts_and_failure_switches(tmp_path: Path) -> None:
    sim, sink = await paired(tmp_path, receipt_delay=0.01)
    result = await sim.send_text("acc1", "40733111222@s.whatsapp.net", "Salut")
    receipts = await sink.wait_for(ReceiptReceived)
    assert receipts[0].message_ids == (result.message_id,)
    assert receipts[0].status == "delivered"
    assert sim.received_by("0733111222")[0].message_id == result.message_id

    assert sim.read("acc1", "+40733111222") == [result.message_id]
    read = await sink.wait_for(ReceiptReceived, 2)
    assert read[-1].status == "read"
    sim.receipt("acc1", "+40733111222", [result.message_id], "delivered")  # late duplicate
    assert len(sink.of(ReceiptReceived)) == 3

    sim.fail_sends("retryable", count=2)
    for _ in range(2):
        with pytest.raises(TransportError) as err:
            await sim.send_text("acc1", "40733111222@s.whatsapp.net", "x")
        assert err.value.retryable
    await sim.send_text("acc1", "40733111222@s.whatsapp.net", "merge")
    sim.fail_sends("permanent")
    with pytest.raises(TransportError) as err:
        await sim.send_text("acc1", "40733111222@s.whatsapp.net", "x")
    assert not err.value.retryable
    sim.fail_sends(None)
    assert [r.text for r in sim.received_by("+40733111222")] == ["Salut", "merge"]
    await sim.close()


async def test_offline_messages_arrive_on_reconnect(tmp_path: Path) -> None:
    sim, sink = await paired(tmp_path)
    sim.disconnect("acc1")
    await sink.wait_for(Disconnected)
    with pytest.raises(NotConnected):
        await sim.send_text("acc1", "40733111222@s.whatsapp.net", "x")
    mid = sim.deliver_message("acc1", "+40733111222", "cât timp erai offline")
    assert not sink.of(MessageReceived)
    sim.reconnect("acc1")
    assert sink.of(MessageReceived)[0].message.id == mid
    assert isinstance(sink.events[-2], Connected)
    await sim.close()


async def test_logout_ban_and_stream_replaced(tmp_path: Path) -> None:
    sim, sink = await paired(tmp_path)
    sim.stream_replace("acc1")
    assert isinstance(sink.events[-1], StreamReplaced) and not sim.is_connected("acc1")

    sim.ban("acc1", seconds=60)
    assert isinstance(sink.events[-1], TemporaryBan)
    sink2 = Sink()
    await sim.start_session("acc1", tmp_path / "acc1.session", sink2)
    assert [type(e) for e in sink2.events] == [TemporaryBan]
    expires = sink2.of(TemporaryBan)[0].expires_at
    assert expires is not None and expires > datetime.now(UTC)

    sim2, sink3 = await paired(tmp_path, account="acc2")
    sim2.logout("acc2")
    assert isinstance(sink3.events[-1], LoggedOut)
    with pytest.raises(SimulatorError) as err:
        sim2.deliver_message("acc2", "+40733111222", "x")
    assert err.value.code == "logged_out"
    assert json.loads((tmp_path / "acc2.session").read_text())["paired"] is False
    sink4 = Sink()
    await sim2.start_session("acc2", tmp_path / "acc2.session", sink4)
    await sink4.wait_for(QrCode)  # a logged-out session must pair again
    await sim.close()
    await sim2.close()


async def test_history_sync_and_on_demand_history(tmp_path: Path) -> None:
    sim, sink = await paired(tmp_path)
    first = await sim.adeliver_message("acc1", "+40733111222", "unu", timestamp=1_700_000_000)
    n = await sim.ahistory_sync(
        "acc1",
        [{"from": "+40733111222", "text": "vechi", "timestamp": 1_600_000_000, "id": "OLD1"}],
        {"555@lid": "+40744000000"},
        {"+40733111222": "Ion"},
    )
    assert n == 1
    chunk = sink.of(HistorySyncChunk)[0]
    assert chunk.lid_to_pn == {"555@lid": "40744000000@s.whatsapp.net"}
    assert chunk.push_names == {"40733111222@s.whatsapp.net": "Ion"}
    assert sim.pn_for_lid("acc1", "555@lid") == "40744000000@s.whatsapp.net"

    await sim.request_history("acc1", "40733111222@s.whatsapp.net", 10)
    chunks = await sink.wait_for(HistorySyncChunk, 2)
    ids = [m.id for m in chunks[1].messages]
    assert ids == ["OLD1", first]  # oldest first, overlapping what was delivered live
    await sim.close()


def test_message_specs_are_validated() -> None:
    own = "40722000111@s.whatsapp.net"
    msg = wire_message_from_spec(
        {"from": "0733111222", "text": "hi", "timestamp": 1_700_000_000_000, "fromMe": True},
        own_jid=own,
    )
    assert msg.from_me and msg.sender_jid == own and msg.timestamp.year == 2023
    for bad in (
        {},
        {"from": "nu e telefon"},
        {"from": "0733111222", "text": 5},
        {"from": "0733111222", "fromMe": "yes"},
        {"from": "0733111222", "timestamp": "ieri"},
        {"from": "0733111222", "media": {"type": "gif"}},
        {"from": "0733111222", "messageType": "poll"},
        "not an object",
    ):
        with pytest.raises(SimulatorError) as err:
            wire_message_from_spec(bad, own_jid=own)  # type: ignore[arg-type]
        assert err.value.code == "invalid_argument"


async def test_unknown_account_and_connect_failures(tmp_path: Path) -> None:
    sim = SimulatedTransport()
    with pytest.raises(SimulatorError) as err:
        sim.deliver_message("nope", "+40733111222", "x")
    assert err.value.code == "unknown_account"
    sim.fail_connects("acc1", 2)
    for _ in range(2):
        with pytest.raises(TransportError):
            await sim.start_session("acc1", tmp_path / "a.session", Sink())
    sink = Sink()
    await sim.start_session("acc1", tmp_path / "a.session", sink)
    await sink.wait_for(QrCode)
    await sim.close()


async def test_a_refused_message_is_redelivered_at_the_next_connect(tmp_path: Path) -> None:
    sim, sink = await paired(tmp_path)
    refusing = True

    def flaky(event: TransportEvent) -> None:
        if refusing and isinstance(event, MessageReceived):
            raise RuntimeError("daemon stopping")
        sink(event)

    await sim.start_session("acc1", tmp_path / "acc1.session", flaky)
    with pytest.raises(RuntimeError):
        sim.deliver_message("acc1", "+40733111222", "nu s-a confirmat", msg_id="UNACKED")
    refusing = False
    await sim.start_session("acc1", tmp_path / "acc1.session", flaky)  # the daemon restarted
    assert [e.message.id for e in sink.of(MessageReceived)] == ["UNACKED"]
    await sim.close()
