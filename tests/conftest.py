"""Project-wide test fixtures: emulators from node_modules, started lazily, once per session.

- `firestore_emulator`: "127.0.0.1:PORT" of a running `@firestore-emulator/server` (in memory,
  gRPC). It sets no environment variable: point a client at it yourself, and give each test its
  own project id (`unique_project_id()`): the emulator keeps one state per project id.
- `firebase_emulators`: the Firebase CLI's Auth and Functions emulators (firebase-tools from
  node_modules) running our `functions/` exactly as deployment would discover them, on free
  loopback ports, project `demo-superparty`. Its `FirebaseEmulators` gives the hosts and a
  `functions_url(name)`; it sets no environment variable either. They start ONCE per session
  (`firebase_stack`, with a session daemon the functions reach, and the extra functions folders
  test modules register with `register_codebase`): nothing else calls
  `start_firebase_emulators`.
- `get_free_port`: a function returning a free loopback TCP port.

Outside CI a missing node_modules skips the tests that need an emulator (run
`bash scripts/bootstrap.sh`); in CI (`CI=true`) it fails them.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# These machines are shared and noisy: a property test is judged by what it finds, never by
# how fast the machine happened to draw or run one example.
settings.register_profile(
    "shared-machines", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("shared-machines")

# Fixtures the tiers share (tests/support: they were per-folder conftest files before the tests
# were laid out like the source): the daemon as a process and in-process stand-ins, the CRM chat
# and model server, the Firebase door.
pytest_plugins = ["tests.support.daemon", "tests.support.crm", "tests.support.functions"]

# Tests talk to loopback only: google-auth must never probe the GCE metadata server
# (169.254.169.254) when some code builds a Google client without an emulator. Set before any
# test module imports google.auth, which reads these once.
os.environ.setdefault("NO_GCE_CHECK", "true")
os.environ.setdefault("GCE_METADATA_HOST", "127.0.0.1:9")
os.environ.setdefault("GCE_METADATA_IP", "127.0.0.1:9")

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
FIRESTORE_EMULATOR_PACKAGE = NODE_MODULES / "@firestore-emulator" / "server"
FIREBASE_CLI = NODE_MODULES / ".bin" / "firebase"
EMULATOR_START_TIMEOUT_S = 30.0
FIREBASE_EMULATORS_START_TIMEOUT_S = 180.0
FIREBASE_DEMO_PROJECT = "demo-superparty"  # "demo-" ids run fully offline, no credentials
FIREBASE_REGION = "us-central1"

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
    """CI, or the README's test command (which installs every tool first): missing tools fail."""
    return any(
        os.environ.get(name, "").strip().lower() in {"1", "true", "yes"}
        for name in ("CI", "SUPERPARTY_REQUIRE_TOOLS")
    )


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
    """A Node.js child process that prints a ready line once it listens (`READY <port>` by
    default). Its output is kept (the last lines) for error messages and drained so the pipe
    never fills up."""

    def __init__(
        self,
        args: list[str],
        name: str,
        cwd: Path = ROOT,
        env: Mapping[str, str] | None = None,
        ready_text: str | None = None,
        stdin_stops_it: bool = True,
    ) -> None:
        self.name = name
        # our launchers exit when their stdin closes; the firebase CLI does not (it waits for a
        # signal), so stop() sends it SIGTERM at once instead of waiting 5 s for nothing
        self._stdin_stops_it = stdin_stops_it
        self.output: collections.deque[str] = collections.deque(maxlen=400)
        self._ready = threading.Event()
        self._ready_text = ready_text
        self.port: int | None = None
        self.proc = subprocess.Popen(
            args,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            start_new_session=True,  # so stop() can end its children too (the CLI spawns some)
        )
        self._reader = threading.Thread(target=self._read, name=f"{name}-output", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.output.append(line)
            if self._ready.is_set():
                continue
            if self._ready_text is not None:
                if self._ready_text in line:
                    self.port = 0
                    self._ready.set()
            elif line.startswith("READY "):
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
        if self.proc.poll() is None and self._stdin_stops_it:
            if self.proc.stdin is not None:
                with contextlib.suppress(OSError):
                    self.proc.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)
        # End the whole process group (only ours: it was started in a new session).
        for sig, wait_s in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            if self._all_gone():
                break
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, sig)
            deadline = time.monotonic() + wait_s
            while not self._all_gone() and time.monotonic() < deadline:
                time.sleep(0.05)
        self._reader.join(timeout=5)

    def _all_gone(self) -> bool:
        return self.proc.poll() is not None and not _group_alive(self.proc.pid)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


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


@dataclass(frozen=True)
class FirebaseEmulators:
    project_id: str
    region: str
    auth_host: str  # host:port, for FIREBASE_AUTH_EMULATOR_HOST
    functions_host: str  # host:port
    hub_host: str

    def functions_url(self, name: str) -> str:
        """URL of an HTTP (on_request) or callable (on_call) function."""
        return f"http://{self.functions_host}/{self.project_id}/{self.region}/{name}"

    def sign_up(self, email: str | None = None, *, email_verified: bool = False) -> tuple[str, str]:
        """A new Auth emulator user with a password: (uid, ID token). With `email_verified`, the
        emulator's admin API marks the address verified and the token is minted after that, as
        for a user who clicked the verification link."""
        email = email or f"user-{uuid.uuid4().hex[:10]}@example.com"
        user = self._identity("accounts:signUp", {"email": email, "password": "secret123"})
        if not email_verified:
            return user["localId"], user["idToken"]
        self._identity(
            f"projects/{self.project_id}/accounts:update",
            {"localId": user["localId"], "emailVerified": True},
            admin=True,
        )
        fresh = self._identity(
            "accounts:signInWithPassword", {"email": email, "password": "secret123"}
        )
        return user["localId"], fresh["idToken"]

    def sign_in(self, email: str) -> str:
        """A fresh ID token of a `sign_up` user (carries claims set since)."""
        reply = self._identity(
            "accounts:signInWithPassword", {"email": email, "password": "secret123"}
        )
        return str(reply["idToken"])

    def admin_auth(self, action: Callable[[object], None]) -> None:
        """Run `action(app)` with a firebase_admin app pointed at this Auth emulator (e.g.
        `lambda app: auth.update_user(uid, disabled=True, app=app)`)."""
        import firebase_admin

        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("FIREBASE_AUTH_EMULATOR_HOST", self.auth_host)
            app = firebase_admin.initialize_app(
                options={"projectId": self.project_id}, name=f"admin-{uuid.uuid4().hex}"
            )
            try:
                action(app)
            finally:
                firebase_admin.delete_app(app)

    def _identity(self, action: str, body: dict[str, object], admin: bool = False) -> dict:
        url = f"http://{self.auth_host}/identitytoolkit.googleapis.com/v1/{action}?key=fake-key"
        headers = {"Content-Type": "application/json"}
        if admin:  # the emulator's stand-in for an OAuth token with admin rights
            headers["Authorization"] = "Bearer owner"
        payload = json.dumps({**body, "returnSecureToken": True}).encode()
        request = urllib.request.Request(url, payload, headers, method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            reply: dict = json.loads(response.read())
        return reply


def _functions_config(config_dir: Path, root: Path = ROOT) -> list[dict[str, object]]:
    """The repository's `functions` section of firebase.json, with sources relative to
    `config_dir` (the CLI joins them to the config's folder, even absolute ones)."""
    default: list[dict[str, object]] = [
        {
            "source": "functions",
            "codebase": "default",
            "runtime": "python311",
            "ignore": ["venv", "__pycache__"],
        }
    ]
    config_file = root / "firebase.json"
    section: object = default
    if config_file.is_file():
        section = json.loads(config_file.read_text()).get("functions", default)
    entries = section if isinstance(section, list) else [section]
    resolved = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        entry = dict(entry)
        source = root / str(entry.get("source", "functions"))
        entry["source"] = os.path.relpath(source, config_dir)
        resolved.append(entry)
    return resolved


def start_firebase_emulators(
    workdir: Path, extra_env: Mapping[str, str] | None = None, root: Path = ROOT
) -> tuple[NodeServer, FirebaseEmulators]:
    """Start the Auth and Functions emulators on free loopback ports, with a firebase.json
    written to `workdir` (the repository's own keeps its fixed ports for manual use), running
    the functions of `root` (the repository)."""
    node = shutil.which("node")
    if node is None or not FIREBASE_CLI.exists():
        missing_tool("node or firebase-tools (node_modules) is not installed")
    if not (root / "functions" / "main.py").is_file():
        raise FileNotFoundError(f"{root / 'functions' / 'main.py'} is missing")
    if not (root / "functions" / "venv" / "bin" / "python").exists():
        missing_tool("functions/venv is missing")
    ports = {name: free_port() for name in ("auth", "functions", "hub", "logging")}
    emulators: dict[str, object] = {
        name: {"host": "127.0.0.1", "port": port} for name, port in ports.items()
    }
    emulators["ui"] = {"enabled": False}
    emulators["singleProjectMode"] = True
    config = {"functions": _functions_config(workdir, root), "emulators": emulators}
    config_path = workdir / "firebase.json"
    config_path.write_text(json.dumps(config, indent=2))
    env = {**os.environ, **(extra_env or {})}
    # The functions import `shared`: from functions/shared when a deploy build put it there,
    # else (last on the path) from the repository itself.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), str(ROOT)) if p)
    env.setdefault("NO_UPDATE_NOTIFIER", "1")  # no registry look-up at start-up
    env["CI"] = env.get("CI", "true")  # non-interactive, no prompts
    server = NodeServer(
        [
            str(FIREBASE_CLI),
            "emulators:start",
            "--only",
            "auth,functions",
            "--project",
            FIREBASE_DEMO_PROJECT,
            "--config",
            str(config_path),
        ],
        "firebase-emulators",
        cwd=workdir,
        env=env,
        ready_text="All emulators ready",
        stdin_stops_it=False,
    )
    server.wait_ready(FIREBASE_EMULATORS_START_TIMEOUT_S)
    if any("Failed to load function" in line for line in server.output):
        server.stop()
        raise RuntimeError("functions/ did not load:\n" + "\n".join(server.output))
    return server, FirebaseEmulators(
        project_id=FIREBASE_DEMO_PROJECT,
        region=FIREBASE_REGION,
        auth_host=f"127.0.0.1:{ports['auth']}",
        functions_host=f"127.0.0.1:{ports['functions']}",
        hub_host=f"127.0.0.1:{ports['hub']}",
    )


# Extra functions folders served by the session's one emulator start, beside functions/ as
# deployed: codebase name -> a function that fills the folder (main.py, requirements.txt, venv).
# Test modules register theirs at import (collection), before the session stack starts; their
# function names must differ from the deployed ones (one project).
EXTRA_CODEBASES: dict[str, Callable[[Path], None]] = {}


def register_codebase(name: str, fill: Callable[[Path], None]) -> None:
    EXTRA_CODEBASES[name] = fill


@dataclass
class FirebaseStack:
    """The session's Firebase door: the Auth and Functions emulators (started once) serving
    functions/ as deployed, wired to `daemon`, a session daemon on the Firestore emulator (the
    functions reach it at WHATSAPP_BACKEND_BASE_URL with its service token), plus the extra
    codebases registered by test modules."""

    emulators: FirebaseEmulators
    daemon: Any  # tests.support.daemon.DaemonProcess
    server: NodeServer


PROXY_ADMIN_EMAIL = "proxy-admin@example.com"  # a super-admin by SUPER_ADMIN_EMAILS


@pytest.fixture(scope="session")
def firebase_stack(
    tmp_path_factory: pytest.TempPathFactory, firestore_emulator: str
) -> Iterator[FirebaseStack]:
    """The one start of the Firebase emulators in a test session (it takes ~15-25 s)."""
    from tests.support.daemon import DaemonProcess
    from tests.support.functions import deployed_copy

    daemon = DaemonProcess(
        workdir=tmp_path_factory.mktemp("session-daemon"),
        token=secrets.token_urlsafe(24),
        env={"FIRESTORE_EMULATOR_HOST": firestore_emulator},
        store_url=f"firestore://{FIREBASE_DEMO_PROJECT}",
    )
    daemon.start()
    server = None
    try:
        root = deployed_copy(Path(tmp_path_factory.mktemp("session-deploy")))
        sections = _functions_config(root, root)  # functions/ as the deploy uploads it
        for name, fill in sorted(EXTRA_CODEBASES.items()):
            folder = root / name
            folder.mkdir()
            fill(folder)
            sections.append(
                {"source": name, "codebase": name, "runtime": "python311", "ignore": ["venv"]}
            )
        (root / "firebase.json").write_text(json.dumps({"functions": sections}))
        server, emulators = start_firebase_emulators(
            Path(tmp_path_factory.mktemp("session-firebase")),
            {
                "FIRESTORE_EMULATOR_HOST": firestore_emulator,
                "WHATSAPP_BACKEND_BASE_URL": daemon.base_url,
                "WHATSAPP_DAEMON_TOKEN": daemon.token,
                "SUPER_ADMIN_EMAILS": PROXY_ADMIN_EMAIL.upper(),
            },
            root=root,
        )
        yield FirebaseStack(emulators, daemon, server)
    finally:
        if server is not None:
            server.stop()
        try:
            daemon.stop(timeout=10)
        except RuntimeError:
            daemon.kill()


@pytest.fixture(scope="session")
def firebase_emulators(firebase_stack: FirebaseStack) -> FirebaseEmulators:
    """Auth + Functions emulators running `functions/` as deployed (the session's one start);
    the functions reach Firestore through the session's `firestore_emulator`
    (FIRESTORE_EMULATOR_HOST in their environment) and the session daemon."""
    return firebase_stack.emulators


@pytest.fixture(scope="session")
def get_free_port() -> Callable[[], int]:
    return free_port
