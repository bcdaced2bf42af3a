"""Two daemon processes on one store and one sessions folder, lease 1 s, with each simulator mode
(`inprocess`: each daemon plays its own phone network; `shared`: one network for both):

- an account imported by `import-sessions` (issue 19: its device in the sessions folder) is seen
  by both daemons, but only the lease holder connects it: never two live sessions;
- a session paired on one daemon and one imported are restored by the other daemon from the
  sessions folder, without a QR, when it takes them over (balance when it starts, then kill -9
  of the first): the simulated transport keeps its device credentials there like a real one.

"Two live sessions" is watched all along: the shared network lists them itself
(`doubleSessions`); with in-process simulators, a watcher polls both daemons' networks.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from session_daemon.cli import cli
from tests.support.daemon import DaemonProcess
from tests.support.session_import.baileys_folder import make_folder

pytestmark = pytest.mark.timeout(120)

LEASE = 1.0
IMPORTED = "account_prod_77aa"


class Pair:
    def __init__(self, tmp: Path, simulator: str) -> None:
        self.tmp = tmp
        self.simulator = simulator
        self.token = secrets.token_urlsafe(32)
        self.store = tmp / "store.db"
        self.sessions = tmp / "sessions"
        self.daemons: dict[str, DaemonProcess] = {}
        self.overlaps: list[tuple[str, float]] = []
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    def start(self, name: str) -> DaemonProcess:
        workdir = self.tmp / name
        workdir.mkdir()
        d = DaemonProcess(
            workdir=workdir,
            token=self.token,
            env={
                "WHATSAPP_INSTANCE_ID": name,
                "WHATSAPP_LEASE_SECONDS": str(LEASE),
                "WHATSAPP_SIMULATOR": self.simulator,
            },
            extra_args=["--sessions-path", str(self.sessions)],
            store_url=f"sqlite:///{self.store}",
        )
        d.start(timeout=60)
        self.daemons[name] = d
        return d

    def alive(self) -> list[DaemonProcess]:
        return [d for d in self.daemons.values() if d.proc is not None and d.proc.poll() is None]

    def connected_on(self) -> dict[str, set[str]]:
        """account -> the daemons that have its session connected: each daemon's own network
        (in-process simulators), or each daemon's session hosts (the shared network, which also
        reports two live sessions of one account itself)."""
        out: dict[str, set[str]] = {}
        for name, d in list(self.daemons.items()):
            if d.proc is None or d.proc.poll() is not None:
                continue
            try:
                if self.simulator == "shared":
                    doubles = d.get("/api/simulator/state").json().get("doubleSessions")
                    if doubles:
                        self.overlaps.append((f"doubleSessions {doubles}", time.time()))
                    diag = d.get("/diag").json()["transportDiagnostics"]
                    up = set(diag["connectedAccounts"])
                else:
                    sessions = d.get("/api/simulator/state").json()["sessions"]
                    up = {acc for acc, s in sessions.items() if s == "connected"}
            except (OSError, ValueError, KeyError):
                continue
            for account in up:
                out.setdefault(account, set()).add(name)
        return out

    def holder(self, account: str) -> str | None:
        for name, d in self.daemons.items():
            if d in self.alive() and account in d.get("/diag").json()["leases"]["held"]:
                return name
        return None

    def watch(self) -> None:
        def run() -> None:
            while not self._stop.is_set():
                for account, names in self.connected_on().items():
                    if len(names) > 1:
                        self.overlaps.append((account, time.time()))
                time.sleep(0.05)

        self._watcher = threading.Thread(target=run, daemon=True)
        self._watcher.start()

    def close(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join()
        for d in self.daemons.values():
            if d.proc is not None and d.proc.poll() is None:
                try:
                    d.stop(timeout=10)
                except RuntimeError:
                    d.kill()


def wait(cond: Any, timeout: float, what: str, show: Any = None) -> None:
    start = time.monotonic()
    while not cond():
        if time.monotonic() - start >= timeout:
            raise AssertionError(f"timed out: {what} ({show() if show else ''})")
        time.sleep(0.05)


@pytest.fixture(params=["inprocess", "shared"])
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Pair]:
    p = Pair(tmp_path, request.param)
    yield p
    p.close()


def import_one(p: Pair) -> None:
    make_folder("40722000077").write(p.tmp / "old" / IMPORTED)
    result = CliRunner().invoke(
        cli,
        [
            "import-sessions", "--from-dir", str(p.tmp / "old"),
            "--store", f"sqlite:///{p.store}", "--sessions-path", str(p.sessions),
            "--transport", "simulated",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def test_sessions_in_the_shared_folder_run_on_one_daemon_and_move_with_the_lease(
    pair: Pair,
) -> None:
    p = pair
    import_one(p)
    a = p.start("a")
    # an account paired on a (its QR, the phone scans), beside the imported one
    added = a.post("/api/whatsapp/add-account", {"name": "Sales", "phone": "+40722000078"})
    paired = str(added.json()["accountId"])
    a.wait_for(lambda: a.account_status(paired) == "qr_ready", what="QR")
    assert a.post(f"/api/simulator/pair/{paired}", {"phone": "+40722000078"}).status == 200
    wait(lambda: p.connected_on().get(IMPORTED) == {"a"}, 10, "the import restored on a")
    wait(lambda: p.connected_on().get(paired) == {"a"}, 10, "paired on a")
    p.watch()

    # b starts: both see both session files; the plan gives b one account, which a hands over
    # and b restores from the folder (no QR); the other stays on a alone
    b = p.start("b")
    wait(lambda: {p.holder(IMPORTED), p.holder(paired)} == {"a", "b"}, 6 * LEASE, "one each")
    wait(
        lambda: (
            all(len(p.connected_on().get(acc, ())) == 1 for acc in (IMPORTED, paired))
            and {next(iter(p.connected_on()[acc])) for acc in (IMPORTED, paired)} == {"a", "b"}
        ),
        6 * LEASE,
        "each connected on its holder",
        lambda: (p.connected_on(), p.holder(IMPORTED), p.holder(paired), b.log()[-3000:]),
    )
    moved = IMPORTED if p.holder(IMPORTED) == "b" else paired

    # kill -9 of a: b takes its account over and restores that session too
    a.kill()
    wait(
        lambda: p.connected_on().get(IMPORTED) == {"b"} and p.connected_on().get(paired) == {"b"},
        3 * LEASE + 3,
        "both on b",
    )
    accounts = {x["id"]: x for x in b.get("/api/whatsapp/accounts").json()["accounts"]}
    for acc in (IMPORTED, paired):
        assert accounts[acc]["status"] == "connected" and accounts[acc]["qrCode"] is None
    # a message reaches the account a had (its session runs on b now)
    other = paired if moved == IMPORTED else IMPORTED
    reply = b.post(f"/api/simulator/messages/{other}", {"from": "+40733111222", "text": "Salut"})
    assert reply.status == 200, reply.body
    time.sleep(3 * 0.05)  # one more round of the watcher
    assert p.overlaps == [], p.overlaps
