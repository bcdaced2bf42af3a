"""`NeonizeTransport` without WhatsApp: real neonize clients and real protobuf bytes handed to
the very C callbacks Go calls, plus a real (offline) `start_session`.

WhatsApp is unreachable from the test machines, so nothing here pairs or sends for real; the
adapter's wiring (callbacks → conversion → sink, connection state, QR window, guards that keep
FFI calls away from sessions Go does not hold) is what is checked.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from neonize._binder import func_callback_bytes, func_string
from neonize.events import EVENT_TO_INT
from neonize.proto import Neonize_pb2 as nz
from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as e2e

from session_daemon.transport.neonize_transport import (
    SUBSCRIBED_EVENTS,
    NeonizeTransport,
    _Session,
)
from session_daemon.transport.port import (
    Connected,
    Disconnected,
    HistorySyncChunk,
    MessageReceived,
    NotConnected,
    Paired,
    PairFailed,
    PasskeyRequired,
    QrCode,
    QrTimeout,
    ReceiptReceived,
    TransportError,
    TransportEvent,
    WhatsAppTransport,
)
from tests.unit.session_daemon.transport.test_neonize_convert import (
    CLIENT_LID,
    CLIENT_PN,
    EXPECTED_MS,
    OWN_PN,
    TS_MS,
    TS_S,
    go_complete,
    history_ev,
    jid,
    message_ev,
    receipt_ev,
)

ACC = "acc-neo"
OFFLINE_ACC = "acc-offline"
PN_CHAT = f"{CLIENT_PN}@s.whatsapp.net"


class Recorder:
    """A thread-safe sink that remembers which thread called it."""

    def __init__(self) -> None:
        self.events: list[TransportEvent] = []
        self.threads: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, event: TransportEvent) -> None:
        with self._lock:
            self.events.append(event)
            self.threads.add(threading.current_thread().name)

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


def attach(
    transport: NeonizeTransport, tmp_path: Path, sink: Callable[[TransportEvent], None]
) -> _Session:
    """A session whose neonize client exists but never reached Go (no connect)."""
    session = _Session(account_id=ACC, sink=sink, loop=asyncio.get_running_loop())
    session.registered = session.loop.create_future()
    session.client = transport._new_client(session, tmp_path / f"{ACC}.db")
    transport._sessions[ACC] = session
    return session


def go_event(session: _Session, ev: Any) -> None:
    """Deliver `ev` exactly as Go does: protobuf bytes through the C event callback."""
    assert session.client is not None
    raw = go_complete(ev).SerializeToString()
    buf = ctypes.create_string_buffer(raw, len(raw))
    callback = func_callback_bytes(session.client.event.execute)
    callback(ACC.encode(), ctypes.addressof(buf), len(raw), EVENT_TO_INT[type(ev)])


def go_qr(session: _Session, code: bytes) -> None:
    assert session.client is not None
    buf = ctypes.create_string_buffer(code)
    func_string(session.client._NewAClient__onQr)(ACC.encode(), ctypes.addressof(buf))


def go_login_status(session: _Session, status: bytes) -> None:
    assert session.client is not None
    buf = ctypes.create_string_buffer(status)
    func_string(session.client._NewAClient__onLoginStatus)(ACC.encode(), ctypes.addressof(buf))


def device_ev() -> nz.Device:
    return nz.Device(JID=jid(OWN_PN, device=21), PushName="SuperParty", Initialized=True)


async def settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


# ---- the port ------------------------------------------------------------------------------------


def test_implements_the_port() -> None:
    transport: WhatsAppTransport = NeonizeTransport(executor_workers=4)
    assert transport.is_connected("nobody") is False
    assert transport.pn_for_lid("nobody", f"{CLIENT_LID}@lid") is None


async def test_subscribes_to_the_events_it_converts(tmp_path: Path) -> None:
    session = attach(NeonizeTransport(executor_workers=4), tmp_path, Recorder())
    assert session.client is not None
    subscribed = set(session.client.event.list_func)
    assert subscribed == {EVENT_TO_INT[ev] for ev in SUBSCRIBED_EVENTS}
    for ev in (nz.Message, nz.Receipt, nz.HistorySync, nz.PairStatus, nz.LoggedOut):
        assert EVENT_TO_INT[ev] in subscribed


async def test_send_without_a_session_is_not_connected() -> None:
    transport = NeonizeTransport(executor_workers=4)
    with pytest.raises(NotConnected):
        await transport.send_text(ACC, PN_CHAT, "salut")
    with pytest.raises(TransportError) as bad_jid:
        await transport.send_text(ACC, "not-a-jid", "salut")
    assert bad_jid.value.retryable is False
    with pytest.raises(NotConnected):
        await transport.request_pairing_code(ACC, "+40722000001")
    await transport.send_presence(ACC, PN_CHAT, composing=True)  # best effort: no error


async def test_send_before_connected_is_not_connected(tmp_path: Path) -> None:
    transport = NeonizeTransport(executor_workers=4)
    session = attach(transport, tmp_path, Recorder())
    await asyncio.to_thread(go_event, session, device_ev())  # Go holds it, not connected yet
    assert session.go_alive
    with pytest.raises(NotConnected):
        await transport.send_text(ACC, PN_CHAT, "salut")
    assert transport.is_connected(ACC) is False


async def test_request_history_is_unavailable_in_neonize_0_5_2() -> None:
    with pytest.raises(TransportError) as err:
        await NeonizeTransport(executor_workers=4).request_history(ACC, PN_CHAT, 50)
    assert err.value.retryable is False


async def test_invalid_pairing_phone_is_rejected() -> None:
    with pytest.raises(TransportError) as err:
        await NeonizeTransport(executor_workers=4).request_pairing_code(ACC, "07-22")
    assert err.value.retryable is False


# ---- events through the Go callback --------------------------------------------------------------


async def test_events_reach_the_sink_in_order_on_the_delivery_thread(tmp_path: Path) -> None:
    transport = NeonizeTransport(executor_workers=4)
    sink = Recorder()
    session = attach(transport, tmp_path, sink)

    def go_delivery_thread() -> None:  # one thread per session hands events over, in order
        go_event(session, device_ev())
        go_event(session, nz.Connected(status=True))
        for i in range(200):
            text = e2e.Message(conversation=f"mesaj {i}")
            go_event(session, message_ev(text, chat=jid(CLIENT_PN), msg_id=f"M{i:03d}"))
        go_event(session, receipt_ev(nz.Receipt.READ, chat=jid(CLIENT_PN)))
        go_event(session, history_ev())
        go_event(session, nz.Presence(From=jid(CLIENT_PN)))  # not subscribed: ignored

    thread = threading.Thread(target=go_delivery_thread, name="go-delivery")
    thread.start()
    await asyncio.to_thread(thread.join)
    await settle()

    assert session.registered is not None and session.registered.done()
    assert session.own_jid == f"{OWN_PN}@s.whatsapp.net"
    assert sink.threads == {"go-delivery"}  # the sink call is the acknowledgement
    assert isinstance(sink.events[0], Connected)
    messages = sink.of(MessageReceived)
    assert [m.message.id for m in messages] == [f"M{i:03d}" for i in range(200)]
    assert messages[0].message.timestamp == EXPECTED_MS
    assert messages[0].message.chat_jid == PN_CHAT
    assert sink.of(ReceiptReceived)[0].status == "read"
    chunk = sink.of(HistorySyncChunk)[0]
    assert len(chunk.messages) == 5
    assert chunk.messages[-1].sender_jid == f"{OWN_PN}@s.whatsapp.net"  # own JID from Device
    assert transport.is_connected(ACC) is True
    assert transport.diagnostics() == {
        "sessions": 1,
        "connected": 1,
        "pairing": 0,
        "stuckSessionThreads": 0,
        "unknownEvents": {},
    }

    await asyncio.to_thread(go_event, session, nz.Disconnected(status=True))
    assert isinstance(sink.events[-1], Disconnected)
    assert transport.is_connected(ACC) is False


async def test_a_failing_sink_never_unwinds_into_go(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_sink(event: TransportEvent) -> None:
        raise RuntimeError("journal full")

    session = attach(NeonizeTransport(executor_workers=4), tmp_path, broken_sink)
    ev = message_ev(e2e.Message(conversation="x"), chat=jid(CLIENT_PN))
    await asyncio.to_thread(go_event, session, ev)  # returns normally
    assert "could not be handled" in caplog.text


async def test_lid_chat_is_mapped_through_the_lid_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    transport = NeonizeTransport(executor_workers=4)
    sink = Recorder()
    session = attach(transport, tmp_path, sink)
    asked: list[str] = []

    def lid_store(_session: _Session, lid: Any) -> str | None:  # whatsmeow's LID store
        asked.append(f"{lid.User}@{lid.Server}")
        return PN_CHAT

    # whatsmeow's LID store needs a logged-in device; stand in for that one lookup.
    monkeypatch.setattr(transport, "_lookup_pn", lid_store)
    lid_ev = message_ev(e2e.Message(conversation="x"), chat=jid(CLIENT_LID, "lid"), lid=True)
    await asyncio.to_thread(go_event, session, lid_ev)
    msg = sink.of(MessageReceived)[0].message
    assert (msg.chat_jid, msg.chat_pn_jid, msg.sender_pn_jid) == (
        f"{CLIENT_LID}@lid",
        PN_CHAT,
        PN_CHAT,
    )
    assert asked == [f"{CLIENT_LID}@lid"]
    phone_ev = message_ev(e2e.Message(conversation="y"), chat=jid(CLIENT_PN))
    await asyncio.to_thread(go_event, session, phone_ev)
    assert asked == [f"{CLIENT_LID}@lid"]  # phone chats need no lookup


async def test_pn_for_lid_never_calls_go_for_a_session_go_does_not_hold(tmp_path: Path) -> None:
    transport = NeonizeTransport(executor_workers=4)
    attach(transport, tmp_path, Recorder())  # a Go call here would kill the process
    assert transport.pn_for_lid(ACC, f"{CLIENT_LID}@lid") is None
    assert transport.pn_for_lid(ACC, PN_CHAT) is None


async def test_while_stopping_only_inbound_data_is_delivered(tmp_path: Path) -> None:
    sink = Recorder()
    session = attach(NeonizeTransport(executor_workers=4), tmp_path, sink)
    session.stopping = True
    await asyncio.to_thread(go_event, session, nz.Connected(status=True))
    ev = message_ev(e2e.Message(conversation="târziu"), chat=jid(CLIENT_PN))
    await asyncio.to_thread(go_event, session, ev)  # acknowledged by whatsmeow: keep it
    assert [type(e) for e in sink.events] == [MessageReceived]


# ---- QR window -----------------------------------------------------------------------------------


async def test_qr_codes_then_our_timeout_ends_the_pairing_once(tmp_path: Path) -> None:
    transport = NeonizeTransport(executor_workers=4, qr_timeout_seconds=0.2)
    sink = Recorder()
    session = attach(transport, tmp_path, sink)
    await asyncio.to_thread(go_qr, session, b"2@first,k1,k2,k3")
    await asyncio.to_thread(go_qr, session, b"2@second,k1,k2,k3")
    await settle()
    assert [e.code for e in sink.of(QrCode)] == ["2@first,k1,k2,k3", "2@second,k1,k2,k3"]
    assert session.registered is not None and session.registered.done()
    await asyncio.sleep(0.5)
    assert sink.of(QrTimeout) == [QrTimeout(ACC)]
    assert transport.session_ids() == []  # the pairing was stopped
    await asyncio.to_thread(go_login_status, session, b"timeout")  # whatsmeow's own, later
    await asyncio.to_thread(go_qr, session, b"2@late,k1,k2,k3")
    await settle()
    assert len(sink.of(QrTimeout)) == 1
    assert len(sink.of(QrCode)) == 2


async def test_whatsmeow_qr_timeout_is_reported(tmp_path: Path) -> None:
    transport = NeonizeTransport(executor_workers=4, qr_timeout_seconds=60)
    sink = Recorder()
    session = attach(transport, tmp_path, sink)
    await asyncio.to_thread(go_qr, session, b"2@only,k1,k2,k3")
    await asyncio.to_thread(go_login_status, session, b"timeout")
    await settle()
    assert sink.of(QrTimeout) == [QrTimeout(ACC)]
    assert session.qr_timer is not None and session.qr_timer.cancelled()


async def test_success_status_closes_the_qr_window(tmp_path: Path) -> None:
    transport = NeonizeTransport(executor_workers=4, qr_timeout_seconds=0.2)
    sink = Recorder()
    session = attach(transport, tmp_path, sink)
    await asyncio.to_thread(go_qr, session, b"2@only,k1,k2,k3")
    await asyncio.to_thread(go_login_status, session, b"success")  # before the device event
    await asyncio.sleep(0.4)
    assert sink.of(QrTimeout) == []
    assert transport.session_ids() == [ACC]


async def test_pairing_error_status_is_pair_failed(tmp_path: Path) -> None:
    sink = Recorder()
    session = attach(NeonizeTransport(executor_workers=4), tmp_path, sink)
    await asyncio.to_thread(go_qr, session, b"2@only,k1,k2,k3")
    await asyncio.to_thread(go_login_status, session, b"err-client-outdated")
    await settle()
    assert sink.of(PairFailed) == [PairFailed(ACC, "err-client-outdated")]


async def test_pairing_success_cancels_the_qr_timer(tmp_path: Path) -> None:
    transport = NeonizeTransport(executor_workers=4, qr_timeout_seconds=0.2)
    sink = Recorder()
    session = attach(transport, tmp_path, sink)
    await asyncio.to_thread(go_qr, session, b"2@only,k1,k2,k3")
    ok = nz.PairStatus(ID=jid(OWN_PN, device=30), Status=nz.PairStatus.SUCCESS)
    await asyncio.to_thread(go_login_status, session, b"success")
    await asyncio.to_thread(go_event, session, device_ev())  # Go's first word after the QR loop
    await asyncio.to_thread(go_event, session, ok)
    await asyncio.sleep(0.4)
    own = f"{OWN_PN}@s.whatsapp.net"
    assert sink.of(Paired) == [Paired(ACC, own_jid=own, push_name="SuperParty")]
    assert sink.of(QrTimeout) == []
    assert transport.session_ids() == [ACC]
    with pytest.raises(TransportError):  # paired: no pairing code any more
        await transport.request_pairing_code(ACC, "+40722000001")


async def test_a_scan_that_never_links_is_passkey_required(tmp_path: Path) -> None:
    """whatsmeow accepted the scan ("success" on the QR channel) but no PairStatus follows: the
    passkey step neonize 0.5.2 cannot answer. A scan that does link reports nothing of it."""
    transport = NeonizeTransport(executor_workers=4, passkey_window_seconds=0.2)
    sink = Recorder()
    session = attach(transport, tmp_path, sink)
    await asyncio.to_thread(go_qr, session, b"2@only,k1,k2,k3")
    await asyncio.to_thread(go_login_status, session, b"success")
    await asyncio.sleep(0.5)
    assert [type(e) for e in sink.of(PasskeyRequired)] == [PasskeyRequired]
    assert "no link followed" in sink.of(PasskeyRequired)[0].detail
    assert sink.of(QrTimeout) == [] and transport.session_ids() == []

    linked = Recorder()
    session = attach(
        NeonizeTransport(executor_workers=4, passkey_window_seconds=0.2), tmp_path, linked
    )
    await asyncio.to_thread(go_qr, session, b"2@only,k1,k2,k3")
    await asyncio.to_thread(go_login_status, session, b"success")
    ok = nz.PairStatus(ID=jid(OWN_PN, device=30), Status=nz.PairStatus.SUCCESS)
    await asyncio.to_thread(go_event, session, ok)
    await asyncio.sleep(0.5)
    assert linked.of(PasskeyRequired) == [] and linked.of(Paired)


def test_unknown_events_are_counted_and_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An event code this daemon does not know, or bytes it cannot parse, never end a session."""
    transport = NeonizeTransport(executor_workers=2)
    session = _Session(account_id=ACC, sink=Recorder(), loop=asyncio.new_event_loop())
    for _ in range(3):
        transport._handle_event(session, 9999, b"")
    transport._handle_event(session, EVENT_TO_INT[nz.Message], b"\xff\xff\xff")
    assert transport.diagnostics()["unknownEvents"] == {
        "event code 9999": 3,
        "unparsable Message": 1,
    }
    assert sum("does not know" in r.getMessage() for r in caplog.records) == 2
    session.loop.close()


# ---- a real session start (offline) --------------------------------------------------------------


@pytest.mark.timeout(90)
async def test_start_session_offline_fails_cleanly_or_shows_a_qr(tmp_path: Path) -> None:
    """Without WhatsApp the first connect must fail fast with a retryable TransportError (the
    caller backs off), leave no session behind and keep the process alive. Where WhatsApp is
    reachable a fresh session shows a QR instead; both outcomes are correct."""
    # Its own account id: clients of other tests stop their uuid when garbage-collected.
    transport = NeonizeTransport(executor_workers=4, register_timeout_seconds=45)
    sink = Recorder()
    db = tmp_path / "sessions" / f"{OFFLINE_ACC}.db"
    try:
        await transport.start_session(OFFLINE_ACC, db, sink)
    except TransportError as exc:
        assert exc.retryable is True
        assert "connect" in str(exc)
        assert transport.session_ids() == []
        assert transport.is_connected(OFFLINE_ACC) is False
    else:
        assert sink.of(QrCode), "a started session without a stored device shows a QR"
        assert transport.is_connected(OFFLINE_ACC) is False
    assert db.parent.is_dir()
    thread_name = await asyncio.to_thread(lambda: threading.current_thread().name)
    assert thread_name.startswith("neonize-ffi")  # our large default executor
    await transport.stop_session(OFFLINE_ACC)
    await transport.close()
    assert transport.session_ids() == []
    with pytest.raises(NotConnected):
        await transport.send_text(OFFLINE_ACC, PN_CHAT, "salut")


@pytest.mark.timeout(120)
async def test_concurrent_and_repeated_starts_are_serialised(tmp_path: Path) -> None:
    """Five accounts started at once and one account retried three times (the session
    manager's backoff path): Go sees one start at a time, every failed client is stopped, and
    collecting the old Python clients does not stop a later session with the same uuid."""
    transport = NeonizeTransport(executor_workers=8)
    accounts = [f"acc-conc-{i}" for i in range(5)]

    async def start(account: str) -> str:
        try:
            await transport.start_session(account, tmp_path / f"{account}.db", Recorder())
        except TransportError:
            return "failed"
        return "started"

    outcomes = await asyncio.gather(*(start(a) for a in accounts))
    for _ in range(3):
        outcomes.append(await start("acc-retry"))
        gc.collect()
    assert set(outcomes) <= {"failed", "started"}
    labels = [*accounts, "acc-retry", "acc-retry", "acc-retry"]
    started = {a for a, o in zip(labels, outcomes, strict=True) if o == "started"}
    assert set(transport.session_ids()) == started
    await transport.close()
    assert transport.session_ids() == []


async def test_a_cancelled_start_leaves_no_session(tmp_path: Path) -> None:
    transport = NeonizeTransport(executor_workers=4)
    for delay in (0, 0.001, 0.005, 0.02):
        start = asyncio.create_task(
            transport.start_session("acc-cancel", tmp_path / "acc-cancel.db", Recorder())
        )
        await asyncio.sleep(delay)
        start.cancel()
        outcome = "cancelled"
        try:
            await start
            outcome = "started"  # it registered before the cancel landed (WhatsApp reachable)
        except asyncio.CancelledError:
            pass
        except TransportError:
            outcome = "failed"
        if outcome == "started":
            await transport.stop_session("acc-cancel")
        assert transport.session_ids() == [], outcome
    await transport.close()


# ---- documents produced --------------------------------------------------------------------------


async def test_protobuf_events_become_store_documents(tmp_path: Path) -> None:
    """Go's bytes → NeonizeTransport → the daemon's real inbound pipeline → SqliteStore: one
    document per WhatsApp message id with the right times (live in ms, history in s), the LID
    message in the phone thread, from-me messages outbound, groups not mirrored."""
    from session_daemon.inbound.pipeline import InboundPipeline
    from shared.store.port import query
    from shared.store.sqlite import SqliteStore

    store = SqliteStore(tmp_path / "store.db")
    transport = NeonizeTransport(executor_workers=4)
    pipeline = InboundPipeline(
        store, tmp_path / "journal", flush_interval=0.01, lid_resolver=transport.pn_for_lid
    )
    await pipeline.start()
    try:
        session = attach(transport, tmp_path, pipeline.submit)

        def go_delivery_thread() -> None:
            go_event(session, device_ev())
            go_event(session, nz.Connected(status=True))
            live = e2e.Message(conversation="Bună, cât costă un animator?")
            go_event(session, message_ev(live, chat=jid(CLIENT_PN), msg_id="3EB0LIVE01"))
            go_event(  # the same client writing from its LID address
                session,
                message_ev(
                    e2e.Message(conversation="și baloane?"),
                    chat=jid(CLIENT_LID, "lid"),
                    lid=True,
                    sender_alt=jid(CLIENT_PN),
                    msg_id="3EB0LID001",
                    ts_ms=TS_MS + 5_000,
                ),
            )
            go_event(  # typed on the linked phone
                session,
                message_ev(
                    e2e.Message(conversation="Vă sun imediat"),
                    chat=jid(CLIENT_PN),
                    sender=jid(OWN_PN),
                    from_me=True,
                    msg_id="3EB0MINE01",
                    ts_ms=TS_MS + 9_000,
                ),
            )
            group = e2e.Message(conversation="grup")
            go_event(
                session,
                message_ev(group, chat=jid("120363025246125486", "g.us"), is_group=True),
            )
            go_event(session, history_ev())  # P1 and P2 land in the same phone thread
            go_event(  # a redelivery of the live message
                session, message_ev(live, chat=jid(CLIENT_PN), msg_id="3EB0LIVE01")
            )

        thread = threading.Thread(target=go_delivery_thread, name="go-delivery")
        thread.start()
        await asyncio.to_thread(thread.join)
        assert await pipeline.drain(10)

        tid = f"{ACC}__{PN_CHAT}"
        docs = {
            s.path.rsplit("/", 1)[1]: s.data
            for s in store.query(query(f"threads/{tid}/messages", order_by=["tsClientMs"]))
        }
        assert set(docs) == {"3EB0LIVE01", "3EB0LID001", "3EB0MINE01", "P1", "P2"}
        assert docs["3EB0LIVE01"]["tsClientMs"] == TS_MS  # live: milliseconds
        assert docs["3EB0LIVE01"]["tsClient"] == EXPECTED_MS
        assert docs["P1"]["tsClientMs"] == TS_S * 1000  # history: seconds
        assert docs["3EB0LIVE01"]["direction"] == "inbound"
        assert docs["3EB0MINE01"]["direction"] == "outbound"
        assert docs["3EB0LID001"]["body"] == "și baloane?"
        thread_doc = store.get(f"threads/{tid}")
        assert thread_doc is not None
        assert thread_doc.data["clientJid"] == PN_CHAT
        client_jids = {t.data["clientJid"] for t in store.query(query("threads"))}
        assert PN_CHAT in client_jids
        # no LID thread; groups are mirrored since issue 12
        assert not [j for j in client_jids if not j.endswith(("@s.whatsapp.net", "@g.us"))]
        assert pipeline.stats()["messagesStored"] >= 5
    finally:
        await pipeline.stop()
        store.close()


async def test_download_media_without_a_session_is_not_connected() -> None:
    transport = NeonizeTransport(executor_workers=2)
    with pytest.raises(NotConnected):
        await transport.download_media("acc-nowhere", "CgA=")
    with pytest.raises(TransportError) as bad:
        await transport.download_media("acc-nowhere", "not base64!")
    assert "no url present" in str(bad.value)  # classified final: nothing to download from
    await transport.close()
