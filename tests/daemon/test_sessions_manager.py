"""SessionManager against a real SqliteStore and a scripted transport (failure injection)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from session_daemon.config import Settings
from session_daemon.sessions.backoff import backoff_delay
from session_daemon.sessions.errors import PairingUnavailable
from session_daemon.sessions.manager import SessionManager
from session_daemon.sessions.secrets import secrets_path
from session_daemon.sessions.status import should_restore, transition_for
from session_daemon.transport.port import (
    Disconnected,
    LoggedOut,
    MessageReceived,
    QrCode,
    StreamReplaced,
    TemporaryBan,
    WireMessage,
)
from shared.store.sqlite import SqliteStore
from tests.daemon.conftest import CollectingInbound, ScriptedTransport


async def until(predicate: Callable[[], Any], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.01)


class Env:
    def __init__(self, tmp: Path, **overrides: Any) -> None:
        self.settings = replace(
            Settings(
                sessions_path=tmp / "sessions",
                service_token="t" * 32,
                connect_backoff_initial=0.01,
                connect_backoff_max=0.05,
                regenerate_cooldown_seconds=0.0,
            ),
            **overrides,
        )
        self.settings.sessions_path.mkdir(parents=True, exist_ok=True)
        self.store = SqliteStore(tmp / "store.db")
        self.transport = ScriptedTransport()
        self.inbound = CollectingInbound()
        self.manager = self.new_manager()

    def new_manager(self) -> SessionManager:
        return SessionManager(self.store, self.transport, self.settings, self.inbound)

    def account(self, account_id: str) -> dict[str, Any]:
        snap = self.store.get(f"accounts/{account_id}")
        assert snap is not None
        return snap.data

    async def settle(self) -> None:
        await asyncio.sleep(0.05)
        await self.manager._events.join()


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    e = Env(tmp_path)
    await e.manager.start()
    yield e
    await e.manager.stop()
    e.store.close()


async def test_pairing_flow_keeps_qr_out_of_the_account_doc(env: Env) -> None:
    result = await env.manager.add_account("Main", "0722 123 456", "+40722123456")
    aid = result.account_id
    assert result.created and aid == "wa_40722123456"
    await env.settle()
    data = env.account(aid)
    assert data["status"] == "qr_ready"
    assert not any("qr" in k.lower() or "pairingcode" in k.lower() for k in data)
    secret = env.store.get(secrets_path(aid))
    assert secret is not None and secret.data["qrCode"] == f"qr-{aid}-1"

    env.transport.pair(aid)
    await env.settle()
    data = env.account(aid)
    assert data["status"] == "connected" and data["paired"] is True
    assert data["lastError"] is None
    assert env.store.get(secrets_path(aid)).data["qrCode"] is None  # type: ignore[union-attr]
    assert env.manager.pairings_in_progress() == 0


async def test_add_account_is_idempotent_by_phone(env: Env) -> None:
    first = await env.manager.add_account("Main", "0722123456", "+40722123456")
    second = await env.manager.add_account("Other name", "+40 722 123 456", "+40722123456")
    assert second.account_id == first.account_id and not second.created
    assert len(env.store.query(__import__("shared.store.port").store.port.query("accounts"))) == 1


async def test_restart_restores_paired_sessions_without_qr(env: Env) -> None:
    aid = (await env.manager.add_account("A", "0722123456", "+40722123456")).account_id
    await env.settle()
    env.transport.pair(aid)
    await env.settle()
    await env.manager.stop()
    env.transport.start_calls.clear()

    env.manager = env.new_manager()
    await env.manager.start()
    await until(lambda: env.account(aid)["status"] == "connected")
    assert env.transport.start_calls == [aid]
    assert env.manager.secrets.get(aid).qr_code is None


async def test_start_failures_back_off_then_connect(env: Env) -> None:
    aid = (await env.manager.add_account("A", "0722123456", "+40722123456")).account_id
    await env.settle()
    env.transport.pair(aid)
    await env.settle()
    await env.manager.stop()
    env.transport.fail_starts[aid] = 3
    env.transport.start_calls.clear()

    env.manager = env.new_manager()
    await env.manager.start()
    await until(lambda: env.account(aid)["status"] == "connected")
    assert env.transport.start_calls == [aid] * 4


async def test_unpaired_start_failures_end_in_error(env: Env) -> None:
    env.transport.fail_starts["wa_40722123456"] = 10
    aid = (await env.manager.add_account("A", "0722123456", "+40722123456")).account_id
    await until(lambda: env.account(aid)["status"] == "error" and not env.manager.is_pairing(aid))
    assert "connection refused" in env.account(aid)["lastError"]
    assert env.transport.start_calls.count(aid) == 3


@pytest.mark.parametrize(
    ("event", "status"),
    [
        (LoggedOut("wa_40722123456", "unlinked"), "logged_out"),
        (StreamReplaced("wa_40722123456"), "stream_replaced"),
        (
            TemporaryBan("wa_40722123456", 402, datetime(2030, 1, 1, tzinfo=UTC)),
            "temporarily_banned",
        ),
    ],
)
async def test_terminal_events_stop_and_are_not_retried(env: Env, event: Any, status: str) -> None:
    aid = (await env.manager.add_account("A", "0722123456", "+40722123456")).account_id
    await env.settle()
    env.transport.pair(aid)
    await env.settle()
    env.transport.emit(event)
    await env.settle()
    await until(lambda: (aid, False) in env.transport.stop_calls)
    assert env.account(aid)["status"] == status
    assert env.account(aid)["lastError"]
    await env.manager.stop()
    env.transport.start_calls.clear()
    env.manager = env.new_manager()
    await env.manager.start()
    await asyncio.sleep(0.1)
    assert env.transport.start_calls == []  # no blind retry at start-up


async def test_disconnect_is_reported_but_session_kept(env: Env) -> None:
    aid = (await env.manager.add_account("A", "0722123456", "+40722123456")).account_id
    await env.settle()
    env.transport.pair(aid)
    env.transport.emit(Disconnected(aid, "network"))
    await env.settle()
    assert env.account(aid)["status"] == "disconnected"
    assert env.transport.stop_calls == []


async def test_qr_timeout_by_own_timer(tmp_path: Path) -> None:
    e = Env(tmp_path, pairing_timeout_seconds=0.2)
    await e.manager.start()
    aid = (await e.manager.add_account("A", "0722123456", "+40722123456")).account_id
    await until(lambda: e.account(aid)["status"] == "needs_qr")
    assert "expired" in e.account(aid)["lastError"]
    await until(lambda: (aid, False) in e.transport.stop_calls)
    assert e.manager.pairings_in_progress() == 0
    await e.manager.stop()
    e.store.close()


async def test_pairing_limit_and_regenerate_semantics(tmp_path: Path) -> None:
    e = Env(tmp_path, max_concurrent_pairings=1)
    await e.manager.start()
    a = (await e.manager.add_account("A", "0722123456", "+40722123456")).account_id
    b = (await e.manager.add_account("B", "0722123457", "+40722123457")).account_id
    await e.settle()
    assert e.account(b)["status"] == "needs_qr"
    again = await e.manager.regenerate_qr(a)
    assert again.kind == "already_in_progress"
    assert again.request_id == e.account(a)["pairingRequestId"]
    with pytest.raises(PairingUnavailable) as info:
        await e.manager.regenerate_qr(b)
    assert info.value.retry_after >= 1
    e.transport.pair(a)
    await e.settle()
    started = await e.manager.regenerate_qr(b)
    assert started.kind == "started"
    await e.manager.stop()
    e.store.close()


async def test_delete_wipes_session_db_and_keeps_threads(env: Env) -> None:
    aid = (await env.manager.add_account("A", "0722123456", "+40722123456")).account_id
    await env.settle()
    env.transport.pair(aid)
    await env.settle()
    thread = f"threads/{aid}__40711111111@s.whatsapp.net"
    env.store.set(thread, {"accountId": aid, "lastMessageText": "hi"})
    env.store.set(f"{thread}/messages/m1", {"accountId": aid, "body": "hi"})
    db = env.settings.session_db(aid)
    assert db.exists()
    assert await env.manager.delete_account(aid) is True
    assert not db.exists()
    assert (aid, True) in env.transport.stop_calls  # unlinked from the phone
    assert env.account(aid)["status"] == "deleted"
    assert env.store.get(thread) is not None and env.store.get(f"{thread}/messages/m1")
    assert await env.manager.delete_account(aid) is False  # idempotent
    revived = await env.manager.add_account("A2", "0722123456", "+40722123456")
    assert revived.account_id == aid and revived.created
    await env.settle()
    assert env.account(aid)["status"] == "qr_ready" and env.account(aid)["name"] == "A2"


async def test_events_of_an_older_session_are_ignored(env: Env) -> None:
    aid = (await env.manager.add_account("A", "0722123456", "+40722123456")).account_id
    await env.settle()
    old_sink = env.transport.sinks[aid]
    await env.manager.delete_account(aid)
    await env.manager.add_account("A", "0722123456", "+40722123456")
    await env.settle()
    old_sink(LoggedOut(aid, "late"))
    await env.settle()
    assert env.account(aid)["status"] == "qr_ready"


async def test_inbound_events_go_to_the_pipeline(env: Env) -> None:
    aid = (await env.manager.add_account("A", "0722123456", "+40722123456")).account_id
    await env.settle()
    msg = WireMessage(
        "M1",
        "40711111111@s.whatsapp.net",
        "40711111111@s.whatsapp.net",
        False,
        datetime.now(UTC),
        text="hello",
    )
    env.transport.emit(MessageReceived(aid, msg))
    assert [type(e).__name__ for e in env.inbound.events] == ["MessageReceived"]


def test_backoff_is_capped_and_jittered() -> None:
    assert backoff_delay(1, initial=1, maximum=300, rand=lambda: 0.0) == 0.5
    assert backoff_delay(1, initial=1, maximum=300, rand=lambda: 1.0) == 1.0
    assert backoff_delay(4, initial=1, maximum=300, rand=lambda: 1.0) == 8.0
    assert backoff_delay(40, initial=1, maximum=300, rand=lambda: 1.0) == 300.0
    assert 150 <= backoff_delay(40, initial=1, maximum=300) <= 300


def test_transition_rules() -> None:
    assert transition_for(QrCode("a", "x")).status == "qr_ready"  # type: ignore[union-attr]
    lo = transition_for(LoggedOut("a"))
    assert lo is not None and lo.stop_session and lo.status == "logged_out"
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert should_restore({"paired": True, "status": "connected"}, now, True)
    assert not should_restore({"paired": True, "status": "connected"}, now, False)
    assert not should_restore({"paired": True, "status": "logged_out"}, now, True)
    assert not should_restore({"paired": False, "status": "connected"}, now, True)
    banned = {"paired": True, "status": "temporarily_banned"}
    assert not should_restore(
        {**banned, "banExpiresAt": datetime(2027, 1, 1, tzinfo=UTC)}, now, True
    )
    assert should_restore({**banned, "banExpiresAt": datetime(2025, 1, 1, tzinfo=UTC)}, now, True)
