"""The cut-over from the old Node backend, as commands (docs/cutover.md explains each step).

    python scripts/cutover.py day --project ID [--dry-run] [options]   # the order of the day
    python scripts/cutover.py functions --project ID [--dry-run]       # only the functions swap
    python scripts/cutover.py check-accounts [--daemon-url URL] [--wait S]

`--dry-run` prints the exact commands and runs none of them, except the preflight checks
(scripts/deploy_preflight.py), which always run: a rules or index file that does not parse, an
unset project id or a missing secret stops the script before anything is deployed, dry or not.

The functions swap goes bucket by bucket: delete the Node versions of our names (codebase
`default`, the app's), then deploy ours (`functions:CODEBASE:NAME`). The 1st-gen `whatsapp`
function goes first: 1st gen cannot be upgraded in place. A name already served by our codebase
is never deleted, so the swap can be run again after a failure.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer

ROOT = Path(__file__).resolve().parents[1]
REGION = "us-central1"
BUCKET_SCRIPT = "scripts/firebase-deploy-functions-buckets.sh"
STUB_BUCKET = "whatsapp-stub"  # the 1st-gen `whatsapp`: deleted and replaced first


class CutoverError(Exception):
    """A step failed: the message says which and what to do."""


@dataclass
class Step:
    title: str
    commands: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the operator does or watches


def firebase_cli() -> list[str]:
    return shlex.split(os.environ.get("FIREBASE_BIN") or "node_modules/.bin/firebase")


def python_bin() -> str:
    """The project's Python (lark for the preflight), relative: commands run in the checkout."""
    if os.environ.get("PYTHON"):
        return os.environ["PYTHON"]
    return ".venv/bin/python" if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable


def buckets() -> list[tuple[str, list[str]]]:
    """(bucket, function names) in cut-over order, from the deploy script (one list)."""
    done = subprocess.run(
        ["bash", str(ROOT / BUCKET_SCRIPT), "--list"], capture_output=True, text=True, check=True
    )
    out = []
    for line in done.stdout.splitlines():
        name, _, functions = line.partition(":")
        out.append((name.strip(), functions.split()))
    out.sort(key=lambda b: b[0] != STUB_BUCKET)  # the stub first, the rest in listed order
    return out


def preflight(project: str, dry_run: bool, *, rules: bool, indexes: bool) -> None:
    command = [python_bin(), "scripts/deploy_preflight.py", "--functions", "--project", project]
    command += ["--rules"] if rules else []
    command += ["--indexes"] if indexes else []
    command += ["--dry-run"] if dry_run else []
    print(f"$ {shlex.join(command)}", flush=True)
    if subprocess.run(command, cwd=ROOT).returncode != 0:
        raise CutoverError("preflight failed: nothing was deployed")


def deployed_elsewhere(project: str, names: Sequence[str], codebase: str) -> list[str]:
    """The names among `names` deployed now and not by our codebase (the Node versions)."""
    command = [*firebase_cli(), "functions:list", "--json", "--project", project]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise CutoverError(f"cannot list the deployed functions: {done.stderr.strip()[-300:]}")
    try:
        listed = json.loads(done.stdout).get("result", [])
    except ValueError:
        raise CutoverError("`firebase functions:list --json` did not answer JSON") from None
    theirs = {
        str(f.get("id"))
        for f in listed
        if isinstance(f, dict) and f.get("codebase", "default") != codebase
    }
    return [n for n in names if n in theirs]


def functions_steps(project: str, codebase: str) -> list[Step]:
    steps = []
    for letter, (bucket, names) in zip("abcdefgh", buckets(), strict=False):
        delete = [*firebase_cli(), "functions:delete", *names, "--region", REGION, "--force"]
        delete += ["--project", project]
        deploy = ["bash", BUCKET_SCRIPT, bucket, "--project", project]
        notes = [f"the app's {', '.join(names)} answer errors between these two commands"]
        if bucket == STUB_BUCKET:
            notes = [
                "`whatsapp` is 1st gen in production and cannot be upgraded in place: delete it "
                "first. If the CLI fails: `gcloud functions delete whatsapp "
                f"--region={REGION} --project={project} --quiet`; if it says 'undergoing 2nd Gen "
                "upgrade', abort that upgrade first (docs/cutover.md, step 6)",
            ]
        title = f"6{letter}. functions, bucket {bucket}: delete the Node versions, deploy ours"
        steps.append(Step(f"{title} (codebase {codebase})", [delete, deploy], notes))
    return steps


def day_steps(args: DayArgs, codebase: str) -> list[Step]:
    project = args.project
    store = f"firestore://{project}"
    daemon = [".venv/bin/superparty-daemon"]  # commands run in the checkout
    fb = firebase_cli()
    only = ["--project", project, "--non-interactive"]
    steps = [
        Step(
            "1. freeze sends",
            notes=[
                "tell staff: no WhatsApp sends from the app until 'unfreeze'; what is sent "
                "anyway waits in outbox and the new daemon sends it once (at most once)",
            ],
        ),
        Step(
            "2. stop the old backend with SIGTERM (never its delete routes: they log devices out)",
            [shlex.split(args.old_backend_stop)],
        ),
        Step(
            "3. import the old backend's linked sessions (docs/session-import.md)",
            [[*daemon, "import-sessions", *import_source(args), "--old-backend-stopped",
              "--store", store, "--sessions-path", args.sessions_path]],
            ["no number needs a new QR; an account the import cannot carry is listed by it"],
        ),
        admin_step(args),
        Step("4. deploy the rules", [[*fb, "deploy", "--only", "firestore:rules", *only]]),
        Step("5. deploy the indexes", [[*fb, "deploy", "--only", "firestore:indexes", *only]]),
        *functions_steps(project, codebase),
        Step(
            "6z. rebuild the client totals (old client documents have no ledger)",
            [[".venv/bin/superparty-crm", "rebuild-client-stats", "--store", store]],
        ),
        Step(
            "7. start the daemon  <- ROLLBACK POINT: after this the sessions move to the daemon",
            [shlex.split(args.daemon_start)],
        ),
        Step(
            "8. check every account connected",
            [[python_bin(), "scripts/cutover.py", "check-accounts", "--daemon-url", args.daemon_url,
              "--wait", str(args.wait)]],
        ),
        Step("9. unfreeze sends", notes=["tell staff sends are open again"]),
    ]  # fmt: skip
    return steps


def import_source(args: DayArgs) -> list[str]:
    """The old backend's session folders (fresh), or `wa_sessions/*` of the store (may lag)."""
    if args.old_sessions == "store":
        return ["--from-store"]
    return ["--from-dir", args.old_sessions]


def admin_step(args: DayArgs) -> Step:
    """The app's rules made its admin by a hard-coded address; ours by the claim or
    config/super_admins: set both up before our rules replace theirs."""
    title = "3b. make the app's admin a super-admin (before the rules replace the app's)"
    if not args.admin_email:
        return Step(title, notes=["pass --admin-email ADDRESS: `superparty-daemon set-admin`"])
    command = [".venv/bin/superparty-daemon", "set-admin", args.admin_email]
    return Step(title, [[*command, "--project", args.project]])


def run_steps(steps: Sequence[Step], project: str, codebase: str, dry_run: bool) -> None:
    for step in steps:
        print(f"\n== {step.title}", flush=True)
        for note in step.notes:
            print(f"   note: {note}")
        for command in step.commands:
            if not dry_run and "functions:delete" in command:
                names = [c for c in command[command.index("functions:delete") + 1 :]]
                names = names[: names.index("--region")]
                present = deployed_elsewhere(project, names, codebase)
                if not present:
                    print(f"   skip: none of {', '.join(names)} is deployed outside {codebase}")
                    continue
                command = [*firebase_cli(), "functions:delete", *present, "--region", REGION]
                command += ["--force", "--project", project]
            print(f"$ {shlex.join(command)}", flush=True)
            if dry_run:
                continue
            if subprocess.run(command, cwd=ROOT).returncode != 0:
                raise CutoverError(f"step failed: {step.title}: {shlex.join(command)}")


def codebase_of_repo() -> str:
    command = [python_bin(), "scripts/deploy_preflight.py", "--print-codebase"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise CutoverError(done.stderr.strip())
    return done.stdout.strip()


def check_accounts(url: str, token: str | None, wait_s: float) -> None:
    """Every account of the daemon `connected`, polling until `wait_s` has passed."""
    if not token:
        raise CutoverError("no service token: set WHATSAPP_DAEMON_TOKEN or --token-file")
    deadline = time.monotonic() + wait_s
    while True:
        request = urllib.request.Request(
            f"{url.rstrip('/')}/api/whatsapp/accounts", headers={"Authorization": f"Bearer {token}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                accounts = json.loads(response.read()).get("accounts", [])
        except (urllib.error.URLError, OSError, ValueError) as exc:
            accounts, error = None, str(exc)
        if accounts is not None:
            waiting = [a for a in accounts if a.get("status") != "connected"]
            for a in accounts:
                print(f"   {a.get('id')}: {a.get('status')}")
            if not waiting:
                print(f"all {len(accounts)} accounts connected")
                return
            error = f"{len(waiting)} of {len(accounts)} accounts not connected"
        if time.monotonic() >= deadline:
            raise CutoverError(error)
        time.sleep(5)


@dataclass(frozen=True)
class DayArgs:
    """The options of `day` (and of `functions`: project and dry_run only)."""

    project: str
    dry_run: bool = False
    old_backend_stop: str = "sudo systemctl stop whatsapp-backend"
    daemon_start: str = "sudo systemctl start superparty-daemon"
    daemon_url: str = "http://127.0.0.1:8080"
    sessions_path: str = "/var/lib/superparty/sessions"
    wait: float = 300.0
    admin_email: str = ""
    old_sessions: str = "/app/sessions"


app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help=(__doc__ or "").split("\n")[0],
    pretty_exceptions_enable=False,
)
Project = Annotated[str, typer.Option(envvar="FIREBASE_PROJECT", help="the Firebase project id")]
DryRun = Annotated[bool, typer.Option(help="print the commands; run only the preflight checks")]
Url = Annotated[str, typer.Option(help="the daemon's address")]
Wait = Annotated[float, typer.Option(help="seconds to wait for every account to connect")]
_DEFAULTS = DayArgs(project="")


def _swap(args: DayArgs, day: bool) -> None:
    try:
        preflight(args.project, args.dry_run, rules=day, indexes=day)
        codebase = codebase_of_repo()
        steps = day_steps(args, codebase) if day else functions_steps(args.project, codebase)
        if args.dry_run:
            print("\ndry run: these commands would run, in this order")
        run_steps(steps, args.project, codebase, args.dry_run)
    except CutoverError as exc:
        print(f"cut-over stopped: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None


@app.command()
def day(
    project: Project = "",
    dry_run: DryRun = False,
    old_backend_stop: Annotated[str, typer.Option()] = _DEFAULTS.old_backend_stop,
    daemon_start: Annotated[str, typer.Option()] = _DEFAULTS.daemon_start,
    daemon_url: Url = _DEFAULTS.daemon_url,
    sessions_path: Annotated[str, typer.Option()] = _DEFAULTS.sessions_path,
    wait: Wait = _DEFAULTS.wait,
    admin_email: Annotated[str, typer.Option(help="the app's admin address")] = "",
    old_sessions: Annotated[
        str, typer.Option(help="the old backend's SESSIONS_PATH, or `store` for wa_sessions/*")
    ] = _DEFAULTS.old_sessions,
) -> None:
    """The order of the day, step by step."""
    args = DayArgs(
        project, dry_run, old_backend_stop, daemon_start, daemon_url, sessions_path, wait,
        admin_email, old_sessions,
    )  # fmt: skip
    _swap(args, day=True)


@app.command()
def functions(project: Project = "", dry_run: DryRun = False) -> None:
    """Only the functions swap, bucket by bucket."""
    _swap(DayArgs(project, dry_run), day=False)


@app.command("check-accounts")
def check_accounts_command(
    daemon_url: Url = _DEFAULTS.daemon_url,
    token_file: Annotated[
        Path | None, typer.Option(help="the service token's file [else WHATSAPP_DAEMON_TOKEN]")
    ] = None,
    wait: Wait = _DEFAULTS.wait,
) -> None:
    """Every account of the daemon connected (step 8)."""
    token = os.environ.get("WHATSAPP_DAEMON_TOKEN")
    try:
        if token_file is not None:
            token = token_file.read_text(encoding="utf-8").strip()
        check_accounts(daemon_url, token, wait)
    except (CutoverError, OSError) as exc:
        print(f"cut-over stopped: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None


def main(argv: list[str] | None = None) -> int:
    try:
        app(args=argv, prog_name="cutover.py", standalone_mode=True)
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
