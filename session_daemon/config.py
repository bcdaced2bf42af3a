"""Daemon settings: one frozen object built from flags and environment, checked once at start-up.

Precedence: explicit CLI flag > environment variable > default. Nothing else reads `os.environ`
for these values, so tests can build a `Settings` directly.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from session_daemon.leases.record import MAX_LEASE_SECONDS, MIN_LEASE_SECONDS
from session_daemon.proxy_url import BadProxy, parse_proxy_url
from shared.paths import check_id

log = logging.getLogger(__name__)

TransportKind = Literal["neonize", "simulated"]
SessionHosts = Literal["process", "inprocess"]
SimulatorKind = Literal["inprocess", "shared"]

DEFAULT_STORE_URL = "sqlite:///./data/superparty.db"
DEFAULT_SESSIONS_PATH = "./data/sessions"
DEFAULT_TOKEN_FILE = "./data/admin-token"
MIN_SERVICE_TOKEN_LENGTH = 32  # a generated token is 43 characters (256 bits)


class ConfigError(Exception):
    """A setting that makes the daemon unable to run; the message says what to fix."""


@dataclass(frozen=True)
class Settings:
    store_url: str = DEFAULT_STORE_URL
    transport: TransportKind = "neonize"
    host: str = "127.0.0.1"
    port: int = 8080
    sessions_path: Path = Path(DEFAULT_SESSIONS_PATH)
    # SESSIONS_PATH=postgres://user:pw@host:port/prefix: each account's session in its own
    # database on that server (session_daemon/sessions/pg_sessions.py); `sessions_path` then
    # stays the local folder for this daemon's own files
    sessions_url: str | None = None
    service_token: str | None = None
    token_file: Path = Path(DEFAULT_TOKEN_FILE)
    instance_id: str = field(
        default_factory=lambda: f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"
    )
    instance_id_explicit: bool = False  # set by WHATSAPP_INSTANCE_ID; else one per data folder
    journal_path: Path | None = None  # default: <data folder>/inbound-journal.db
    # this daemon's own files (instance id slots, journal); default: the sessions folder's parent
    data_path: Path | None = None
    # where other daemons forward account actions to this one (default http://HOST:PORT)
    advertise_url: str | None = None
    max_concurrent_pairings: int = 3
    pairing_timeout_seconds: float = 170.0  # whatsmeow's QR codes last ~160 s in all
    regenerate_cooldown_seconds: float = 10.0
    connect_backoff_initial: float = 1.0
    connect_backoff_max: float = 300.0
    max_body_bytes: int = 64 * 1024
    backfill_count: int = 50
    backfill_threads: int = 20
    # a repeat within this time answers with the last run's requestId (already_in_progress)
    backfill_cooldown_seconds: float = 300.0
    max_accounts: int = 50  # live (not deleted) accounts; add-account beyond: 409
    sync_full_history: bool = False
    simulator_qr_interval: float = 20.0
    simulator_qr_timeout: float = 160.0
    # neonize sessions: each in a supervised child process ("process"), or all in the daemon
    # ("inprocess": no containment; kept for comparison and debugging)
    session_hosts: SessionHosts = "process"
    # --transport simulated: the phone network in this process, or one shared by every daemon
    # using the same sessions folder (its own process: session_daemon/transport/simnet.py)
    simulator: SimulatorKind = "inprocess"
    proxy: str | None = None  # WHATSAPP_PROXY: http:// or socks5://, for every account
    host_backoff_initial: float = 1.0
    host_backoff_max: float = 60.0
    http_header_timeout: float = 10.0  # a request head must arrive whole within this
    http_keepalive_timeout: float = 30.0  # an idle kept-alive connection is closed after this
    http_body_timeout: float = 30.0  # a handler waits this long for the request body
    # failed service-token / bad-signature attempts per client address before 429
    auth_failures_allowed: int = 10
    auth_failure_window_seconds: float = 60.0
    trusted_proxies: tuple[str, ...] = ()  # addresses/networks whose X-Forwarded-For is believed
    # account leases (issue 14): a lease lapses this long after its holder's last renewal
    lease_seconds: float = 30.0

    @property
    def data_dir(self) -> Path:
        return self.data_path or self.sessions_path.parent

    @property
    def journal_dir(self) -> Path:
        return self.journal_path or self.data_dir / "inbound-journal.db"

    @property
    def address(self) -> str:
        if self.advertise_url:
            return self.advertise_url.rstrip("/")
        host = self.host if self.host not in ("0.0.0.0", "::", "") else socket.gethostname()
        return f"http://{host}:{self.port}"

    def session_db(self, account_id: str) -> Path:
        """The session file in the sessions folder (`session_locations` knows postgres://)."""
        # the id becomes a file name: one path segment (no '/', '..', control characters)
        return self.sessions_path / f"{check_id(account_id, 'accountId')}.db"


def _env_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def _env_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc


def _env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def settings_from_env(env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Build settings from the environment; `overrides` (CLI flags) win when not None."""
    env = os.environ if env is None else env
    transport = env.get("WHATSAPP_TRANSPORT", "neonize")
    values: dict[str, object] = {
        "store_url": env.get("STORE_URL") or DEFAULT_STORE_URL,
        "transport": transport,
        "host": env.get("HOST") or "127.0.0.1",
        "port": _env_int(env, "PORT", 8080),
        "service_token": env.get("WHATSAPP_DAEMON_TOKEN") or None,
        "token_file": Path(env.get("WHATSAPP_DAEMON_TOKEN_FILE") or DEFAULT_TOKEN_FILE),
        "max_concurrent_pairings": _env_int(env, "WHATSAPP_MAX_CONCURRENT_PAIRINGS", 3),
        "pairing_timeout_seconds": _env_float(env, "WHATSAPP_PAIRING_TIMEOUT_SECONDS", 170.0),
        "regenerate_cooldown_seconds": _env_float(
            env, "WHATSAPP_REGENERATE_COOLDOWN_SECONDS", 10.0
        ),
        "max_body_bytes": _env_int(env, "WHATSAPP_MAX_BODY_BYTES", 64 * 1024),
        "backfill_count": _env_int(env, "WHATSAPP_BACKFILL_COUNT", 50),
        "backfill_threads": _env_int(env, "WHATSAPP_BACKFILL_THREADS", 20),
        "backfill_cooldown_seconds": _env_float(env, "WHATSAPP_BACKFILL_COOLDOWN_SECONDS", 300.0),
        "max_accounts": _env_int(env, "WHATSAPP_MAX_ACCOUNTS", 50),
        "sync_full_history": _env_bool(env, "WHATSAPP_SYNC_FULL_HISTORY", False),
        "simulator_qr_interval": _env_float(env, "SIMULATOR_QR_INTERVAL", 20.0),
        "simulator_qr_timeout": _env_float(env, "SIMULATOR_QR_TIMEOUT", 160.0),
        "session_hosts": env.get("WHATSAPP_SESSION_HOSTS") or "process",
        "simulator": env.get("WHATSAPP_SIMULATOR") or "inprocess",
        "proxy": env.get("WHATSAPP_PROXY") or None,
        "host_backoff_initial": _env_float(env, "WHATSAPP_HOST_BACKOFF_INITIAL", 1.0),
        "host_backoff_max": _env_float(env, "WHATSAPP_HOST_BACKOFF_MAX", 60.0),
        "http_header_timeout": _env_float(env, "WHATSAPP_HTTP_HEADER_TIMEOUT_SECONDS", 10.0),
        "http_keepalive_timeout": _env_float(env, "WHATSAPP_HTTP_KEEPALIVE_SECONDS", 30.0),
        "http_body_timeout": _env_float(env, "WHATSAPP_HTTP_BODY_TIMEOUT_SECONDS", 30.0),
        "auth_failures_allowed": _env_int(env, "WHATSAPP_AUTH_FAILURES_ALLOWED", 10),
        "auth_failure_window_seconds": _env_float(
            env, "WHATSAPP_AUTH_FAILURE_WINDOW_SECONDS", 60.0
        ),
        "lease_seconds": _env_float(env, "WHATSAPP_LEASE_SECONDS", 30.0),
        "trusted_proxies": tuple(
            p.strip() for p in (env.get("WHATSAPP_TRUSTED_PROXIES") or "").split(",") if p.strip()
        ),
    }
    if env.get("WHATSAPP_INSTANCE_ID"):
        values["instance_id"] = env["WHATSAPP_INSTANCE_ID"]
        values["instance_id_explicit"] = True
    if env.get("WHATSAPP_DATA_PATH"):
        values["data_path"] = Path(env["WHATSAPP_DATA_PATH"])
    if env.get("WHATSAPP_ADVERTISE_URL"):
        values["advertise_url"] = env["WHATSAPP_ADVERTISE_URL"]
    if env.get("INBOUND_JOURNAL_PATH"):
        values["journal_path"] = Path(env["INBOUND_JOURNAL_PATH"])
    for key, value in overrides.items():
        if value is not None and key != "sessions_path":
            values[key] = Path(str(value)) if key == "token_file" else value
    # (sessions/ imports this module)
    from session_daemon.sessions.session_db import BadSessionsOption, parse_sessions_option

    # one parser for the flag and the variable: a folder, or a postgres:// URL kept as text
    # (Path() would fold its '//')
    raw_sessions = overrides.get("sessions_path") or env.get("SESSIONS_PATH") or ""
    if raw_sessions:
        try:
            folder, url = parse_sessions_option(str(raw_sessions))
        except BadSessionsOption as exc:
            raise ConfigError(f"SESSIONS_PATH: {exc}") from None
        values["sessions_path"] = folder or Path(DEFAULT_SESSIONS_PATH)
        values["sessions_url"] = url
    settings = Settings(**values)  # type: ignore[arg-type]
    validate(settings)
    return settings


def validate(settings: Settings) -> None:
    if settings.instance_id_explicit:
        try:
            check_id(settings.instance_id, "WHATSAPP_INSTANCE_ID")
        except ValueError as exc:
            raise ConfigError(f"WHATSAPP_INSTANCE_ID is not a usable id: {exc}") from None
    if settings.sessions_url is not None:
        from session_daemon.sessions.pg_sessions import BadSessionsUrl, parse_sessions_url
        from session_daemon.transport.port import SIMULATOR_NEEDS_FOLDER

        try:
            parse_sessions_url(settings.sessions_url)
        except BadSessionsUrl as exc:
            raise ConfigError(f"SESSIONS_PATH: {exc}") from None
        if settings.transport != "neonize":
            raise ConfigError(f"SESSIONS_PATH: {SIMULATOR_NEEDS_FOLDER}")
    if settings.transport not in ("neonize", "simulated"):
        raise ConfigError(f"transport must be 'neonize' or 'simulated', got {settings.transport!r}")
    if not (0 <= settings.port <= 65535):
        raise ConfigError(f"port out of range: {settings.port}")
    if settings.max_concurrent_pairings < 1:
        raise ConfigError("WHATSAPP_MAX_CONCURRENT_PAIRINGS must be at least 1")
    if settings.max_accounts < 1:
        raise ConfigError("WHATSAPP_MAX_ACCOUNTS must be at least 1")
    if settings.backfill_cooldown_seconds < 0:
        raise ConfigError("WHATSAPP_BACKFILL_COOLDOWN_SECONDS must not be negative")
    if settings.max_body_bytes < 1024:
        raise ConfigError("WHATSAPP_MAX_BODY_BYTES must be at least 1024")
    if settings.session_hosts not in ("process", "inprocess"):
        raise ConfigError(
            "WHATSAPP_SESSION_HOSTS must be 'process' or 'inprocess', "
            f"got {settings.session_hosts!r}"
        )
    if settings.simulator not in ("inprocess", "shared"):
        raise ConfigError(
            f"WHATSAPP_SIMULATOR must be 'inprocess' or 'shared', got {settings.simulator!r}"
        )
    if settings.proxy is not None:
        try:
            parse_proxy_url(settings.proxy)
        except BadProxy as exc:
            raise ConfigError(f"WHATSAPP_PROXY is not usable: {exc}") from None
    if not (0 < settings.host_backoff_initial <= settings.host_backoff_max):
        raise ConfigError("WHATSAPP_HOST_BACKOFF_INITIAL must be > 0 and <= ..._MAX")
    for name, value in (
        ("WHATSAPP_HTTP_HEADER_TIMEOUT_SECONDS", settings.http_header_timeout),
        ("WHATSAPP_HTTP_KEEPALIVE_SECONDS", settings.http_keepalive_timeout),
        ("WHATSAPP_HTTP_BODY_TIMEOUT_SECONDS", settings.http_body_timeout),
        ("WHATSAPP_AUTH_FAILURE_WINDOW_SECONDS", settings.auth_failure_window_seconds),
    ):
        if not value > 0:
            raise ConfigError(f"{name} must be a positive number of seconds")
    if not (MIN_LEASE_SECONDS <= settings.lease_seconds <= MAX_LEASE_SECONDS):
        raise ConfigError(
            f"WHATSAPP_LEASE_SECONDS must be between {MIN_LEASE_SECONDS:g} and "
            f"{MAX_LEASE_SECONDS:g} seconds, got {settings.lease_seconds:g}"
        )
    if settings.auth_failures_allowed < 1:
        raise ConfigError("WHATSAPP_AUTH_FAILURES_ALLOWED must be at least 1")
    for proxy in settings.trusted_proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise ConfigError(
                f"WHATSAPP_TRUSTED_PROXIES: {proxy!r} is not an IP address or network"
            ) from None


def check_sessions_dir(path: Path) -> None:
    """Create the sessions folder if needed and prove it is writable, else raise ConfigError."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(
            f"sessions folder {path} is not writable ({exc.strerror or exc}); set SESSIONS_PATH "
            "or --sessions-path to a folder this user can write"
        ) from exc


def sessions_dir_writable(path: Path) -> bool:
    try:
        check_sessions_dir(path)
    except ConfigError:
        return False
    return True


def _check_token_length(token: str, where: str) -> None:
    if len(token) < MIN_SERVICE_TOKEN_LENGTH:
        raise ConfigError(
            f"{where} is {len(token)} characters long; the service token must have at least "
            f"{MIN_SERVICE_TOKEN_LENGTH} (generate one with: python -c "
            "'import secrets; print(secrets.token_urlsafe(32))')"
        )


def ensure_service_token(settings: Settings) -> Settings:
    """Use the configured token, else the one saved in the token file, else generate and save one
    (mode 0600). Logs the file location, never the token. A token shorter than 32 characters is
    a ConfigError: it could be guessed."""
    if settings.service_token:
        _check_token_length(settings.service_token, "WHATSAPP_DAEMON_TOKEN")
        return settings
    token_file = settings.token_file
    if token_file.exists():
        token = token_file.read_text(encoding="utf-8").strip()
        if token:
            _check_token_length(token, f"the service token in {token_file}")
            log.info("using the service token stored in %s", token_file.resolve())
            return replace(settings, service_token=token)
    token = secrets.token_urlsafe(32)
    token_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token + "\n")
    os.chmod(token_file, 0o600)
    log.warning(
        "no WHATSAPP_DAEMON_TOKEN configured: generated a service token and saved it to %s "
        "(mode 0600); send it as 'Authorization: Bearer <token>'",
        token_file.resolve(),
    )
    return replace(settings, service_token=token)
