"""Session databases on PostgreSQL beside SQLite files: what a daemon pays per account.

Starts a throw-away PostgreSQL cluster (tests/support/postgres.py: Debian's server, as the
`postgres` user), then for N accounts times, side by side:
- preparing the location (`PostgresSessions.location`: CREATE DATABASE when missing; the
  folder location only builds a path) and asking whether a session is stored (`exists`);
- whatsmeow opening the store and creating its schema (neonize `GetAllDevices`, in one child
  process per location kind, so the Go library stays out of this process).

    python bench/pg_sessions.py [--accounts 10]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from session_daemon.sessions.pg_sessions import PostgresSessions, parse_sessions_url  # noqa: E402
from session_daemon.sessions.session_db import FolderSessions  # noqa: E402
from tests.support.postgres import postgres_server  # noqa: E402

_OPEN = (
    "import json, sys, time\n"
    "from neonize.client import ClientFactory\n"
    "out = []\n"
    "for loc in sys.argv[1:]:\n"
    "    t = time.perf_counter(); ClientFactory.get_all_devices_from_db(loc)\n"
    "    out.append(time.perf_counter() - t)\n"
    "print(json.dumps(out))\n"
)


def timed_each(fn: Callable[[str], object], accounts: list[str]) -> list[float]:
    out = []
    for account in accounts:
        started = time.perf_counter()
        fn(account)
        out.append(time.perf_counter() - started)
    return out


def neonize_open(locations: list[str]) -> list[float]:
    done = subprocess.run(
        [sys.executable, "-c", _OPEN, *locations],
        env={**os.environ, "NEONIZE_BOT_TAG": "off"},
        capture_output=True,
        check=True,
        timeout=300,
    )
    times: list[float] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return times


def row(name: str, folder: list[float], pg: list[float]) -> None:
    f, p = statistics.median(folder) * 1000, statistics.median(pg) * 1000
    print(f"{name:<34} {f:>10.2f} {p:>12.2f} {p / f if f else float('inf'):>8.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=10)
    opts = parser.parse_args()
    accounts = [f"acc-{i}" for i in range(opts.accounts)]
    with tempfile.TemporaryDirectory() as tmp, postgres_server() as server:
        with server.admin() as conn:  # type: ignore[attr-defined]
            conn.execute("CREATE ROLE bench LOGIN CREATEDB PASSWORD 'bench'")
        pg = PostgresSessions(parse_sessions_url(server.url("wa", user="bench", password="bench")))
        folder = FolderSessions(Path(tmp))
        print(f"{opts.accounts} accounts; median per account, ms")
        print(f"{'':<34} {'SQLite file':>10} {'PostgreSQL':>12} {'ratio':>9}")
        create_f = timed_each(folder.location, accounts)
        create_p = timed_each(pg.location, accounts)
        row("location, first time (create)", create_f, create_p)
        again_f = timed_each(folder.location, accounts)
        again_p = timed_each(pg.location, accounts)
        row("location, again (exists already)", again_f, again_p)
        open_f = neonize_open([str(folder.location(a)) for a in accounts])
        open_p = neonize_open([pg.location(a) for a in accounts])
        row("whatsmeow opens + creates schema", open_f, open_p)
        exists_f = timed_each(folder.exists, accounts)
        exists_p = timed_each(pg.exists, accounts)
        row("stored session? (exists)", exists_f, exists_p)
        wipe_f = timed_each(folder.wipe, accounts)
        wipe_p = timed_each(pg.wipe, accounts)
        row("wipe (new pairing, logout)", wipe_f, wipe_p)


if __name__ == "__main__":
    main()
