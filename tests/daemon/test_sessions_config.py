"""Daemon settings: environment, flags, validation, the sessions folder, the token file."""

from __future__ import annotations

import logging
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from session_daemon.config import (
    ConfigError,
    Settings,
    check_sessions_dir,
    ensure_service_token,
    settings_from_env,
)


def test_flags_win_over_environment() -> None:
    env = {"STORE_URL": "firestore://proj", "PORT": "9000", "SESSIONS_PATH": "/srv/s",
           "WHATSAPP_TRANSPORT": "simulated", "WHATSAPP_BACKFILL_COUNT": "7"}  # fmt: skip
    s = settings_from_env(env)
    assert (s.store_url, s.port, s.sessions_path, s.transport) == (
        "firestore://proj", 9000, Path("/srv/s"), "simulated")  # fmt: skip
    assert s.backfill_count == 7
    s = settings_from_env(env, port=1234, sessions_path="/tmp/x", store_url=None)
    assert (s.port, s.sessions_path, s.store_url) == (1234, Path("/tmp/x"), "firestore://proj")


def test_defaults() -> None:
    s = settings_from_env({})
    assert s.store_url == "sqlite:///./data/superparty.db"
    assert (s.transport, s.host, s.port) == ("neonize", "127.0.0.1", 8080)
    assert s.sessions_path == Path("./data/sessions")
    assert s.session_db("wa_1") == Path("./data/sessions/wa_1.db")


@pytest.mark.parametrize(
    "env",
    [{"PORT": "eighty"}, {"WHATSAPP_TRANSPORT": "carrier-pigeon"}, {"PORT": "70000"},
     {"WHATSAPP_MAX_CONCURRENT_PAIRINGS": "0"}],
)  # fmt: skip
def test_bad_settings_are_clear_errors(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        settings_from_env(env)


def test_sessions_dir_must_be_writable(tmp_path: Path) -> None:
    check_sessions_dir(tmp_path / "new" / "sessions")
    assert (tmp_path / "new" / "sessions").is_dir()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="not writable"):
        check_sessions_dir(blocker / "sessions")


def test_token_generated_once_saved_0600_and_not_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    base = Settings(token_file=tmp_path / "data" / "admin-token")
    with caplog.at_level(logging.INFO):
        first = ensure_service_token(base)
    token = first.service_token
    assert token and len(token) >= 32
    assert stat.S_IMODE(base.token_file.stat().st_mode) == 0o600
    assert str(base.token_file.resolve()) in caplog.text and token not in caplog.text
    assert ensure_service_token(base).service_token == token  # reused, not regenerated
    assert ensure_service_token(replace(base, service_token="g" * 32)).service_token == "g" * 32


def test_a_short_service_token_is_a_config_error(tmp_path: Path) -> None:
    base = Settings(token_file=tmp_path / "admin-token")
    with pytest.raises(ConfigError, match=r"31 characters long.*at least 32"):
        ensure_service_token(replace(base, service_token="s" * 31))
    base.token_file.write_text("short\n")
    with pytest.raises(ConfigError, match="at least 32"):
        ensure_service_token(base)
    assert ensure_service_token(replace(base, service_token="s" * 32)).service_token == "s" * 32
