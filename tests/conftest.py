"""Project-wide test fixtures: emulators from node_modules, started lazily, once per session.

- `firestore_emulator`: "127.0.0.1:PORT" of a running `@firestore-emulator/server` (in memory,
  gRPC). It sets no environment variable: point a client at it yourself, and give each test its
  own project id (`unique_project_id()`): the emulator keeps one state per project id.
- `get_free_port`: a function returning a free loopback TCP port.

Outside CI a missing node_modules skips the tests that need an emulator (run
`bash scripts/bootstrap.sh`); in CI (`CI=true`) it fails them.
"""

from __future__ import annotations

import collections
import contextlib
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
FIRESTORE_EMULATOR_PACKAGE = NODE_MODULES / "@firestore-emulator" / "server"
EMULATOR_START_TIMEOUT_S = 30.0

# Starts the emulator on 127.0.0.1 (its own start() binds every interface) on the port given
# (0: any free one, which avoids a race), prints "READY <port>", and exits when stdin closes
# so it never outlives the test run.
_FIRESTORE_LAUNCHER = r"""
const emulatorPath = require.resolve("@firestore-emulator/server");
const grpc = require(require.resolve("@grpc/grpc-js", { paths: [emulatorPath] }));
const { FirestoreServer } = require(emulatorPath);
const emulator = new FirestoreServer();
emulator.server.bindAsync(
  "127.0.0.1:" + (process.argv[1] || "0"),
  grpc.ServerCredentials.createInsecure(),
  (err, port) => {
    if (err) { console.error("bind failed: " + err.message); process.exit(1); }
    console.log("READY " + port);
  },
);
process.stdin.on("end", () => process.exit(0));
process.stdin.on("error", () => process.exit(0));
process.stdin.resume();
"""


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on `host` right now (another process may still take it: prefer letting
    the server bind port 0 when it can report the port it got)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def unique_project_id(prefix: str = "test") -> str:
    """A Firestore project id of its own, for test isolation on a shared emulator."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def missing_tool(reason: str) -> None:
    """Skip (or, in CI, fail) a test whose external tool is not installed."""
    message = f"{reason} (run `bash scripts/bootstrap.sh`)"
    if in_ci():
        pytest.fail(f"{message}; CI must have it", pytrace=False)
    pytest.skip(message)


class NodeServer:
    """A Node.js child process that prints `READY <port>` once it listens. Its output is kept
    (the last lines) for error messages and drained so the pipe never fills up."""

    def __init__(self, args: list[str], name: str, cwd: Path = ROOT) -> None:
        self.name = name
        self.output: collections.deque[str] = collections.deque(maxlen=200)
        self._ready = threading.Event()
        self.port: int | None = None
        self.proc = subprocess.Popen(
            args,
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        self._reader = threading.Thread(target=self._read, name=f"{name}-output", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.output.append(line)
            if self.port is None and line.startswith("READY "):
                self.port = int(line.split()[1])
                self._ready.set()

    def wait_ready(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._ready.wait(0.1):
                assert self.port is not None
                return self.port
            if self.proc.poll() is not None:
                break
        self.stop()
        raise RuntimeError(
            f"{self.name} did not start (exit {self.proc.poll()}):\n" + "\n".join(self.output)
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            if self.proc.stdin is not None:
                with contextlib.suppress(OSError):
                    self.proc.stdin.close()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._reader.join(timeout=5)


def start_firestore_emulator() -> NodeServer:
    """Start `@firestore-emulator/server` on a free loopback port and wait until it listens."""
    node = shutil.which("node")
    if node is None or not FIRESTORE_EMULATOR_PACKAGE.is_dir():
        missing_tool("node or @firestore-emulator/server (node_modules) is not installed")
    assert node is not None
    server = NodeServer([node, "-e", _FIRESTORE_LAUNCHER, "0"], "firestore-emulator")
    server.wait_ready(EMULATOR_START_TIMEOUT_S)
    return server


@pytest.fixture(scope="session")
def firestore_emulator() -> Iterator[str]:
    """Host:port of an in-memory Firestore emulator shared by the session (one per xdist
    worker). Use a fresh project id per test for isolation."""
    server = start_firestore_emulator()
    try:
        yield f"127.0.0.1:{server.port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def get_free_port() -> Callable[[], int]:
    return free_port
