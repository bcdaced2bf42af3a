"""Two real daemon processes on one SQLite store: the lease means no item is ever sent twice,
even when one daemon is killed (SIGKILL) in the middle of sends.

Each child is the real daemon (`session_daemon.cli serve`, simulated transport) whose transport
also appends one line per message that reached a phone to a shared log file (one `O_APPEND`
write each), so sends made by a daemon that was killed afterwards are still counted. Running this
file as a script starts such a child (see `_child`).
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from session_daemon.outbox.items import UNKNOWN_STATE_ERROR
from shared.ids import thread_id
from shared.outbox import enqueue_send
from shared.store.port import query
from shared.store.sqlite import SqliteStore
from tests.support.daemon import DaemonProcess, free_port

HERE = Path(__file__).resolve()
SEND_LOG_ENV = "OUTBOX_TEST_SEND_LOG"
# Sends after this many never return (logged, then stuck on the way back): the daemon is
# certainly mid-send when it is killed, whatever the timing of the machine.
HANG_AFTER_ENV = "OUTBOX_TEST_HANG_AFTER"
SEND_DELAY_ENV = "OUTBOX_TEST_SEND_DELAY"
OUTBOX_ENV = {
    "WHATSAPP_OUTBOX_PACE_MIN_GAP_SECONDS": "0",
    "WHATSAPP_OUTBOX_PACE_JITTER_SECONDS": "0",
    "WHATSAPP_OUTBOX_RECIPIENT_MAX": "0",
    "WHATSAPP_OUTBOX_BACKOFF_INITIAL_SECONDS": "0.05",
    "WHATSAPP_OUTBOX_BACKOFF_MAX_SECONDS": "0.3",
    "WHATSAPP_OUTBOX_MAX_ATTEMPTS": "100",
    "WHATSAPP_OUTBOX_POLL_SECONDS": "0.3",
    "WHATSAPP_OUTBOX_LEASE_SECONDS": "1.5",
    # account leases (issue 14): the killed daemon's accounts reach B once theirs lapse; the
    # default 30 s would be most of this test's time
    "WHATSAPP_LEASE_SECONDS": "2",
}


def _child() -> None:
    """The daemon, with a transport whose sends take time and are logged durably."""
    import session_daemon.app as app_module
    from session_daemon.cli import main
    from session_daemon.transport.port import SendResult
    from session_daemon.transport.simulated import SimulatedTransport

    log_fd = os.open(os.environ[SEND_LOG_ENV], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    delay = float(os.environ.get(SEND_DELAY_ENV, "0"))
    instance = os.environ.get("WHATSAPP_INSTANCE_ID", "?")
    hang_after = int(os.environ.get(HANG_AFTER_ENV, "0")) or None
    sends = itertools.count(1)

    class LoggedTransport(SimulatedTransport):
        def send_text_sync(self, account_id: str, to_jid: str, text: str) -> SendResult:
            time.sleep(delay)  # on the way to WhatsApp
            result = super().send_text_sync(account_id, to_jid, text)
            line = {"by": instance, "account": account_id, "to": to_jid, "text": text}
            os.write(log_fd, (json.dumps(line) + "\n").encode())
            if hang_after is not None and next(sends) > hang_after:
                time.sleep(3600)  # delivered, but the answer never comes back
            time.sleep(delay)  # the answer on its way back
            return result

    app_module.make_transport = lambda settings, store: LoggedTransport()
    sys.argv = [sys.argv[0], "serve", *sys.argv[1:]]
    main()


class LoggedDaemon(DaemonProcess):
    """A `DaemonProcess` running this file's child instead of `python -m session_daemon`."""

    def __init__(self, workdir: Path, token: str, name: str, store: Path, env: dict[str, str]):
        super().__init__(workdir=workdir, token=token, env=env)
        self.name = name
        self.store = store

    @property
    def store_path(self) -> Path:
        return self.store

    def start(self, timeout: float = 30.0) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "WHATSAPP_DAEMON_TOKEN": self.token,
            "WHATSAPP_INSTANCE_ID": self.name,
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(HERE.parents[4]),
            **self.env,
        }
        env.pop("FIRESTORE_EMULATOR_HOST", None)
        cmd = [
            sys.executable, str(HERE),
            "--transport", "simulated",
            "--store", f"sqlite:///{self.store}",
            "--sessions-path", str(self.sessions_path),
            "--host", "127.0.0.1",
            "--port", str(self.port),
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=self.workdir, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if self.request("GET", "/ready", token=None, timeout=1).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"daemon not ready after {timeout} s:\n{self.log()}")


def ok(reply: Any) -> Any:
    body = reply.json()
    assert reply.status == 200 and body["success"] is True, (reply.status, body)
    return body


def read_log(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture
def daemons(tmp_path: Path) -> Any:
    made: list[LoggedDaemon] = []

    def make(name: str, env: dict[str, str]) -> LoggedDaemon:
        workdir = tmp_path / name
        workdir.mkdir(exist_ok=True)
        token = f"tok-{name}-".ljust(40, "0")  # the daemon refuses service tokens under 32
        d = LoggedDaemon(workdir, token, name, tmp_path / "store.db", env)
        made.append(d)
        return d

    yield make
    for d in made:
        try:
            d.stop(timeout=10)
        except RuntimeError:
            d.kill()


def test_two_daemons_one_killed_mid_send_never_send_twice(tmp_path: Path, daemons: Any) -> None:
    send_log = tmp_path / "sent.jsonl"
    base_env = {**OUTBOX_ENV, SEND_LOG_ENV: str(send_log)}
    # 1. pair three accounts once (daemon A), then give B copies of the session files
    a = daemons("daemon-a", {**base_env, SEND_DELAY_ENV: "0.15", HANG_AFTER_ENV: "6"})
    a.start()
    accounts = []
    for i in range(3):
        phone = f"+4072200010{i}"
        acc = ok(a.post("/api/whatsapp/add-account", {"name": phone, "phone": phone}))["accountId"]
        a.wait_for(lambda acc=acc: a.account_status(acc) == "qr_ready", what="QR", timeout=20)
        ok(a.post(f"/api/simulator/pair/{acc}", {"phone": phone}))
        a.wait_for(lambda acc=acc: a.account_status(acc) == "connected", what="connected")
        accounts.append(acc)
    a.stop()
    b = daemons("daemon-b", {**base_env, SEND_DELAY_ENV: "0.01"})
    shutil.copytree(a.sessions_path, b.sessions_path)

    # 2. a backlog both daemons will compete for
    clients = [f"4071100020{j}@s.whatsapp.net" for j in range(4)]
    store = SqliteStore(tmp_path / "store.db")
    rids: dict[str, str] = {}
    try:
        for acc in accounts:
            for client in clients:
                doc = {"accountId": acc, "clientJid": client}
                store.create(f"threads/{thread_id(acc, client)}", doc)
        for n in range(120):
            acc, client = accounts[n % 3], clients[(n // 3) % 4]
            text = f"{acc}|{client}|{n:03d}"
            result = enqueue_send(
                store, thread_id=thread_id(acc, client), account_id=acc, to_jid=client,
                text=text, uid="staff", client_message_id=text,
            )  # fmt: skip
            rids[result.request_id] = text
    finally:
        store.close()

    # 3. both run; A (slow sends) is killed while its 7th send hangs after reaching the phone
    a.start()
    b.start()
    a.wait_for(lambda: sum(1 for r in read_log(send_log) if r["by"] == "daemon-a") >= 7,
               timeout=30, what="daemon A stuck in its 7th send")  # fmt: skip
    assert a.proc is not None
    os.kill(a.proc.pid, signal.SIGKILL)
    a.proc.wait()

    # 4. B finishes the backlog and settles A's abandoned claims once their lease lapses
    def settled() -> dict[str, dict[str, Any]] | None:
        with b.open_store() as s:
            items = {x.id: x.data for x in s.query(query("outbox"))}
        done = all(items[r]["status"] in ("sent", "failed") for r in rids)
        return items if done else None

    items = b.wait_for(settled, timeout=60, what="every item sent or failed")
    log = read_log(send_log)
    counts = Counter(r["text"] for r in log)
    assert max(counts.values()) == 1, [t for t, c in counts.items() if c > 1]  # never twice
    by = Counter(r["by"] for r in log)
    assert by["daemon-a"] >= 6 and by["daemon-b"] >= 1, by  # the lease split the work

    sent = {r for r in rids if items[r]["status"] == "sent"}
    failed = {r for r in rids if items[r]["status"] == "failed"}
    for rid in sent:
        assert counts[rids[rid]] == 1, "a sent item must have reached its phone exactly once"
    # A was mid-send: those items are failed as "unknown state", never resent, at most one per
    # account lane of A
    print(f"sent by daemon: {dict(by)}; failed (unknown state): {len(failed)}")
    assert 1 <= len(failed) <= len(accounts), failed
    for rid in failed:
        assert items[rid]["lastError"] == UNKNOWN_STATE_ERROR
        assert items[rid]["claimedBy"] == "daemon-a"
    # per-thread order of what reached the phones
    for acc in accounts:
        for client in clients:
            seq = [r["text"] for r in log if r["account"] == acc and r["to"] == client]
            assert seq == sorted(seq)


if __name__ == "__main__":
    _child()
