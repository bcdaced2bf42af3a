"""`SESSIONS_PATH=postgres://...` against a real PostgreSQL server (Debian's, started once per test
session as the `postgres` user; tests/support/postgres.py) and the bundled neonize library.

- each account gets its own database, created on first use (idempotent, also when two daemons
  race), and whatsmeow creates its tables in it when neonize opens the DSN the daemon hands over;
- a session stored there by one daemon is found by another (the restore check) and whatsmeow
  restores the very device from it (a real neonize client, offline);
- a new pairing or a logout drops the account's database;
- bad DSNs stop the daemon at start-up with the reason, never the password.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from session_daemon.app import check_session_server
from session_daemon.config import ConfigError
from session_daemon.session_import.model import TABLE_COLUMNS
from session_daemon.sessions.pg_sessions import (
    PostgresSessions,
    SessionServerError,
    database_name,
    parse_sessions_url,
)
from tests.support.daemon import REPO_ROOT, free_port
from tests.support.postgres import PostgresServer, postgres_bin, postgres_server

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(postgres_bin() is None, reason="PostgreSQL is not installed"),
]

USER, PASSWORD = "crm", "s3cret-pw"


@pytest.fixture(scope="session")
def pg() -> Iterator[PostgresServer]:
    with postgres_server() as server:
        with server.admin() as conn:  # type: ignore[attr-defined]
            conn.execute(f"CREATE ROLE {USER} LOGIN CREATEDB PASSWORD '{PASSWORD}'")
            conn.execute("CREATE ROLE nocreate LOGIN PASSWORD 'pw'")
        yield server


def sessions(pg: PostgresServer, prefix: str) -> PostgresSessions:
    return PostgresSessions(parse_sessions_url(pg.url(prefix, user=USER, password=PASSWORD)))


def neonize_devices(*dsns: str) -> list[list[str]]:
    """Open each DSN with the bundled neonize in a child process (its Go library stays out of
    the test process) and list the devices whatsmeow finds there."""
    code = (
        "import json, sys\n"
        "from neonize.client import ClientFactory\n"
        "print(json.dumps([[f'{d.JID.User}@{d.JID.Server}' for d in "
        "ClientFactory.get_all_devices_from_db(a)] for a in sys.argv[1:]]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *dsns],
        env={**os.environ, "NEONIZE_BOT_TAG": "off"},
        capture_output=True,
        timeout=60,
        check=True,
    )
    result: list[list[str]] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return result


def test_each_account_gets_its_own_database_where_whatsmeow_creates_its_tables(
    pg: PostgresServer,
) -> None:
    store = sessions(pg, "wa")
    store.check()
    first = store.location("acc-1")
    assert store.location("acc-1") == first  # idempotent
    second = store.location("acc-2")
    assert first != second
    assert first.endswith("/wa_acc-1?sslmode=disable") and PASSWORD in first
    # two daemons creating one account's database at the same moment: both succeed
    errors: list[BaseException] = []

    def race() -> None:
        try:
            store.location("acc-3")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=race) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert {"wa_acc-1", "wa_acc-2", "wa_acc-3"} <= pg.databases()
    assert not store.exists("acc-1")  # an empty database is no stored session

    assert neonize_devices(first, second) == [[], []]  # whatsmeow opened them: no device yet
    for db in ("wa_acc-1", "wa_acc-2"):
        tables = pg.tables(db)
        assert {"whatsmeow_device", "whatsmeow_identity_keys", "whatsmeow_version"} <= tables
        assert len(tables) >= 15
    assert "whatsmeow_device" not in pg.tables("wa_acc-3")  # never opened by neonize
    assert "whatsmeow_device" not in pg.tables("postgres")


def test_a_session_stored_by_one_daemon_is_restored_by_another(pg: PostgresServer) -> None:
    from session_daemon.session_import.baileys import decode_auth_state
    from tests.support.session_import.baileys_folder import make_folder

    first_daemon = sessions(pg, "shared")
    dsn = first_daemon.location("acc-r")
    assert neonize_devices(dsn) == [[]]  # whatsmeow's schema, as a first start makes it
    # the device a pairing would have stored (the importer's rows: real keys, real ADV protobufs)
    session = decode_auth_state("acc-r", make_folder("40722000031").files())
    with pg.admin(database_name("shared", "acc-r")) as conn:  # type: ignore[attr-defined]
        booleans = {
            (t, c)
            for t, c in conn.execute(
                "SELECT table_name, column_name FROM information_schema.columns"
                " WHERE data_type = 'boolean'"
            ).fetchall()
        }
        for table, rows in session.rows().items():
            cols = TABLE_COLUMNS[table]
            marks = ", ".join("%s" for _ in cols)
            typed = [  # SQLite keeps booleans as 0/1; PostgreSQL wants true/false
                tuple(
                    bool(v) if (table, c) in booleans else v for c, v in zip(cols, row, strict=True)
                )
                for row in rows
            ]
            conn.cursor().executemany(
                f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", typed
            )

    second_daemon = sessions(pg, "shared")  # another machine, the same SESSIONS_PATH
    assert second_daemon.exists("acc-r")
    assert not second_daemon.exists("acc-other")
    assert second_daemon.location("acc-r") == dsn
    probe = subprocess.run(
        [sys.executable, "-m", "tests.support.session_import.neonize_probe", dsn],
        cwd=REPO_ROOT,
        capture_output=True,
        timeout=60,
        check=True,
    )
    line = next(x for x in probe.stdout.decode().splitlines() if x.startswith("PROBE "))
    restored = json.loads(line.removeprefix("PROBE "))
    assert [d["jid"] for d in restored["devices"]] == ["40722000031:12@s.whatsapp.net"]
    assert restored["me"]["user"] == "40722000031" and restored["me"]["device"] == 12
    assert restored["qrCodes"] == 0  # whatsmeow took the logged-in path: no pairing

    second_daemon.wipe("acc-r")  # a new pairing / a logout forgets the credentials
    assert database_name("shared", "acc-r") not in pg.databases()
    assert not first_daemon.exists("acc-r")


def test_bad_session_urls_stop_the_daemon_with_the_reason(
    pg: PostgresServer, tmp_path: Path
) -> None:
    wrong_password = pg.url("wa", user=USER, password="not-it")
    cases = {
        wrong_password: "password authentication failed",
        f"postgres://{USER}:{PASSWORD}@127.0.0.1:{free_port()}/wa?sslmode=disable": (
            "cannot reach the session database server"
        ),
        pg.url("wa", user="nocreate", password="pw"): "may not create databases",
    }
    for url, reason in cases.items():
        with pytest.raises(ConfigError, match=reason) as info:
            check_session_server(url)
        assert "not-it" not in str(info.value) and PASSWORD not in str(info.value)
    with pytest.raises(SessionServerError):
        PostgresSessions(parse_sessions_url(wrong_password)).location("acc-1")

    # the real command: exit 2 and one line saying why, before anything else starts
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "session_daemon",
            "serve",
            "--sessions-path",
            wrong_password,
            "--port",
            str(free_port()),
        ],
        cwd=REPO_ROOT,
        env={
            **os.environ,
            "STORE_URL": "sqlite:///:memory:",
            "WHATSAPP_DAEMON_TOKEN": "t" * 40,
            "WHATSAPP_DATA_PATH": str(pg.socket_dir.parent / "d"),
        },
        capture_output=True,
        timeout=60,
        check=False,
    )
    stderr = done.stderr.decode()
    assert done.returncode == 2, stderr
    assert "configuration error: SESSIONS_PATH:" in stderr
    assert "password authentication failed" in stderr and "not-it" not in stderr


async def test_a_session_host_opens_its_account_database_from_the_url(pg: PostgresServer) -> None:
    """The path a daemon takes: the manager's location, the supervisor, a neonize session host
    that opens the store (whatsmeow creates its tables) and then dials out, here through a proxy
    that does not resolve, so the start fails offline."""
    from session_daemon.hosts.supervisor import HostedTransport, HostOptions
    from session_daemon.transport.port import TransportError

    dsn = sessions(pg, "hosted").location("acc-h")
    hosts = HostedTransport(
        HostOptions(engine="neonize", start_args={"register_timeout": 20}, launcher="exec"),
        proxy_for=lambda _account: "http://proxy.whatsapp.invalid:3128",
    )
    try:
        with pytest.raises(TransportError):
            await hosts.start_session("acc-h", dsn, lambda _event: None)
    finally:
        await hosts.close()
    assert "whatsmeow_device" in pg.tables(database_name("hosted", "acc-h"))
