"""scripts/firebase-deploy-functions-buckets.sh: the buckets cover every function exactly once,
each deploy names our codebase and the function (`functions:CODEBASE:NAME`, never a bare
`functions`, which would delete the app's Node functions), one after another with the configured
pause, and unknown buckets or pauses are refused."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.cutover.checkout import PROJECT, checkout_copy, run_script
from tests.functions.test_deployed_folder import CALLABLE, HTTP, TRIGGER

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = "scripts/firebase-deploy-functions-buckets.sh"
CODEBASE = json.loads((ROOT / "firebase.json").read_text())["functions"][0]["codebase"]


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return checkout_copy(tmp_path_factory.mktemp("deploy") / "repo")


def dry_run(checkout: Path, *args: str, sleep: str = "7") -> subprocess.CompletedProcess[str]:
    done, calls = run_script(
        checkout, ["bash", SCRIPT, *args, "--dry-run"], FIREBASE_DEPLOY_SLEEP=sleep
    )
    assert calls == []
    return done


def deployed_names(output: str) -> list[list[str]]:
    buckets = []
    for only in re.findall(r"deploy --only (\S+)", output):
        names = []
        for target in only.split(","):
            kind, codebase, name = target.split(":")
            assert (kind, codebase) == ("functions", CODEBASE), target
            names.append(name)
        buckets.append(names)
    return buckets


def test_our_codebase_is_not_the_app_s() -> None:
    assert CODEBASE not in ("", "default")


def test_all_covers_every_function_once_in_sequence(checkout: Path) -> None:
    done = dry_run(checkout, "all", "--project", PROJECT)
    assert done.returncode == 0, done.stderr
    buckets = deployed_names(done.stdout)
    names = [n for bucket in buckets for n in bucket]
    assert sorted(names) == sorted(HTTP | CALLABLE | TRIGGER)
    assert len(buckets) == 4 and done.stdout.count("sleeping 7s") == 3
    assert len(re.findall(rf"deploy --only \S+ --project {PROJECT} ", done.stdout)) == 4
    assert "vendor shared" in done.stdout


def test_single_buckets(checkout: Path) -> None:
    expected = {
        "whatsapp-stub": [["whatsapp"]],
        "staff": [["aggregateClientStats"]],
        "ai": [["whatsappExtractEventFromThread", "clientCrmAsk"]],
    }
    for bucket, names in expected.items():
        done = dry_run(checkout, bucket, "--project", PROJECT)
        assert done.returncode == 0 and deployed_names(done.stdout) == names
    proxies = deployed_names(dry_run(checkout, "whatsapp-proxy", "--project", PROJECT).stdout)
    assert set(proxies[0]) == HTTP - {"whatsapp"}


def test_bad_arguments_fail_clearly(checkout: Path) -> None:
    done = dry_run(checkout, "everything", "--project", PROJECT)
    assert done.returncode == 2 and "unknown bucket" in done.stderr
    done = dry_run(checkout, "all", "--project", PROJECT, sleep="soon")
    assert done.returncode == 2 and "FIREBASE_DEPLOY_SLEEP" in done.stderr
    done = dry_run(checkout, "all")
    assert done.returncode == 1 and "no Firebase project id" in done.stderr
    assert "deploy --only" not in done.stdout
