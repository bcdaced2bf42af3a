"""Fixtures that run the REAL session daemon as a child process.

    def test_something(daemon):                  # a fresh daemon per test
        r = daemon.post("/api/whatsapp/add-account", {"name": "A", "phone": "0722123456"})
        assert r.status == 200 and r.json()["success"]
        daemon.restart()                          # SIGTERM, then the same data dirs again
        with daemon.open_store() as store: ...    # read the daemon's SQLite store directly

    def test_other(daemon_factory):              # custom environment / flags / store
        d = daemon_factory(env={"WHATSAPP_MAX_CONCURRENT_PAIRINGS": "1"})
        f = daemon_factory(store_url="firestore://demo-x",
                           env={"FIRESTORE_EMULATOR_HOST": firestore_emulator})

What runs: `python -m session_daemon serve --transport simulated --store sqlite:///<tmp>/store.db
--sessions-path <tmp>/sessions --port <free port>` with `WHATSAPP_DAEMON_TOKEN=<random>`, and the
fixture waits until `GET /health` answers 200 (30 s at most; the daemon log is printed on failure).
The simulator control API (`/api/simulator/*`) is then available to play the phone.
`daemon.token` is the service token; `daemon.request(..., token=None)` sends no Authorization.
Everything is synchronous stdlib HTTP (`http.client`), usable from plain (non-async) tests.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
_DEFAULT = object()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip()


@dataclass
class DaemonProcess:
    workdir: Path
    token: str
    env: dict[str, str] = field(default_factory=dict)
    extra_args: list[str] = field(default_factory=list)
    store_url: str | None = None  # default: sqlite:///<workdir>/store.db
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def store_path(self) -> Path:
        return self.workdir / "store.db"

    @property
    def sessions_path(self) -> Path:
        return self.workdir / "sessions"

    @property
    def log_path(self) -> Path:
        return self.workdir / "daemon.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ---- process control -------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> None:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if k != "FIRESTORE_EMULATOR_HOST"}
        env.update({
            "WHATSAPP_DAEMON_TOKEN": self.token,
            "WHATSAPP_INSTANCE_ID": "test-daemon",
            "PYTHONUNBUFFERED": "1",
            **self.env,
        })  # fmt: skip
        cmd = [
            sys.executable, "-m", "session_daemon", "serve",
            "--transport", "simulated",
            "--store", self.store_url or f"sqlite:///{self.store_path}",
            "--sessions-path", str(self.sessions_path),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            *self.extra_args,
        ]  # fmt: skip
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            cmd, cwd=self.workdir, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited with {self.proc.returncode}:\n{self.log()}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                if self.request("GET", "/ready", token=None, timeout=1).status == 200:
                    return
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"daemon not ready after {timeout} s:\n{self.log()}")

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM and wait: the graceful path (flushes the pipeline, stops sessions)."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"daemon ignored SIGTERM:\n{self.log()}") from None

    def kill(self) -> None:
        """SIGKILL: the crash path."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-8000:]
        except OSError:
            return "(no log)"

    # ---- HTTP --------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: Any = _DEFAULT,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        timeout: float = 30.0,
    ) -> Reply:
        """`body` is sent as JSON; `raw` as is. `token=None` sends no Authorization header."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        use_token = self.token if token is _DEFAULT else token
        if use_token is not None:
            hdrs["Authorization"] = f"Bearer {use_token}"
        payload = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        try:
            conn.request(method, path, body=payload, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
        finally:
            conn.close()

    def get(self, path: str, **kw: Any) -> Reply:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.request("POST", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> Reply:
        return self.request("DELETE", path, **kw)

    def wait_for(
        self, predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition"
    ) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}\n{self.log()}")
            time.sleep(0.05)

    def account_status(self, account_id: str) -> str | None:
        for account in self.get("/api/whatsapp/accounts").json()["accounts"]:
            if account["id"] == account_id:
                status: str | None = account["status"]
                return status
        return None

    @contextlib.contextmanager
    def open_store(self) -> Iterator[Any]:
        """The daemon's SQLite store, opened by the test (WAL: safe beside the daemon)."""
        from shared.store.sqlite import SqliteStore

        store = SqliteStore(self.store_path)
        try:
            yield store
        finally:
            store.close()


@pytest.fixture
def daemon_factory(tmp_path: Path) -> Iterator[Callable[..., DaemonProcess]]:
    """`daemon_factory(env={...}, args=[...], start=True)` -> a started `DaemonProcess`."""
    started: list[DaemonProcess] = []

    def make(
        env: dict[str, str] | None = None,
        args: list[str] | None = None,
        start: bool = True,
        store_url: str | None = None,
    ) -> DaemonProcess:
        workdir = tmp_path / f"daemon{len(started)}"
        workdir.mkdir()
        proc = DaemonProcess(
            workdir=workdir,
            token=secrets.token_urlsafe(24),
            env=env or {},
            extra_args=args or [],
            store_url=store_url,
        )
        started.append(proc)
        if start:
            proc.start()
        return proc

    yield make
    for proc in started:
        try:
            proc.stop(timeout=10)
        except RuntimeError:
            proc.kill()


@pytest.fixture
def daemon(daemon_factory: Callable[..., DaemonProcess]) -> DaemonProcess:
    """A started daemon: simulated transport, temp SQLite store, random service token."""
    return daemon_factory()


# ---- in-process helpers (fast tests of the manager and the HTTP layer) ------------------------


class ScriptedTransport:
    """A tiny transport whose behaviour a test scripts: failing starts, QR codes, pairing.

    Used only where the test needs failure injection or exact timing; end-to-end tests use the
    real `SimulatedTransport` through the daemon process."""

    def __init__(self) -> None:
        from session_daemon.transport.port import EventSink

        self.sinks: dict[str, EventSink] = {}
        self.dbs: dict[str, Path] = {}
        self.fail_starts: dict[str, int] = {}
        self.start_calls: list[str] = []
        self.stop_calls: list[tuple[str, bool]] = []
        self.connected: set[str] = set()
        self.history_requests: list[tuple[str, str, int]] = []
        self.supports_history_requests = True  # False plays neonize (no history request)
        self.emit_qr_on_start = True

    async def start_session(self, account_id: str, session_db: Path | str, sink: Any) -> None:
        from session_daemon.transport.port import Connected, QrCode, TransportError

        self.start_calls.append(account_id)
        if self.fail_starts.get(account_id, 0) > 0:
            self.fail_starts[account_id] -= 1
            raise TransportError("connection refused")
        self.sinks[account_id] = sink
        session_db = Path(session_db)  # a scripted session is always a file
        self.dbs[account_id] = session_db
        if session_db.exists() and session_db.read_text() == "paired":
            self.connected.add(account_id)
            sink(Connected(account_id))
        else:
            session_db.write_text("blank")
            if self.emit_qr_on_start:
                sink(QrCode(account_id, f"qr-{account_id}-1"))

    async def stop_session(self, account_id: str, *, logout: bool = False) -> None:
        self.stop_calls.append((account_id, logout))
        self.sinks.pop(account_id, None)
        self.connected.discard(account_id)

    def emit(self, event: Any) -> None:
        self.sinks[event.account_id](event)

    def pair(self, account_id: str) -> None:
        from session_daemon.transport.port import Connected, Paired

        self.dbs[account_id].write_text("paired")
        self.emit(Paired(account_id, "40722000000@s.whatsapp.net"))
        self.connected.add(account_id)
        self.emit(Connected(account_id))

    async def request_pairing_code(self, account_id: str, phone_e164: str) -> str:
        return "ABCD1234"

    async def send_text(self, account_id: str, to_jid: str, text: str) -> Any:
        raise NotImplementedError

    async def send_presence(self, account_id: str, to_jid: str, composing: bool) -> None:
        return None

    async def request_history(self, account_id: str, chat_jid: str, count: int) -> None:
        self.history_requests.append((account_id, chat_jid, count))

    def is_connected(self, account_id: str) -> bool:
        return account_id in self.connected

    def pn_for_lid(self, account_id: str, lid_jid: str) -> str | None:
        return None

    async def close(self) -> None:
        return None


class CollectingInbound:
    def __init__(self) -> None:
        self.events: list[Any] = []

    def submit(self, event: Any) -> None:
        self.events.append(event)

    def stats(self) -> dict[str, int]:
        return {"submitted": len(self.events)}


@contextlib.contextmanager
def daemons_sharing_a_store(
    root: Path, env: dict[str, str], names: tuple[str, ...] = ("a", "b")
) -> Iterator[list[DaemonProcess]]:
    """Started daemons on one SQLite store (`root/store.db`) with one service token, each in
    its own folder `root/<name>` with instance id `<name>`: the setting of the lease tests.
    Stopped at the end (killed when a stop hangs, so one stuck daemon fails only its test)."""
    token = secrets.token_urlsafe(32)
    made: list[DaemonProcess] = []
    try:
        for name in names:
            (root / name).mkdir()
            d = DaemonProcess(
                workdir=root / name,
                token=token,
                env={**env, "WHATSAPP_INSTANCE_ID": name},
                store_url=f"sqlite:///{root / 'store.db'}",
            )
            made.append(d)
            d.start()
        yield made
    finally:
        for d in made:
            try:
                d.stop(timeout=10)
            except RuntimeError:
                d.kill()
