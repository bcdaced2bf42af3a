"""Dress rehearsal of the cut-over on the emulators, on data shaped like the app's production data.

    .venv/bin/python scripts/rehearse_cutover.py [--keep-going]

1. Starts the in-memory Firestore emulator (npm) and writes fixtures in the old system's shapes:
   accounts and threads with the old ids (`account_prod_…`), messages, legacy `evenimente` with
   Romanian field names beside V3 ones, `clients` with totals and no ledger, and app-owned
   documents (`users`, `staffProfiles`, `app_config/version`) the cut-over must not touch.
2. Runs the cut-over steps that have an emulator: the preflight (rules and indexes parse), and
   `superparty-crm rebuild-client-stats` (the npm emulator fires no triggers).
3. Checks what the app reads: every field of CONTRACT.md section 4 present with its type, every
   client's totals equal to a recomputation from its events, the app's documents unchanged.
4. Serves our Python codebase beside a Node stand-in of the app's functions
   (tests/cutover/app_functions) from one firebase.json in one Functions emulator, and calls one
   of each: the app's `allocateStaffCode` callable and our `whatsappWhoAmI` (and the `whatsapp`
   410 stub).

Not rehearsed here: importing the old linked sessions (docs/session-import.md has its own
checks) and the production deploy commands themselves (`scripts/cutover.py day --dry-run`).
Exit 0 when every check passed; each failed check is printed with its reason.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from vendor_shared import vendor_shared  # noqa: E402 - needs scripts/ on the path

PROJECT = "demo-rehearsal"  # "demo-" projects run offline, no credentials
REGION = "us-central1"
ROMANIA = ZoneInfo("Europe/Bucharest")
NODE_STAND_IN = ROOT / "tests" / "cutover" / "app_functions"
FIREBASE_CLI = ROOT / "node_modules" / ".bin" / "firebase"
OLD_ACCOUNT = "account_prod_1700000000000"
CLIENT_PHONE = "+40722111222"
THREAD = f"{OLD_ACCOUNT}__40722111222@s.whatsapp.net"

_FIRESTORE_LAUNCHER = r"""
const emulatorPath = require.resolve("@firestore-emulator/server");
const grpc = require(require.resolve("@grpc/grpc-js", { paths: [emulatorPath] }));
const { FirestoreServer } = require(emulatorPath);
const emulator = new FirestoreServer();
emulator.server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) { console.error("bind failed: " + err.message); process.exit(1); }
  console.log("READY " + port);
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
"""


class Report:
    def __init__(self) -> None:
        self.failures: list[str] = []

    def check(self, ok: bool, what: str, why: str = "") -> None:
        print(f"  [{'ok' if ok else 'FAIL'}] {what}{'' if ok else ': ' + why}", flush=True)
        if not ok:
            self.failures.append(f"{what}: {why}")


# ---- processes -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A child process in its own process group, ready when `ready(line)` says so."""

    def __init__(self, args: list[str], ready: Callable[[str], bool], **kw: Any) -> None:
        self.lines: list[str] = []
        self._ready = threading.Event()
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            **kw,
        )

        def read() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                self.lines.append(line.rstrip())
                if ready(line):
                    self._ready.set()

        threading.Thread(target=read, daemon=True).start()

    def wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("did not start:\n" + "\n".join(self.lines[-40:]))

    def stop(self) -> None:
        for sig, wait_s in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
            if self.proc.poll() is not None:
                break
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=wait_s)
            except subprocess.TimeoutExpired:
                continue


@contextmanager
def firestore_emulator() -> Iterator[str]:
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not installed (bash scripts/bootstrap.sh)")
    server = Server([node, "-e", _FIRESTORE_LAUNCHER], lambda line: line.startswith("READY "))
    try:
        server.wait(30)
        port = next(line.split()[1] for line in server.lines if line.startswith("READY "))
        yield f"127.0.0.1:{port}"
    finally:
        server.stop()


# ---- fixtures: the old system's data ---------------------------------------------------------


def ts(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


FIXTURES: dict[str, dict[str, Any]] = {
    f"accounts/{OLD_ACCOUNT}": {
        "name": "Sala Principala", "phone": "+40 722 000 100", "phoneE164": "+40722000100",
        "status": "connected", "createdAt": ts("2024-11-01T10:00:00"),
        "updatedAt": ts("2025-05-01T10:00:00"), "autoReplyEnabled": False,
    },
    f"threads/{THREAD}": {
        "accountId": OLD_ACCOUNT, "clientJid": "40722111222@s.whatsapp.net",
        "normalizedPhone": CLIENT_PHONE, "phoneE164": CLIENT_PHONE, "displayName": "Ana Pop",
        "lastMessageAt": ts("2025-05-02T09:30:00"), "lastMessageAtMs": 1746178200000,
        "lastMessageText": "Buna, vrem Elsa", "lastMessagePreview": "Buna, vrem Elsa",
        "lastMessageDirection": "inbound", "unreadCount": 1, "updatedAt": ts("2025-05-02T09:30:00"),
    },
    f"threads/{THREAD}/messages/3EB0OLD1": {
        "accountId": OLD_ACCOUNT, "clientJid": "40722111222@s.whatsapp.net",
        "direction": "inbound", "body": "Buna, vrem Elsa", "status": "delivered",
        "tsClient": ts("2025-05-02T09:30:00"), "tsClientMs": 1746178200000,
        "createdAt": ts("2025-05-02T09:30:01"), "createdAtMs": 1746178201000,
        "waMessageId": "3EB0OLD1", "messageType": "text",
    },
    # legacy event: Romanian field names, paid
    "evenimente/legacy1": {
        "data": "14-06-2025", "adresa": "Str. Florilor 3, Bucuresti", "sarbatoritNume": "Maria",
        "sarbatoritVarsta": 5, "telefonClientE164": CLIENT_PHONE,
        "incasare": {"stare": "INCASAT", "metoda": "CASH", "suma": 600}, "esteArhivat": False,
        "createdBy": "u-old", "createdAt": ts("2025-05-02T10:00:00"),
    },
    # V3 event of the same client, not paid yet
    "evenimente/v3a": {
        "schemaVersion": 3, "eventShortId": 12, "date": "20-09-2025", "address": "Sala Luna",
        "phoneE164": CLIENT_PHONE, "childName": "Ioana", "childAge": 7,
        "payment": {"status": "UNPAID", "method": None, "amount": 450},
        "isArchived": False, "createdBy": "u-staff", "createdAt": ts("2025-06-01T10:00:00"),
    },
    # archived: counts for nothing
    "evenimente/legacy2": {
        "data": "01-03-2025", "telefonClientE164": CLIENT_PHONE,
        "incasare": {"stare": "INCASAT", "metoda": "CARD", "suma": 999}, "esteArhivat": True,
    },
    # the old totals: no ledger, wrong sums
    f"clients/{CLIENT_PHONE}": {
        "phoneE164": CLIENT_PHONE, "displayName": "Ana Pop", "lifetimeSpendPaid": 1599,
        "lifetimeSpendAll": 2049, "eventsCount": 3, "lastEventAt": ts("2025-05-02T10:00:00"),
        "createdAt": ts("2025-01-01T10:00:00"), "updatedAt": ts("2025-05-02T10:00:00"),
    },
    # the app's own documents
    "users/u-staff": {"uid": "u-staff", "email": "staff@example.com", "phone": "+40722000200",
                      "status": "active", "fcmToken": "tok", "notificationsEnabled": True},
    "staffProfiles/u-staff": {"role": "staff", "whatsAppAccountIds": [OLD_ACCOUNT]},
    "app_config/version": {"minVersion": "1.4.0", "forceUpdate": False},
}  # fmt: skip
APP_OWNED = ("users/u-staff", "staffProfiles/u-staff", "app_config/version")

# CONTRACT.md section 4: the fields the app reads, and their types.
STR, INT, NUM, TIME = (str,), (int,), (int, float), (datetime,)
SECTION_4: dict[str, dict[str, tuple[type, ...]]] = {
    "threads": {"accountId": STR, "clientJid": STR, "normalizedPhone": STR, "phoneE164": STR,
                "displayName": STR, "lastMessageAt": TIME, "lastMessageAtMs": INT,
                "lastMessageText": STR, "lastMessagePreview": STR, "lastMessageDirection": STR,
                "unreadCount": INT},
    "messages": {"accountId": STR, "clientJid": STR, "direction": STR, "body": STR,
                 "status": STR, "tsClient": TIME, "tsClientMs": INT, "createdAtMs": INT},
    "accounts": {"name": STR, "phone": STR, "status": STR},
    "clients": {"phoneE164": STR, "lifetimeSpendPaid": NUM, "lifetimeSpendAll": NUM,
                "eventsCount": INT, "lastEventAt": TIME},
}  # fmt: skip


def seed(store: Any) -> None:
    for path, data in FIXTURES.items():
        store.set(path, data)


# ---- checks ----------------------------------------------------------------------------------


def check_section_4(store: Any, report: Report) -> None:
    from shared.schemas import Event

    docs = {
        "threads": [f"threads/{THREAD}"],
        "messages": [f"threads/{THREAD}/messages/3EB0OLD1"],
        "accounts": [f"accounts/{OLD_ACCOUNT}"],
        "clients": [f"clients/{CLIENT_PHONE}"],
    }
    for kind, paths in docs.items():
        for path in paths:
            snap = store.get(path)
            if snap is None:
                report.check(False, f"{path} exists", "missing")
                continue
            wrong = [
                f"{name}={snap.data.get(name)!r}"
                for name, types in SECTION_4[kind].items()
                if not isinstance(snap.data.get(name), types)
                or isinstance(snap.data.get(name), bool)
            ]
            report.check(not wrong, f"{path}: section 4 fields with their types", ", ".join(wrong))
    for snap in store.query(_query("evenimente")):
        try:
            event = Event.from_any(snap.data)
        except ValueError as exc:
            report.check(False, f"evenimente/{snap.id} reads as V3", str(exc)[:200])
            continue
        ok = event.date is not None and len(event.date) == 10 and event.date[2] == "-"
        report.check(ok, f"evenimente/{snap.id} reads as V3 (date DD-MM-YYYY)", repr(event.date))


def _query(collection: str) -> Any:
    from shared.store.port import query

    return query(collection)


def recomputed_totals(store: Any) -> dict[str, dict[str, Any]]:
    """Totals from the events alone (CONTRACT section 4, DESIGN.md CRM): counted = not
    archived with a phone; CANCELLED counts nothing; paid = PAID amounts."""
    from shared.schemas import Event

    totals: dict[str, dict[str, Any]] = {}
    for snap in store.query(_query("evenimente")):
        event = Event.from_any(snap.data)
        if event.is_archived or not event.phone_e164 or event.payment.status == "CANCELLED":
            continue
        t = totals.setdefault(event.phone_e164, {"paid": 0.0, "all": 0.0, "count": 0, "last": ""})
        t["all"] += float(event.payment.amount)
        t["paid"] += float(event.payment.amount) if event.payment.status == "PAID" else 0.0
        t["count"] += 1
        iso = "-".join(reversed((event.date or "").split("-")))
        t["last"] = max(t["last"], iso)
    return totals


def check_totals(store: Any, report: Report) -> None:
    for phone, want in recomputed_totals(store).items():
        snap = store.get(f"clients/{phone}")
        data = snap.data if snap is not None else {}
        got = (data.get("lifetimeSpendPaid"), data.get("lifetimeSpendAll"), data.get("eventsCount"))
        ok = got == (want["paid"], want["all"], want["count"])
        report.check(ok, f"clients/{phone} totals = recomputation", f"{got} != {want}")
        last = data.get("lastEventAt")
        # the party's day in Romania (lastEventAt is its start, Romanian time)
        local = last.astimezone(ROMANIA).date().isoformat() if isinstance(last, datetime) else ""
        ok = local == want["last"]
        report.check(ok, f"clients/{phone} lastEventAt is the last party's date", repr(last))


def check_app_documents(store: Any, report: Report) -> None:
    for path in APP_OWNED:
        snap = store.get(path)
        same = snap is not None and {k: snap.data.get(k) for k in FIXTURES[path]} == FIXTURES[path]
        report.check(same, f"{path} untouched", "changed or missing")


# ---- steps -----------------------------------------------------------------------------------


def run(command: list[str], env: Mapping[str, str], report: Report, what: str) -> None:
    done = subprocess.run(
        command, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True
    )
    tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
    report.check(done.returncode == 0, what, " | ".join(tail))


def two_codebases(workdir: Path) -> Path:
    """A firebase.json with our codebase (as deployed: shared vendored) and the Node stand-in
    of the app's (codebase `default`), emulator ports free; returns its path."""
    ours_config = json.loads((ROOT / "firebase.json").read_text())["functions"]
    ours = dict(ours_config[0] if isinstance(ours_config, list) else ours_config)
    deployed = workdir / "functions"
    shutil.copytree(
        ROOT / "functions",
        deployed,
        ignore=shutil.ignore_patterns("venv", "shared", "__pycache__", ".*"),
    )
    vendor_shared(deployed)
    (deployed / "venv").symlink_to(ROOT / "functions" / "venv")
    ours["source"] = "functions"
    app = {"source": os.path.relpath(NODE_STAND_IN, workdir), "codebase": "default",
           "runtime": "nodejs20"}  # fmt: skip
    emulators: dict[str, Any] = {
        name: {"host": "127.0.0.1", "port": free_port()}
        for name in ("auth", "functions", "hub", "logging")
    }
    emulators |= {"ui": {"enabled": False}, "singleProjectMode": True}
    config = workdir / "firebase.json"
    config.write_text(json.dumps({"functions": [ours, app], "emulators": emulators}, indent=2))
    return config


def http(method: str, url: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data, headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=90) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            return error.code, json.loads(raw or b"null")
        except ValueError:
            return error.code, raw.decode(errors="replace")


def check_functions(firestore_host: str, report: Report) -> None:
    with tempfile.TemporaryDirectory(prefix="rehearsal-functions-") as tmp:
        config_path = two_codebases(Path(tmp))
        config = json.loads(config_path.read_text())
        codebases = sorted(str(f["codebase"]) for f in config["functions"])
        report.check("default" in codebases and len(set(codebases)) == 2,
                     f"one firebase.json, two codebases {codebases}")  # fmt: skip
        env = {**os.environ, "FIRESTORE_EMULATOR_HOST": firestore_host, "CI": "true",
               "NO_UPDATE_NOTIFIER": "1", "WHATSAPP_DAEMON_TOKEN": "rehearsal-token"}  # fmt: skip
        server = Server(
            [str(FIREBASE_CLI), "emulators:start", "--only", "auth,functions", "--project",
             PROJECT, "--config", str(config_path)],
            lambda line: "All emulators ready" in line,
            cwd=tmp, env=env,
        )  # fmt: skip
        try:
            server.wait(180)
            failed = [line for line in server.lines if "Failed to load function" in line]
            served = " ".join(line for line in server.lines if "function initialized" in line)
            names = ("allocateStaffCode", "whatsappWhoAmI", "whatsappProxySend", "whatsapp)")
            missing = [n for n in names if f"-{n.rstrip(')')}]" not in served]
            report.check(not failed and not missing, "both codebases loaded",
                         " | ".join(failed) + f" missing: {missing}")  # fmt: skip
            auth = f"127.0.0.1:{config['emulators']['auth']['port']}"
            base = f"http://127.0.0.1:{config['emulators']['functions']['port']}/{PROJECT}/{REGION}"
            status, user = http(
                "POST",
                f"http://{auth}/identitytoolkit.googleapis.com/v1/accounts:signUp?key=fake",
                {
                    "email": "rehearsal@example.com",
                    "password": "secret123",
                    "returnSecureToken": True,
                },
            )
            token = user["idToken"] if status == 200 else None
            report.check(token is not None, "a user signs up on the Auth emulator", str(user))
            status, body = http(
                "POST", f"{base}/allocateStaffCode", {"data": {"teamId": "t1"}}, token
            )
            result = body.get("result", {}) if isinstance(body, dict) else {}
            ok = status == 200 and result.get("ok") is True and result.get("codebase") == "default"
            report.check(
                ok, "the app's Node callable allocateStaffCode answered", f"{status} {body}"
            )
            status, body = http("GET", f"{base}/whatsappWhoAmI", token=token)
            ok = status == 200 and isinstance(body, dict) and body.get("isEmployee") is False
            report.check(ok, "our Python whatsappWhoAmI answered", f"{status} {body}")
            status, body = http("GET", f"{base}/whatsapp")
            ok = status == 410 and isinstance(body, dict) and body.get("error") == "deprecated"
            report.check(ok, "our whatsapp stub answered 410", f"{status} {body}")
        except (OSError, ValueError) as exc:
            report.check(False, "the Functions emulator answered", f"{exc}")
            print("\n".join("    | " + line for line in server.lines[-30:]))
        finally:
            server.stop()


def main() -> int:
    from shared.store.firestore import FirestoreStore

    report = Report()
    python = str(ROOT / ".venv" / "bin" / "python")
    with firestore_emulator() as host:
        os.environ["FIRESTORE_EMULATOR_HOST"] = host
        store = FirestoreStore(PROJECT)
        try:
            print(f"1. fixtures of the old system on the Firestore emulator ({host})", flush=True)
            seed(store)
            print("2. the cut-over steps that run on emulators", flush=True)
            preflight = [python, "scripts/deploy_preflight.py", "--rules", "--indexes"]
            run([*preflight, "--project", PROJECT], {}, report, "preflight: rules, indexes parse")
            run([str(ROOT / ".venv" / "bin" / "superparty-crm"), "rebuild-client-stats", "--store",
                 f"firestore://{PROJECT}"], {"FIRESTORE_EMULATOR_HOST": host}, report,
                "superparty-crm rebuild-client-stats")  # fmt: skip
            print("3. what the app reads", flush=True)
            check_section_4(store, report)
            check_totals(store, report)
            check_app_documents(store, report)
            print("4. one Functions emulator, the app's Node codebase and ours", flush=True)
            check_functions(host, report)
        finally:
            store.close()
    if report.failures:
        print(f"\nrehearsal FAILED: {len(report.failures)} check(s)", flush=True)
        return 1
    print("\nrehearsal passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
