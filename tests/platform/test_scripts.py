"""The set-up scripts: bootstrap is idempotent and quick once done, the test command fails on a
run with no tests, and CI runs the test command."""

from __future__ import annotations

import os
import subprocess
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


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
        "tests/platform/test_factory.py",
        "-k",
        "no_such_case_xyz",
        env=steps,
    )
    assert empty.returncode != 0
    assert "no tests" in empty.stderr
    ok = _run(
        "bash", "scripts/test.sh", "tests/platform/test_factory.py", "-k", "in_memory", env=steps
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
            "regenerate it with pip-compile (see the lock file's header)"
        )
