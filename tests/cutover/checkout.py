"""A throw-away copy of the checkout for the deploy and cut-over scripts (they act on the folder
they live in), and a stand-in Firebase CLI that records what it is asked and answers like the
real one for the few commands the scripts use. Nothing here reaches Google."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "demo-cutover"

_STUB_CLI = r"""#!/usr/bin/env bash
# Records each call; `functions:secrets:get NAME` fails for names in STUB_MISSING_SECRETS;
# `functions:list --json` prints STUB_FUNCTIONS_JSON; everything else succeeds.
printf '%s\n' "$*" >>"$STUB_LOG"
if [[ "$1" == "functions:secrets:get" && " ${STUB_MISSING_SECRETS:-} " == *" $2 "* ]]; then
    echo "Error: secret $2 not found" >&2; exit 1
fi
empty='{"result": []}'
if [[ "$1" == "functions:list" ]]; then printf '%s\n' "${STUB_FUNCTIONS_JSON:-$empty}"; fi
exit 0
"""


def checkout_copy(dest: Path, backend_url: str | None = "http://10.0.0.5:8080") -> Path:
    """`dest` holding what the scripts read: scripts/, shared/, functions/ (a project .env with
    WHATSAPP_BACKEND_BASE_URL unless None), firebase.json, the rules and indexes."""
    ignore = shutil.ignore_patterns("__pycache__", "venv", ".*")
    for name in ("scripts", "shared", "functions"):
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    shutil.rmtree(dest / "functions" / "shared", ignore_errors=True)
    for name in ("firebase.json", "firestore.rules", "firestore.indexes.json"):
        shutil.copy(ROOT / name, dest / name)
    if backend_url is not None:
        (dest / "functions" / f".env.{PROJECT}").write_text(
            f"WHATSAPP_BACKEND_BASE_URL={backend_url}\n"
        )
    stub = dest / "firebase-stub"
    stub.write_text(_STUB_CLI)
    stub.chmod(0o755)
    return dest


def run_script(
    checkout: Path, args: list[str], **env: str
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run `args` (a script of the copy and its arguments) there with the stub CLI; returns the
    process and the CLI calls it made."""
    log = checkout / "firebase-calls.log"
    log.unlink(missing_ok=True)
    full_env = {
        **os.environ,
        "PYTHON": str(ROOT / ".venv" / "bin" / "python"),
        "FIREBASE_BIN": str(checkout / "firebase-stub"),
        "FIREBASE_DEPLOY_SLEEP": "0",
        "STUB_LOG": str(log),
        **env,
    }
    full_env.pop("FIREBASE_PROJECT", None)
    command = args if args[0] == "bash" else [str(ROOT / ".venv" / "bin" / "python"), *args]
    done = subprocess.run(
        command, cwd=checkout, env=full_env, capture_output=True, text=True, timeout=120
    )
    calls = log.read_text().splitlines() if log.exists() else []
    return done, calls


def functions_list(entries: dict[str, str]) -> str:
    """`firebase functions:list --json` output: {name: codebase}."""
    return json.dumps(
        {"status": "success", "result": [{"id": n, "codebase": c} for n, c in entries.items()]}
    )
