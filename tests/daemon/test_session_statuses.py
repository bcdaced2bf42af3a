"""Every failure is an explicit status with a human `lastError`; the ones that can heal restart
with backoff; the phone-offline warning follows the phone's own activity (injected clock);
backfill never pretends. SessionManager on a real SqliteStore and the scripted transport."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from session_daemon.sessions.errors import BackfillUnsupported
from session_daemon.sessions.phone_presence import phone_warning
from session_daemon.sessions.status import NO_AUTO_RETRY, STATUS_TABLE, transition_for
from session_daemon.transport.port import (
    ClientOutdated,
    ConnectFailure,
    KeepAliveRestored,
    KeepAliveTimeout,
    MessageReceived,
    PasskeyRequired,
    SessionEnded,
    TemporaryBan,
    WireMessage,
)
from shared.schemas import ACCOUNT_STATUSES
from tests.daemon.test_sessions_manager import Env, until

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    e = Env(tmp_path)
    yield e
    await e.manager.stop()
    e.store.close()


async def paired(env: Env, clock: Clock | None = None) -> str:
    if clock is not None:
        env.manager = env.new_manager()
        env.manager._clock = clock
        env.manager.phones._clock = clock
    await env.manager.start()
    aid = (await env.manager.add_account("A", "0722123456", "+40722123456")).account_id
    await env.settle()
    env.transport.pair(aid)
    await env.settle()
    assert env.account(aid)["status"] == "connected"
    return aid


def test_every_status_has_a_row_in_the_table() -> None:
    assert set(STATUS_TABLE) == set(ACCOUNT_STATUSES)
    for meaning, action in STATUS_TABLE.values():
        assert meaning.endswith(".") and action.endswith(".")


@pytest.mark.parametrize(
    ("event", "status", "words"),
    [
        (KeepAliveTimeout("a", error_count=3), "degraded", "keep-alives"),
        (KeepAliveRestored("a"), "connected", None),
        (ConnectFailure("a", reason="bad_user_agent"), "connect_failed", "does not retry"),
        (ConnectFailure("a", reason="service_unavailable"), "error", "retrying"),
        (ClientOutdated("a"), "client_outdated", "update neonize"),
        (PasskeyRequired("a"), "passkey_required", "Cloud API"),
        (SessionEnded("a", reason="the session's event loop ended (x)"), "disconnected", "loop"),
    ],
)
def test_failure_events_become_statuses_with_reasons(
    event: Any, status: str, words: str | None
) -> None:
    transition = transition_for(event)
    assert transition is not None and transition.status == status
    if words is None:
        assert transition.last_error is None
    else:
        assert transition.last_error and words in transition.last_error


async def test_a_degraded_session_recovers_on_keepalive_restored(env: Env) -> None:
    aid = await paired(env)
    env.transport.emit(KeepAliveTimeout(aid, error_count=2))
    await env.settle()
    assert env.account(aid)["status"] == "degraded"
    assert "keep-alives" in env.account(aid)["lastError"]
    env.transport.emit(KeepAliveRestored(aid))
    await env.settle()
    assert env.account(aid)["status"] == "connected"
    assert env.account(aid)["lastError"] is None


async def test_an_ended_session_loop_restarts_with_growing_backoff(env: Env) -> None:
    aid = await paired(env)
    starts = len(env.transport.start_calls)
    env.transport.emit(SessionEnded(aid, reason="the session's event loop ended (proto)"))
    await until(lambda: len(env.transport.start_calls) == starts + 1)
    await env.settle()
    assert env.account(aid)["status"] == "connected"  # it came back by itself
    assert env.manager._states[aid].restarts == 0  # Connected resets the backoff
    env.transport.fail_starts[aid] = 2  # the next restart needs a few tries
    env.transport.emit(SessionEnded(aid, reason="the session's event loop ended (again)"))
    await until(lambda: len(env.transport.start_calls) >= starts + 2)
    await until(lambda: env.account(aid)["status"] == "connected", timeout=10)
    assert len(env.transport.start_calls) == starts + 4
    assert env.account(aid).get("nextRetryAt") is not None


@pytest.mark.parametrize(
    ("event", "status"),
    [
        (ConnectFailure("x", reason="bad_user_agent", message="403"), "connect_failed"),
        (ClientOutdated("x"), "client_outdated"),
    ],
)
async def test_failures_the_library_never_retries_stop_with_an_instruction(
    env: Env, event: Any, status: str
) -> None:
    aid = await paired(env)
    env.transport.emit(replace(event, account_id=aid))
    await env.settle()
    await asyncio.sleep(0.1)
    assert env.account(aid)["status"] == status
    assert (aid, False) in env.transport.stop_calls
    # not a dead end: the daemon's next start tries again (the operator fixed the cause)
    assert status not in NO_AUTO_RETRY


async def test_a_scan_that_never_pairs_is_passkey_required(env: Env) -> None:
    await env.manager.start()
    aid = (await env.manager.add_account("A", "0722123456", "+40722123456")).account_id
    await env.settle()
    env.transport.emit(PasskeyRequired(aid, detail="scanned, no pairing within 30 s"))
    await env.settle()
    data = env.account(aid)
    assert data["status"] == "passkey_required"
    assert "passkey" in data["lastError"] and "Cloud API" in data["lastError"]
    assert env.manager.pairings_in_progress() == 0
    assert env.manager.secrets.get(aid).qr_code is None


def test_phone_warning_rules() -> None:
    assert phone_warning(None, T0) is None
    assert phone_warning(T0, T0 + timedelta(days=11, hours=23)) is None
    warning = phone_warning(T0, T0 + timedelta(days=12, hours=1))
    assert warning is not None and "12 days" in warning and "in about 1 day" in warning
    assert "any time now" in str(phone_warning(T0, T0 + timedelta(days=15)))


async def test_phone_last_seen_and_the_twelve_day_warning(env: Env) -> None:
    clock = Clock()
    aid = await paired(env, clock)
    await env.manager.phones.check([aid])
    assert env.account(aid)["phoneLastSeenAt"] == T0  # the pairing itself
    assert env.account(aid).get("phoneOfflineWarning") is None

    clock.now = T0 + timedelta(days=12, hours=2)
    await env.manager.phones.check([aid])
    assert "not been seen for 12 days" in env.account(aid)["phoneOfflineWarning"]

    # the owner types on the phone: seen again, the warning goes away
    typed = WireMessage(
        id="MINE1",
        chat_jid="40733111222@s.whatsapp.net",
        sender_jid="40722123456@s.whatsapp.net",
        from_me=True,
        timestamp=clock.now,
        text="revin imediat",
    )
    env.transport.emit(MessageReceived(aid, typed))
    await env.manager.phones.check([aid])
    assert env.account(aid)["phoneLastSeenAt"] == clock.now
    assert env.account(aid)["phoneOfflineWarning"] is None

    # a client's message proves nothing about the phone
    clock.now += timedelta(days=13)
    inbound = replace(typed, id="THEIRS1", from_me=False, timestamp=clock.now)
    env.transport.emit(MessageReceived(aid, inbound))
    await env.manager.phones.check([aid])
    assert env.account(aid)["phoneOfflineWarning"] is not None


async def test_backfill_is_refused_the_same_way_every_time(env: Env) -> None:
    aid = await paired(env)
    env.transport.supports_history_requests = False  # as NeonizeTransport and session hosts
    for connected in (True, False):
        if not connected:
            env.transport.connected.discard(aid)
        with pytest.raises(BackfillUnsupported) as info:
            await env.manager.backfill(aid)
        assert "neonize 0.5.2" in str(info.value)
    assert env.transport.history_requests == []


async def test_a_temporary_ban_shows_its_expiry_and_ends_by_itself(env: Env) -> None:
    aid = await paired(env)
    starts = len(env.transport.start_calls)
    # the ban expired 59.9 s ago: the reconnect (a minute after expiry) is due in 0.1 s
    expires = datetime.now(UTC) - timedelta(seconds=59.9)
    env.transport.emit(TemporaryBan(aid, code=101, expires_at=expires))
    await env.settle()
    data = env.account(aid)
    assert data["status"] == "temporarily_banned" and data["banExpiresAt"] == expires
    assert "until" in data["lastError"]
    await until(lambda: len(env.transport.start_calls) == starts + 1)
    await until(lambda: env.account(aid)["status"] == "connected")


def test_the_readme_and_openapi_carry_the_status_table() -> None:
    from session_daemon.http.openapi import account_status_schema
    from session_daemon.sessions.status import status_table_markdown
    from tests.daemon.conftest import REPO_ROOT

    assert status_table_markdown() in (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    schema = account_status_schema()
    assert schema["enum"] == list(STATUS_TABLE)
    for name, (meaning, _action) in STATUS_TABLE.items():
        assert f"`{name}`: {meaning}" in schema["description"]
