"""Session hosts under the supervisor: real child processes, real signals, the daemon's real
inbound pipeline and store. The hosts run the simulated engine here (WhatsApp is unreachable
from test machines, so only a simulated session can be connected, receive and send); the
neonize hosts are exercised offline in test_session_hosts_neonize.py.

What is checked: one account's host dying (SIGKILL, SIGABRT, an ended event loop) leaves the
other accounts receiving and sending, the dead one comes back by itself after a backoff, and
every message the daemon acknowledged is stored exactly once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from session_daemon.hosts.supervisor import HostedTransport, HostGone, HostOptions, describe_exit
from session_daemon.inbound.pipeline import InboundPipeline
from session_daemon.transport.port import (
    Connected,
    Disconnected,
    LoggedOut,
    NotConnected,
    TransportEvent,
)
from shared.store.port import query
from shared.store.sqlite import SqliteStore

pytestmark = pytest.mark.timeout(90)

CLIENT = "+40733111222"
CLIENT_JID = "40733111222@s.whatsapp.net"


class Rig:
    """A supervisor whose sink is the real inbound pipeline (status events are recorded)."""

    def __init__(self, tmp_path: Path, pipeline: InboundPipeline, store: SqliteStore) -> None:
        self.tmp_path = tmp_path
        self.pipeline = pipeline
        self.store = store
        self.status: list[TransportEvent] = []
        # rand=1.0: the top of the jitter range, so the backoff is deterministic
        self.transport = HostedTransport(
            HostOptions(engine="simulated", backoff_initial=0.4, backoff_max=5.0),
            rand=lambda: 1.0,
        )

    def sink_for(self, account_id: str) -> Any:
        def sink(event: TransportEvent) -> None:
            if type(event).__name__ in ("MessageReceived", "HistorySyncChunk", "ReceiptReceived"):
                self.pipeline.submit(event)
            else:
                self.status.append(event)

        return sink

    async def connect(self, account_id: str) -> None:
        db = self.tmp_path / "sessions" / f"{account_id}.db"
        await self.transport.start_session(account_id, db, self.sink_for(account_id))
        await self.transport.simulate(account_id, "pair")
        await self.wait(lambda: self.transport.is_connected(account_id))

    async def wait(self, predicate: Any, timeout: float = 20.0) -> float:
        started = time.monotonic()
        while not predicate():
            if time.monotonic() - started > timeout:
                raise AssertionError("condition not reached in time")
            await asyncio.sleep(0.02)
        return time.monotonic() - started

    def of(self, account_id: str, kind: type[Any]) -> list[Any]:
        return [e for e in self.status if isinstance(e, kind) and e.account_id == account_id]

    def message_ids(self, account_id: str) -> list[str]:
        tid = f"{account_id}__{CLIENT_JID}"
        return [s.id for s in self.store.query(query(f"threads/{tid}/messages"))]


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    store = SqliteStore(tmp_path / "store.db")
    pipeline = InboundPipeline(store, tmp_path / "journal", flush_interval=0.01)
    await pipeline.start()
    rig = Rig(tmp_path, pipeline, store)
    try:
        yield rig
    finally:
        await rig.transport.close()
        assert rig.transport.host_pids() == {}
        await pipeline.stop()
        store.close()


async def deliver(rig: Rig, account_id: str, text: str) -> str:
    return str(
        await rig.transport.simulate(account_id, "deliver_message", sender=CLIENT, text=text)
    )


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGABRT], ids=["SIGKILL", "SIGABRT"])
async def test_a_crashed_host_costs_only_its_own_account(rig: Rig, sig: signal.Signals) -> None:
    await rig.connect("acc-a")
    await rig.connect("acc-b")
    before = [await deliver(rig, "acc-a", f"a{i}") for i in range(3)]
    pid_a, pid_b = rig.transport.host_pids()["acc-a"], rig.transport.host_pids()["acc-b"]

    os.kill(pid_a, sig)
    killed_at = time.monotonic()
    # B goes on receiving and sending while A is down
    b_ids = [await deliver(rig, "acc-b", f"b{i}") for i in range(3)]
    sent = await rig.transport.send_text("acc-b", CLIENT_JID, "Bună ziua!")
    assert sent.message_id
    assert rig.transport.host_pids()["acc-b"] == pid_b

    await rig.wait(lambda: rig.of("acc-a", Disconnected))
    reason = rig.of("acc-a", Disconnected)[0].reason
    assert signal.Signals(sig).name in reason and "restarting" in reason
    await rig.wait(lambda: len(rig.of("acc-a", Connected)) >= 2)
    back_in = time.monotonic() - killed_at
    assert back_in < 5.0, f"crashed session back in {back_in:.2f} s"
    assert rig.transport.host_pids()["acc-a"] != pid_a
    after = await deliver(rig, "acc-a", "after the crash")

    assert await rig.pipeline.drain(10)
    stored_a = rig.message_ids("acc-a")
    assert sorted(stored_a) == sorted([*before, after])  # nothing lost, nothing twice
    assert sorted(rig.message_ids("acc-b")) == sorted(b_ids)


async def test_acknowledged_messages_survive_a_kill_mid_stream(rig: Rig) -> None:
    """Messages keep arriving while the host is killed: every one the daemon acknowledged (the
    delivery returned) is stored exactly once; the ones cut off were never acknowledged."""
    await rig.connect("acc-a")
    acked: list[str] = []
    cut_off = 0

    async def stream() -> None:
        nonlocal cut_off
        for i in range(40):
            try:
                acked.append(await deliver(rig, "acc-a", f"m{i}"))
            except (HostGone, NotConnected):
                cut_off += 1
                await asyncio.sleep(0.05)

    task = asyncio.create_task(stream())
    await rig.wait(lambda: len(acked) >= 10)
    os.kill(rig.transport.host_pids()["acc-a"], signal.SIGKILL)
    await task
    assert cut_off >= 1 and len(acked) >= 10
    assert await rig.pipeline.drain(10)
    stored = rig.message_ids("acc-a")
    assert len(stored) == len(set(stored))
    assert set(acked) <= set(stored)


async def test_an_ended_event_loop_restarts_with_growing_backoff(rig: Rig) -> None:
    await rig.connect("acc-a")
    gaps = []
    for round_ in (1, 2):
        await rig.transport.simulate("acc-a", "end_loop")
        await rig.wait(lambda r=round_: len(rig.of("acc-a", Disconnected)) >= r)
        ended = time.monotonic()
        await rig.wait(lambda r=round_: len(rig.of("acc-a", Connected)) >= r + 1)
        gaps.append(time.monotonic() - ended)
    reasons = [e.reason for e in rig.of("acc-a", Disconnected)]
    assert all("event loop ended" in r for r in reasons), reasons
    assert "restarting in" in reasons[0]
    # backoff 0.4 s then 0.8 s (rand pinned to the top of the jitter range)
    assert gaps[0] >= 0.35 and gaps[1] >= 0.75, gaps
    assert rig.transport.diagnostics()["restarts"] == {"acc-a": 2}


async def test_a_logged_out_session_is_not_restarted(rig: Rig) -> None:
    await rig.connect("acc-a")
    await rig.transport.simulate("acc-a", "logout")
    await rig.wait(lambda: rig.of("acc-a", LoggedOut))
    os.kill(rig.transport.host_pids()["acc-a"], signal.SIGKILL)
    await asyncio.sleep(1.0)
    assert rig.transport.host_pids() == {}
    assert not rig.of("acc-a", Disconnected)


async def test_a_host_that_hangs_is_stopped_within_the_grace(rig: Rig) -> None:
    """A stop cannot be held up by a wedged session (neonize's Stop can block a minute)."""
    await rig.connect("acc-a")
    pid = rig.transport.host_pids()["acc-a"]
    os.kill(pid, signal.SIGSTOP)  # frozen: it reads nothing and answers nothing
    started = time.monotonic()
    await rig.transport.stop_session("acc-a")
    assert time.monotonic() - started < 5.0
    assert rig.transport.host_pids() == {}
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(NotConnected):
        await rig.transport.send_text("acc-a", CLIENT_JID, "x")


async def test_a_send_cut_off_by_a_crash_is_ambiguous(rig: Rig) -> None:
    await rig.connect("acc-a")
    pid = rig.transport.host_pids()["acc-a"]
    os.kill(pid, signal.SIGSTOP)
    send = asyncio.create_task(rig.transport.send_text("acc-a", CLIENT_JID, "x"))
    await asyncio.sleep(0.2)
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(HostGone) as info:
        await send
    assert info.value.ambiguous  # the outbox marks it failed instead of sending it twice


def test_exit_reasons_are_human() -> None:
    assert "SIGKILL" in describe_exit(-9, None)
    assert "aborted" in describe_exit(-int(signal.SIGABRT), None)
    assert "could not start" in describe_exit(2, None)
    assert describe_exit(3, "the event loop ended: x") == "the event loop ended: x"


async def test_a_killed_zygote_costs_a_restart_of_each_session(rig: Rig) -> None:
    """The hosts are forked by the zygote and die with it; the supervisor starts a new zygote
    and brings every session back."""
    from session_daemon.hosts.launcher import ZygoteLauncher

    await rig.connect("acc-a")
    await rig.connect("acc-b")
    launcher = rig.transport._launcher
    assert isinstance(launcher, ZygoteLauncher) and launcher._proc is not None
    os.kill(launcher._proc.pid, signal.SIGKILL)
    await rig.wait(
        lambda: len(rig.of("acc-a", Connected)) >= 2 and len(rig.of("acc-b", Connected)) >= 2
    )
    assert launcher.starts == 2
    assert await deliver(rig, "acc-a", "after") and await deliver(rig, "acc-b", "after")


async def test_a_host_ends_its_session_when_the_lease_is_not_renewed(rig: Rig) -> None:
    """The lease watchdog: while the daemon vouches for the lease the session runs; when it
    stops (the daemon paused), the host disconnects within the trusted time and nothing starts
    it again until the lease is vouched for anew."""
    lease = 0.6
    await rig.connect("acc-a")
    await rig.connect("acc-b")  # never vouched for: no watchdog, it must stay up
    for _ in range(4):  # renewed every third of the lease (the coordinator's tick)
        rig.transport.lease_valid_for("acc-a", lease)
        await asyncio.sleep(lease / 3)
    assert rig.transport.is_connected("acc-a")
    pid = rig.transport.host_pids()["acc-a"]
    rig.transport.lease_valid_for("acc-a", lease)
    silent_at = time.monotonic()
    await rig.wait(lambda: "acc-a" not in rig.transport.host_pids(), timeout=5)
    took = time.monotonic() - silent_at
    assert lease * 0.8 <= took <= lease + 0.5, f"host ended {took:.2f} s after the last renewal"
    await rig.wait(lambda: rig.of("acc-a", Disconnected))
    assert "did not renew the lease" in rig.of("acc-a", Disconnected)[0].reason
    await asyncio.sleep(1.0)  # past the restart backoff: no start under an untrusted lease
    assert "acc-a" not in rig.transport.host_pids()
    assert rig.transport.host_pids().get("acc-b") is not None
    assert rig.transport.is_connected("acc-b")

    rig.transport.lease_valid_for("acc-a", 30.0)  # vouched for again: it comes back by itself
    await rig.wait(lambda: rig.transport.is_connected("acc-a"))
    assert rig.transport.host_pids()["acc-a"] != pid
