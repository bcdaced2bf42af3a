"""`SESSIONS_PATH=postgres://...`: parsing, per-account database names, settings (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from session_daemon.config import ConfigError, settings_from_env
from session_daemon.sessions.pg_sessions import (
    MAX_IDENTIFIER,
    BadSessionsUrl,
    database_name,
    parse_sessions_url,
)
from session_daemon.sessions.session_db import FolderSessions, session_locations


def test_the_url_keeps_its_parameters_and_each_account_gets_its_own_database() -> None:
    url = parse_sessions_url("postgres://crm:p%40ss@db.internal:5433/wa?sslmode=require")
    assert url.prefix == "wa"
    assert (
        url.account_url("acc-1")
        == "postgres://crm:p%40ss@db.internal:5433/wa_acc-1?sslmode=require"
    )
    assert "p%40ss" not in url.redacted() and "crm:***@db.internal:5433" in url.redacted()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("postgres://u@h:5432/", "database prefix in the path"),
        ("postgres://u@h:5432", "database prefix in the path"),
        ("postgres://u@h:99999/wa", "(?i)port"),
        ("postgres://u@h:x/wa", "(?i)port"),
        ("postgres://u@h/Wa-Prefix", "lowercase"),
        ("postgres://u@h/wa/more", "lowercase"),
        ("mysql://u@h/wa", "scheme"),
        ("postgres://u@h/wa#frag", "fragment"),
    ],
)
def test_unusable_urls_are_refused_with_the_reason(raw: str, reason: str) -> None:
    with pytest.raises(BadSessionsUrl, match=reason):
        parse_sessions_url(raw)


def test_database_names_are_distinct_and_fit_postgresql() -> None:
    ids = ["acc-1", "ACC-1", "acc_1", "a" * 80, "a" * 81, "Ünïcode", "x.y"]
    names = [database_name("wa", i) for i in ids]
    assert len(set(names)) == len(ids)
    assert all(len(n.encode()) <= MAX_IDENTIFIER and n.startswith("wa_") for n in names)
    assert database_name("wa", "acc-1") == "wa_acc-1"


def test_settings_keep_the_url_as_text_and_refuse_it_for_the_simulator(tmp_path: Path) -> None:
    env = {"SESSIONS_PATH": "postgres://u:pw@127.0.0.1:5432/wa?sslmode=disable"}
    settings = settings_from_env(env)
    assert settings.sessions_url == env["SESSIONS_PATH"]
    assert not isinstance(session_locations(settings), FolderSessions)
    flag = settings_from_env({}, sessions_path="postgresql://u@h/wa")
    assert flag.sessions_url == "postgresql://u@h/wa"
    assert isinstance(
        session_locations(settings_from_env({}, sessions_path=str(tmp_path))), FolderSessions
    )
    with pytest.raises(ConfigError, match="SESSIONS_PATH: name a database prefix"):
        settings_from_env({"SESSIONS_PATH": "postgres://u@h/"})
    with pytest.raises(ConfigError, match="WHATSAPP_TRANSPORT=neonize"):
        settings_from_env({**env, "WHATSAPP_TRANSPORT": "simulated"})
