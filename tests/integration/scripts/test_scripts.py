"""The set-up scripts: bootstrap is idempotent and quick once done, the test command fails on a
run with no tests, and CI runs the test command."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import tomllib
import urllib.request
from pathlib import Path
from typing import Any

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[3]


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args),
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_bootstrap_is_quick_when_everything_is_installed() -> None:
    first = _run("bash", "scripts/bootstrap.sh")  # installs whatever is missing
    assert first.returncode == 0, first.stderr
    started = time.monotonic()
    second = _run("bash", "scripts/bootstrap.sh")
    elapsed = time.monotonic() - started
    assert second.returncode == 0, second.stderr
    assert "installing" not in second.stderr  # nothing was reinstalled
    assert elapsed < 10
    assert (ROOT / ".venv" / ".superparty-stamp").is_file()
    assert (ROOT / "node_modules" / ".superparty-stamp").is_file()


def test_test_command_fails_when_pytest_collects_nothing() -> None:
    steps = {"SUPERPARTY_TEST_STEPS": "pytest"}
    empty = _run(
        "bash",
        "scripts/test.sh",
        "tests/integration/shared/store/test_factory.py",
        "-k",
        "no_such_case_xyz",
        env=steps,
    )
    assert empty.returncode != 0
    assert "no tests" in empty.stderr
    ok = _run(
        "bash",
        "scripts/test.sh",
        "tests/integration/shared/store/test_factory.py",
        "-k",
        "in_memory",
        env=steps,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "1 passed" in ok.stdout


def test_ci_runs_the_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "scripts/test.sh" in ci
    readme = (ROOT / "README.md").read_text()
    assert "bash scripts/run.sh" in readme and "bash scripts/test.sh" in readme


def _lock_pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[_normalized(name)] = version.strip()
    return pins


def _normalized(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace(".", "-")


def test_lock_file_pins_every_dependency_of_pyproject() -> None:
    """pyproject.toml pins exact versions; the lock (pip-compile of pyproject incl. the dev
    extra) must agree, or bootstrap would install something else than pyproject says."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        wanted.extend(extra)
    pins = _lock_pins()
    for requirement in wanted:
        name, sep, version = requirement.partition("==")
        assert sep, f"pyproject.toml should pin {requirement!r} exactly"
        name = _normalized(name.split("[", 1)[0])
        assert pins.get(name) == version.strip(), (
            f"requirements.lock has {name}=={pins.get(name)}, pyproject.toml wants {version}: "
            "regenerate it: bash scripts/bootstrap.sh --lock"
        )


def test_run_command_serves_the_daemon_on_the_embedded_store(tmp_path: Path) -> None:
    """`bash scripts/run.sh` (the README's first command): the daemon answers its health check
    with a reachable SQLite store, and stops cleanly on SIGTERM."""
    port = free_port()
    env = {
        **os.environ,
        "STORE_URL": f"sqlite:///{tmp_path}/superparty.db",
        "SESSIONS_PATH": str(tmp_path / "sessions"),
        "WHATSAPP_DAEMON_TOKEN_FILE": str(tmp_path / "admin-token"),
        "INBOUND_JOURNAL_PATH": str(tmp_path / "journal"),
    }
    log = tmp_path / "run.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["bash", "scripts/run.sh", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        health = _wait_for_health(f"http://127.0.0.1:{port}/health", proc, log, timeout=90)
        assert health["status"] == "ok" and health["store_reachable"] is True
        assert (tmp_path / "superparty.db").is_file()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            raise AssertionError("the daemon did not stop on SIGTERM") from None
    assert proc.returncode == 0, log.read_text()


def _wait_for_health(
    url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"run.sh exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                result: dict[str, Any] = json.loads(response.read())
                return result
        except (OSError, ValueError) as exc:
            last_error = exc
            time.sleep(0.2)
    raise AssertionError(f"no health answer from {url} in {timeout}s: {last_error}")
