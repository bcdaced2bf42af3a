"""A real PostgreSQL server for tests: Debian's package (scripts/bootstrap.sh installs it), a
fresh cluster in a temporary folder, on a free loopback port, started once per test session.

PostgreSQL refuses to run as root and the tests run as root, so initdb and the server run as the
`postgres` user (`runuser`), in a folder handed to that user. Host connections need a password
(scram-sha-256): the tests prove a wrong password is a clear start-up error. The superuser's
socket login (trust, in the cluster's own folder) creates the test roles.

    with postgres_server() as pg:
        pg.url("wa", user="crm", password="pw")   # postgres://crm:pw@127.0.0.1:PORT/wa?...
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.daemon import free_port

SUPERUSER_PASSWORD = "superparty-test"


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _as_postgres(args: list[str]) -> None:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    done = subprocess.run(prefix + args, capture_output=True, timeout=120, check=False)
    if done.returncode != 0:
        out = (done.stderr or done.stdout).decode("utf-8", "replace").strip()
        raise RuntimeError(f"{Path(args[0]).name} failed ({done.returncode}): {out[-800:]}")


@dataclass
class PostgresServer:
    port: int
    socket_dir: Path

    def url(
        self, prefix: str, *, user: str = "postgres", password: str = SUPERUSER_PASSWORD
    ) -> str:
        return f"postgres://{user}:{password}@127.0.0.1:{self.port}/{prefix}?sslmode=disable"

    def admin(self, dbname: str = "postgres") -> object:
        """A superuser connection over the cluster's socket (autocommit)."""
        import psycopg

        return psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user="postgres",
            dbname=dbname,
            autocommit=True,
        )

    def databases(self) -> set[str]:
        with self.admin() as conn:  # type: ignore[attr-defined]
            rows = conn.execute("SELECT datname FROM pg_database").fetchall()
        return {r[0] for r in rows}

    def tables(self, dbname: str) -> set[str]:
        with self.admin(dbname) as conn:  # type: ignore[attr-defined]
            rows = conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            ).fetchall()
        return {r[0] for r in rows}


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """Its own folder under the system temp folder: pytest's folders are private to root,
    where the `postgres` user cannot reach."""
    bindir = postgres_bin()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed (scripts/bootstrap.sh installs it)")
    root = Path(tempfile.mkdtemp(prefix="superparty-pg-"))
    try:
        with _cluster(bindir, root) as server:
            yield server
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def _cluster(bindir: Path, root: Path) -> Iterator[PostgresServer]:
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    pwfile = root / "pw"
    pwfile.write_text(SUPERUSER_PASSWORD + "\n")
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        for path in (sock, pwfile):
            shutil.chown(path, "postgres")
    port = free_port()
    _as_postgres(
        [
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--no-sync",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            f"--pwfile={pwfile}",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
        ]
    )
    options = (
        f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
    )
    _as_postgres(
        [
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(root / "log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        ]
    )
    try:
        yield PostgresServer(port=port, socket_dir=sock)
    finally:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"])
