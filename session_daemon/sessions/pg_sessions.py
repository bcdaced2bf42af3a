"""Session databases on a PostgreSQL server: one database per account (`SESSIONS_PATH=postgres://`).

What the bundled neonize 0.5.2 allows, measured (docs/leases.md, "PostgreSQL session databases"):
its Go library links lib/pq, and a session name `postgres://user:pw@host:port/db?...` makes
whatsmeow keep its tables in that database. But one database holds exactly one account (without a
JID neonize resumes the first stored device), a schema per account does not work (whatsmeow looks
its tables up without a schema), and whatsmeow does not create the database. So the daemon does:
`SESSIONS_PATH=postgres://user:pw@host:5432/wa?sslmode=disable` means one database per account,
named `wa_<accountId>` (see `database_name`), created here on first use, and each session host is
handed that database's own URL.

Parsing and naming are pure; the few server calls (create, exists, wipe) use psycopg with a short
connect timeout, off the event loop (the callers use `asyncio.to_thread`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import SplitResult, urlsplit, urlunsplit

SCHEMES: Final = ("postgres", "postgresql")
MAX_IDENTIFIER: Final = 63  # PostgreSQL cuts longer names silently (NAMEDATALEN - 1)
_PREFIX = re.compile(r"[a-z][a-z0-9_]{0,39}")
_PLAIN_ACCOUNT = re.compile(r"[a-z0-9_-]+")
CONNECT_TIMEOUT_SECONDS: Final = 5
# where CREATE DATABASE runs: every server has it (template1 when `postgres` was dropped)
MAINTENANCE_DATABASES: Final = ("postgres", "template1")
DEVICE_TABLE: Final = "whatsmeow_device"


class BadSessionsUrl(ValueError):
    """A `postgres://` sessions location that cannot work; the text says what to fix."""


class SessionServerError(RuntimeError):
    """The PostgreSQL server refused or could not be reached (text: the server's reason)."""


def is_postgres_url(value: str) -> bool:
    return value.split(":", 1)[0].lower() in SCHEMES and "://" in value


@dataclass(frozen=True)
class PgSessionsUrl:
    """A parsed `postgres://user:pw@host:port/prefix?params` sessions location."""

    parts: SplitResult
    prefix: str

    def account_url(self, account_id: str) -> str:
        """The URL lib/pq (inside neonize) and psycopg open for this account's database."""
        return self.database_url(database_name(self.prefix, account_id))

    def database_url(self, database: str) -> str:
        p = self.parts
        return urlunsplit((p.scheme, p.netloc, f"/{database}", p.query, ""))

    def redacted(self) -> str:
        """For logs and errors: the password never appears."""
        p = self.parts
        netloc = p.netloc
        if p.password is not None:
            userinfo, _, hostport = netloc.rpartition("@")
            netloc = f"{userinfo.split(':', 1)[0]}:***@{hostport}"
        return urlunsplit((p.scheme, netloc, p.path, p.query, ""))


def parse_sessions_url(raw: str) -> PgSessionsUrl:
    """Check a `postgres://` sessions location without contacting the server (pure)."""
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise BadSessionsUrl(f"not a usable postgres:// URL ({exc})") from None
    if parts.scheme.lower() not in SCHEMES:
        raise BadSessionsUrl(
            f"the scheme must be postgres:// or postgresql://, got {parts.scheme!r}"
        )
    if parts.fragment:
        raise BadSessionsUrl("a postgres:// sessions location has no #fragment")
    prefix = parts.path.lstrip("/")
    if not prefix:
        raise BadSessionsUrl(
            "name a database prefix in the path, e.g. postgres://user:pw@host:5432/wa "
            "(each account gets its own database wa_<accountId>)"
        )
    if not _PREFIX.fullmatch(prefix):
        raise BadSessionsUrl(
            f"the database prefix {prefix!r} must be lowercase letters, digits or '_', start "
            "with a letter and have at most 40 characters"
        )
    return PgSessionsUrl(parts=parts, prefix=prefix)


def database_name(prefix: str, account_id: str) -> str:
    """`<prefix>_<accountId>` when that is a plain lowercase name PostgreSQL keeps whole, else
    `<prefix>_<readable part>_<hash>`: two accounts never share a database (pure)."""
    plain = f"{prefix}_{account_id}"
    if _PLAIN_ACCOUNT.fullmatch(account_id) and len(plain) <= MAX_IDENTIFIER:
        return plain
    digest = hashlib.sha256(account_id.encode("utf-8")).hexdigest()[:12]
    readable = re.sub(r"[^a-z0-9_-]+", "_", account_id.lower()).strip("_")
    room = MAX_IDENTIFIER - len(prefix) - len(digest) - 2
    readable = readable[: max(0, room - 1)]
    return f"{prefix}_{readable}_{digest}" if readable else f"{prefix}_{digest}"


class PostgresSessions:
    """The sessions location `SESSIONS_PATH=postgres://...`: one database per account."""

    def __init__(self, url: PgSessionsUrl) -> None:
        self.url = url

    def location(self, account_id: str) -> str:
        """Create the account's database when missing (idempotent, safe when two daemons race),
        and give its URL to the session host."""
        name = database_name(self.url.prefix, account_id)
        with self._maintenance() as conn:
            if not _database_exists(conn, name):
                _create_database(conn, name)
        return self.url.account_url(account_id)

    def exists(self, account_id: str) -> bool:
        """A stored device: the account's database exists and whatsmeow keeps a device in it."""
        name = database_name(self.url.prefix, account_id)
        with self._maintenance() as conn:
            if not _database_exists(conn, name):
                return False
        with self._connect(name) as conn:
            row = conn.execute("SELECT to_regclass(%s)", (DEVICE_TABLE,)).fetchone()
            if row is None or row[0] is None:
                return False
            return conn.execute(f"SELECT 1 FROM {DEVICE_TABLE} LIMIT 1").fetchone() is not None

    def wipe(self, account_id: str) -> None:
        """Forget the account's WhatsApp credentials (a new pairing, a logout): drop its
        database, as the folder location deletes its file. Messages live in the store."""
        from psycopg import sql

        name = database_name(self.url.prefix, account_id)
        with self._maintenance() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def check(self) -> None:
        """At start-up: the server answers and this user may create databases."""
        with self._maintenance() as conn:
            row = conn.execute(
                "SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user"
            ).fetchone()
        if not row or not row[0]:
            raise SessionServerError(
                f"the PostgreSQL user of {self.url.redacted()} may not create databases "
                "(grant it CREATEDB: ALTER ROLE <user> CREATEDB)"
            )

    def _maintenance(self) -> Any:
        last: Exception | None = None
        for database in MAINTENANCE_DATABASES:
            try:
                return self._connect(database)
            except SessionServerError as exc:
                last = exc
                if "does not exist" not in str(exc):
                    break
        assert last is not None
        raise last

    def _connect(self, database: str) -> Any:
        import psycopg

        try:
            return psycopg.connect(
                self.url.database_url(database),
                autocommit=True,  # CREATE/DROP DATABASE cannot run inside a transaction
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
            )
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SessionServerError(
                f"cannot reach the session database server {self.url.redacted()}: {reason}"
            ) from None


def _database_exists(conn: Any, name: str) -> bool:
    return (
        conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None
    )


def _create_database(conn: Any, name: str) -> None:
    import psycopg
    from psycopg import sql

    try:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
        pass  # another daemon created it a moment ago: the same outcome
    except psycopg.Error as exc:
        raise SessionServerError(f"cannot create the session database {name}: {exc}") from None
