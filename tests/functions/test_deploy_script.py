"""scripts/firebase-deploy-functions-buckets.sh: the buckets cover every function exactly once,
deploy one after another with the configured pause, and refuse unknown buckets."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from tests.functions.test_deployed_folder import CALLABLE, HTTP, TRIGGER

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "firebase-deploy-functions-buckets.sh"


def dry_run(*args: str, sleep: str = "7") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FIREBASE_DEPLOY_SLEEP": sleep, "FIREBASE_BIN": "firebase"}
    return subprocess.run(
        ["bash", str(SCRIPT), *args, "--dry-run"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


def deployed_names(output: str) -> list[list[str]]:
    buckets = []
    for only in re.findall(r"deploy --only (\S+)", output):
        buckets.append([name.removeprefix("functions:") for name in only.split(",")])
    return buckets


def test_all_covers_every_function_once_in_sequence() -> None:
    done = dry_run("all", "--project", "demo-x")
    assert done.returncode == 0, done.stderr
    buckets = deployed_names(done.stdout)
    names = [n for bucket in buckets for n in bucket]
    assert sorted(names) == sorted(HTTP | CALLABLE | TRIGGER)
    assert len(buckets) == 4 and done.stdout.count("sleeping 7s") == 3
    assert "--project demo-x" in done.stdout
    assert "vendor shared" in done.stdout


def test_single_buckets() -> None:
    expected = {
        "whatsapp-stub": [["whatsapp"]],
        "staff": [["aggregateClientStats"]],
        "ai": [["whatsappExtractEventFromThread", "clientCrmAsk"]],
    }
    for bucket, names in expected.items():
        done = dry_run(bucket)
        assert done.returncode == 0 and deployed_names(done.stdout) == names
    proxies = deployed_names(dry_run("whatsapp-proxy").stdout)
    assert set(proxies[0]) == HTTP - {"whatsapp"}


def test_bad_arguments_fail_clearly() -> None:
    done = dry_run("everything")
    assert done.returncode == 2 and "unknown bucket" in done.stderr
    done = dry_run("all", sleep="soon")
    assert done.returncode == 2 and "FIREBASE_DEPLOY_SLEEP" in done.stderr
