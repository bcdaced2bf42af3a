"""The daemon process with real neonize session hosts, offline: a bad `WHATSAPP_PROXY` stops it
at start with the reason; while one account's connect hangs on a proxy that never answers, API
calls for other accounts answer within a second (p99); the per-account proxy route; backfill is
refused the same way every time."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from session_daemon.hosts.proctree import children_of
from tests.daemon.conftest import REPO_ROOT, DaemonProcess

pytestmark = pytest.mark.timeout(120)

NEONIZE = ["--transport", "neonize"]


@pytest.fixture
def blackhole() -> Iterator[str]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(128)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            held.append(conn)

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()
    for conn in held:
        conn.close()


@pytest.mark.parametrize(
    ("proxy", "reason"),
    [
        ("ftp://proxy.invalid:21", "scheme must be http:// or socks5://"),
        ("http://proxy.invalid", "needs a port"),
        ("socks5://:1080", "no host"),
    ],
)
def test_a_bad_whatsapp_proxy_stops_the_daemon_at_start(
    tmp_path: Path, proxy: str, reason: str
) -> None:
    env = {**os.environ, "WHATSAPP_PROXY": proxy, "WHATSAPP_DAEMON_TOKEN": "x" * 32}
    done = subprocess.run(
        [sys.executable, "-m", "session_daemon", "serve", *NEONIZE, "--port", "0",
         "--sessions-path", str(tmp_path / "s"), "--store", f"sqlite:///{tmp_path}/st.db"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "WHATSAPP_PROXY" in done.stderr and reason in done.stderr


def test_a_stalled_connect_leaves_the_api_responsive(
    daemon_factory: Callable[..., DaemonProcess], blackhole: str
) -> None:
    d = daemon_factory(env={"WHATSAPP_PROXY": blackhole}, args=NEONIZE)
    stalled = d.post("/api/whatsapp/add-account", {"name": "Stalled", "phone": "+40722000001"})
    assert stalled.status == 200, stalled.body
    stalled_id = stalled.json()["accountId"]
    other = d.post("/api/whatsapp/add-account", {"name": "Other", "phone": "+40722000002"})
    other_id = other.json()["accountId"]
    assert other.status == 200

    # the stalled account's session host exists and is dialling the black hole
    deadline = time.monotonic() + 30
    while not children_of(d.proc.pid) and time.monotonic() < deadline:  # type: ignore[union-attr]
        time.sleep(0.1)
    assert children_of(d.proc.pid)  # type: ignore[union-attr]
    # the Go library lives in the hosts only, never in the daemon
    maps = Path(f"/proc/{d.proc.pid}/maps").read_text()  # type: ignore[union-attr]
    assert "neonize-linux-amd64.so" not in maps

    bad = d.request("PUT", f"/api/whatsapp/accounts/{other_id}/proxy", {"proxy": "gopher://x:1"})
    assert bad.status == 400 and bad.json()["error"] == "invalid_proxy"
    put = d.request(
        "PUT",
        f"/api/whatsapp/accounts/{other_id}/proxy",
        {"proxy": "socks5://user:secret@proxy.whatsapp.invalid:1080"},
    )
    assert put.status == 200, put.body
    assert put.json()["proxy"] == "socks5://proxy.whatsapp.invalid:1080"
    assert "secret" not in put.body.decode()
    got = d.get(f"/api/whatsapp/accounts/{other_id}/proxy").json()
    assert got["source"] == "account" and "secret" not in str(got)

    calls = [
        lambda: d.get("/api/whatsapp/accounts"),
        lambda: d.get(f"/api/whatsapp/threads/{other_id}"),
        lambda: d.get(f"/api/whatsapp/qr/{other_id}"),
        lambda: d.post(f"/api/whatsapp/backfill/{other_id}"),
        lambda: d.get("/health"),
        lambda: d.get("/diag"),
    ]
    latencies = []
    for i in range(60):
        t0 = time.monotonic()
        reply = calls[i % len(calls)]()
        latencies.append(time.monotonic() - t0)
        assert reply.status < 500, reply.body
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    assert p99 < 1.0, f"p99 {p99:.3f} s, max {latencies[-1]:.3f} s"

    first = d.post(f"/api/whatsapp/backfill/{other_id}")
    second = d.post(f"/api/whatsapp/backfill/{stalled_id}")
    assert first.status == second.status == 409
    assert first.json()["error"] == second.json()["error"] == "backfill_unsupported"
    assert first.json()["message"] == second.json()["message"]

    t0 = time.monotonic()
    gone = d.delete(f"/api/whatsapp/accounts/{stalled_id}")
    assert gone.status == 200
    assert time.monotonic() - t0 < 5.0  # a stop never waits for the stalled dial


def test_session_hosts_die_with_a_killed_daemon(
    daemon_factory: Callable[..., DaemonProcess], blackhole: str
) -> None:
    """kill -9 of the daemon takes its hosts (and the zygote) with it: a restarted daemon never
    finds its sessions still connected in orphans (one session must never run twice)."""
    from session_daemon.hosts.proctree import descendants

    d = daemon_factory(env={"WHATSAPP_PROXY": blackhole}, args=NEONIZE)
    assert d.post("/api/whatsapp/add-account", {"name": "A", "phone": "+40722000031"}).status == 200
    assert d.proc is not None
    daemon_pid = d.proc.pid
    deadline = time.monotonic() + 30
    while len(descendants(daemon_pid)) < 3 and time.monotonic() < deadline:  # zygote + host
        time.sleep(0.1)
    family = [p for p in descendants(daemon_pid) if p != daemon_pid]
    assert len(family) >= 2
    d.kill()
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{p}").exists() for p in family) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = [p for p in family if Path(f"/proc/{p}").exists()]
    assert alive == [], alive
