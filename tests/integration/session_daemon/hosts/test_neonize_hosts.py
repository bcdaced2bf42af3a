"""Real neonize session hosts, offline: unresolvable hosts (`.invalid`), a proxy that accepts
and never answers (a stalled network), kill -9 and SIGABRT of a host, and start attempts counted
in handles and memory over the whole process tree.

Nothing here reaches WhatsApp or the machine's resolver for a real name: every connection goes
through a proxy under `.invalid` or to the local black hole.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from session_daemon.hosts.proctree import descendants, usage_of
from session_daemon.hosts.supervisor import HostedTransport, HostOptions
from session_daemon.transport.port import NotConnected, TransportError, TransportEvent

pytestmark = pytest.mark.timeout(150)

UNRESOLVABLE = "http://proxy.whatsapp.invalid:3128"


@pytest.fixture
def blackhole() -> Iterator[str]:
    """A proxy that accepts connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(128)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    server.close()
    for conn in held:
        conn.close()


def transport(proxies: dict[str, str], register_timeout: float = 60.0) -> HostedTransport:
    return HostedTransport(
        HostOptions(engine="neonize", start_args={"register_timeout": register_timeout}),
        proxy_for=lambda account: proxies.get(account, UNRESOLVABLE),
    )


class Events:
    def __init__(self) -> None:
        self.items: list[TransportEvent] = []

    def __call__(self, event: TransportEvent) -> None:
        self.items.append(event)


async def test_an_unresolvable_proxy_fails_the_start_fast_and_leaves_no_host(
    tmp_path: Path,
) -> None:
    hosts = transport({})
    started = time.monotonic()
    with pytest.raises(TransportError) as info:
        await hosts.start_session("acc-nx", tmp_path / "acc-nx.db", Events())
    assert time.monotonic() - started < 20
    assert "proxy.whatsapp.invalid" in str(info.value) and info.value.retryable
    assert hosts.host_pids() == {}
    await hosts.close()


async def test_a_stalled_connect_blocks_nobody_else(tmp_path: Path, blackhole: str) -> None:
    hosts = transport({"acc-stall": blackhole})
    stalled = asyncio.create_task(
        hosts.start_session("acc-stall", tmp_path / "acc-stall.db", Events())
    )
    await asyncio.sleep(1.0)
    assert not stalled.done()
    latencies = []
    for _ in range(20):  # other accounts' calls while the stall goes on
        t0 = time.monotonic()
        assert hosts.is_connected("acc-other") is False
        with pytest.raises(NotConnected):
            await hosts.send_text("acc-other", "40733111222@s.whatsapp.net", "x")
        latencies.append(time.monotonic() - t0)
    t0 = time.monotonic()
    with pytest.raises(TransportError):  # another account starts (and fails) meanwhile
        await hosts.start_session("acc-other", tmp_path / "acc-other.db", Events())
    other_start = time.monotonic() - t0
    assert max(latencies) < 1.0
    assert other_start < 20
    assert not stalled.done()
    # stopping the stalled account does not wait for its connect to time out
    t0 = time.monotonic()
    await hosts.stop_session("acc-stall")
    assert time.monotonic() - t0 < 5
    with pytest.raises(TransportError):
        await stalled
    assert hosts.host_pids() == {}
    await hosts.close()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGABRT], ids=["kill-9", "SIGABRT"])
async def test_a_killed_neonize_host_fails_only_its_start(
    tmp_path: Path, blackhole: str, sig: signal.Signals
) -> None:
    hosts = transport({"acc-1": blackhole, "acc-2": blackhole})
    one = asyncio.create_task(hosts.start_session("acc-1", tmp_path / "acc-1.db", Events()))
    two = asyncio.create_task(hosts.start_session("acc-2", tmp_path / "acc-2.db", Events()))
    for _ in range(200):
        if len(hosts.host_pids()) == 2:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)  # both sessions are inside Go, dialling
    pids = hosts.host_pids()
    os.kill(pids["acc-1"], sig)
    with pytest.raises(TransportError) as info:
        await asyncio.wait_for(one, 10)
    assert signal.Signals(sig).name in str(info.value)
    assert hosts.host_pids() == {"acc-2": pids["acc-2"]}  # the other session is untouched
    assert not two.done()
    await hosts.close()
    with pytest.raises(TransportError):
        await two


async def test_start_attempts_leave_handles_and_memory_flat(tmp_path: Path) -> None:
    """Each start attempt runs in a host of its own, so whatever neonize leaks per attempt (a
    session-database handle and ~0.2 MB in-process) goes away with it. Measured over the whole
    process tree: open handles and PSS after 40 attempts equal those after the warm-up."""
    hosts = transport({})
    lanes = 4
    rounds = 10

    async def attempt(account: str) -> None:
        with pytest.raises(TransportError):
            await hosts.start_session(account, tmp_path / f"{account}.db", Events())

    def usage() -> Any:
        # this process (the daemon side) and the zygote's tree; not the test runner's other
        # children (emulators started by other tests)
        zygote = hosts._launcher._proc  # type: ignore[attr-defined]
        return usage_of([os.getpid(), *(descendants(zygote.pid) if zygote else [])])

    samples: list[Any] = []
    for round_ in range(rounds):
        await asyncio.gather(*(attempt(f"acc-leak-{lane}") for lane in range(lanes)))
        await asyncio.sleep(0.3)  # the zygote reaps its children
        samples.append(usage())
        if round_ == 1:
            baseline = samples[-1]
    final = samples[-1]
    assert hosts.host_pids() == {}
    # this process and the zygote: no host outlives its attempt
    assert final.processes == baseline.processes == 2
    assert abs(final.fds - baseline.fds) <= 5, [s.fds for s in samples]
    assert final.pss_mb - baseline.pss_mb < 10, [round(s.pss_mb, 1) for s in samples]
    zygote = hosts._launcher._proc  # type: ignore[attr-defined]
    await hosts.close()
    assert zygote is not None and zygote.returncode is not None  # closing ends the zygote too


async def test_an_ended_go_loop_ends_the_host(tmp_path: Path) -> None:
    """What Go does when `proto.Marshal` fails for an event it cannot encode: `Neonize()` returns
    the error, so the connect task ends while the session is registered. The host is told."""
    from neonize.exc import NeonizeError

    from session_daemon.hosts.neonize_engine import HostedNeonize
    from session_daemon.transport.neonize_transport import _Session

    ended: list[str] = []
    engine = HostedNeonize(on_loop_ended=ended.append, executor_workers=2)
    loop = asyncio.get_running_loop()
    session = _Session(account_id="acc-loop", sink=Events(), loop=loop)
    session.registered = loop.create_future()
    session.registered.set_result(None)
    engine._sessions["acc-loop"] = session

    async def go_returns() -> None:
        raise NeonizeError("proto: required field Type not set")

    task = asyncio.ensure_future(go_returns())
    task.add_done_callback(lambda t: engine._on_loop_ended(session, t))
    with pytest.raises(NeonizeError):
        await task
    await asyncio.sleep(0)
    assert ended == ["proto: required field Type not set"]
    # a stop is not an ended loop
    session.stopping = True
    task2 = asyncio.ensure_future(go_returns())
    task2.add_done_callback(lambda t: engine._on_loop_ended(session, t))
    with pytest.raises(NeonizeError):
        await task2
    await asyncio.sleep(0)
    assert len(ended) == 1


def test_the_zygote_preloads_without_loading_go() -> None:
    """Go's threads would not survive the fork: the preload must leave the Go library out."""
    import subprocess
    import sys

    code = (
        "import sys; from session_daemon.hosts.zygote import preload; preload(); "
        "print('neonize._binder' in sys.modules, 'neonize' in sys.modules, "
        "'neonize.proto.Neonize_pb2' in sys.modules, 'linkpreview' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["False", "False", "True", "True"], out.stderr


async def test_real_protobuf_bytes_cross_the_host_and_an_ended_loop_restarts_it(
    tmp_path: Path,
) -> None:
    """A neonize host (test hooks: a real client put in place without connecting) gets Go's bytes
    on a delivery thread; the daemon's real pipeline stores them. Then Go's loop returns (what an
    event it cannot encode does): the host ends, the supervisor notices and restarts it with a
    growing backoff, and the restarted session receives again."""
    import base64

    from neonize.events import EVENT_TO_INT
    from neonize.proto import Neonize_pb2 as nz
    from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as e2e

    from session_daemon.inbound.pipeline import InboundPipeline
    from session_daemon.transport.port import Disconnected
    from shared.store.port import query
    from shared.store.sqlite import SqliteStore
    from tests.unit.session_daemon.transport.test_neonize_convert import (
        CLIENT_PN,
        OWN_PN,
        go_complete,
        jid,
        message_ev,
    )

    store = SqliteStore(tmp_path / "store.db")
    pipeline = InboundPipeline(store, tmp_path / "journal", flush_interval=0.01)
    await pipeline.start()
    status: list[TransportEvent] = []

    def sink(event: TransportEvent) -> None:
        if type(event).__name__ in ("MessageReceived", "HistorySyncChunk", "ReceiptReceived"):
            pipeline.submit(event)
        else:
            status.append(event)

    hosts = HostedTransport(
        HostOptions(
            engine="neonize",
            env={"SESSION_HOST_TEST_HOOKS": "1"},
            start_args={"offline_attach": True},
            backoff_initial=0.4,
        ),
        rand=lambda: 1.0,
    )

    async def go(ev: Any) -> None:
        raw = go_complete(ev).SerializeToString()
        args = {"code": EVENT_TO_INT[type(ev)], "raw": base64.b64encode(raw).decode()}
        await hosts._call("acc-go", "go_event", args)

    try:
        await hosts.start_session("acc-go", tmp_path / "acc-go.db", sink)
        await go(nz.Device(JID=jid(OWN_PN, device=7), PushName="SuperParty", Initialized=True))
        await go(nz.Connected(status=True))
        await go(message_ev(e2e.Message(conversation="Bună!"), chat=jid(CLIENT_PN), msg_id="GO1"))
        assert hosts.is_connected("acc-go")
        gaps = []
        for _ in range(2):
            pid = hosts.host_pids()["acc-go"]
            with pytest.raises(TransportError):  # the host ends inside the call
                await hosts._call("acc-go", "go_loop_returns", {"error": "proto: bad enum"})
            ended = time.monotonic()
            while hosts.host_pids().get("acc-go") in (None, pid):  # the restart's new host
                assert time.monotonic() - ended < 30
                await asyncio.sleep(0.02)
            gaps.append(time.monotonic() - ended)
            slot = hosts._slots["acc-go"]
            while slot.host is None or not slot.host.started:  # its session is in place
                assert time.monotonic() - ended < 30
                await asyncio.sleep(0.02)
        await go(message_ev(e2e.Message(conversation="din nou"), chat=jid(CLIENT_PN), msg_id="GO2"))
        assert await pipeline.drain(10)
        tid = f"acc-go__{CLIENT_PN}@s.whatsapp.net"
        stored = {s.id: s.data["body"] for s in store.query(query(f"threads/{tid}/messages"))}
        assert stored == {"GO1": "Bună!", "GO2": "din nou"}
        reasons = [e.reason for e in status if isinstance(e, Disconnected)]
        assert len(reasons) == 2 and all("event loop ended (proto: bad enum)" in r for r in reasons)
        assert gaps[0] >= 0.35 and gaps[1] >= 0.75, gaps  # 0.4 s, then 0.8 s
        assert hosts.diagnostics()["restarts"] == {"acc-go": 2}
    finally:
        await hosts.close()
        await pipeline.stop()
        store.close()


async def test_hosted_transport_imports_sessions_only_while_no_host_runs(
    tmp_path: Path, blackhole: str
) -> None:
    """The port's import path on the hosted transport: the whatsmeow database the neonize
    transport would write, refused while the account's host runs."""
    from session_daemon.session_import.baileys import decode_auth_state
    from session_daemon.transport.port import SessionImporter
    from tests.support.session_import.baileys_folder import make_folder

    account = "acc-import"
    session = decode_auth_state(account, make_folder("40722000006").files())
    db = tmp_path / f"{account}.db"
    hosts = transport({account: blackhole})
    importer: SessionImporter = hosts
    assert await importer.import_session(account, db, session, dry_run=True) == "import"
    assert await hosts.import_session(account, db, session) == "import"
    starting = asyncio.create_task(hosts.start_session(account, db, Events()))
    for _ in range(200):
        if hosts.host_pids():
            break
        await asyncio.sleep(0.05)
    with pytest.raises(TransportError, match="running session"):
        await hosts.import_session(account, db, session, force=True)
    await hosts.close()
    with pytest.raises(TransportError):
        await starting
    assert await hosts.import_session(account, db, session) == "unchanged"
