"""scripts/install-vm.sh into a temporary root, twice: the same files with the same modes, the
service token generated once and kept; the systemd unit passes `systemd-analyze verify`; every
shell script in scripts/ passes shellcheck."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tests.conftest import missing_tool

ROOT = Path(__file__).resolve().parents[3]
UNIT = ROOT / "deploy" / "systemd" / "superparty-daemon.service"
EXEC = "/opt/superparty/venv/bin/superparty-daemon"


def install(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "scripts/install-vm.sh", "--root", str(root), "--no-venv"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def tree(root: Path) -> dict[str, tuple[str, str]]:
    """relative path -> (mode, content hash or 'dir')"""
    out = {}
    for path in sorted(root.rglob("*")):
        mode = stat.filemode(path.stat().st_mode)
        body = "dir" if path.is_dir() else path.read_text()
        out[path.relative_to(root).as_posix()] = (mode, body)
    return out


def test_install_twice_into_a_root(tmp_path: Path) -> None:
    first = install(tmp_path)
    assert first.returncode == 0, first.stderr
    before = tree(tmp_path)
    second = install(tmp_path)
    assert second.returncode == 0, second.stderr
    assert "keeping /etc/superparty/daemon.env" in second.stderr
    assert tree(tmp_path) == before  # idempotent: same files, same modes, same token

    env = (tmp_path / "etc/superparty/daemon.env").read_text()
    token = re.search(r"^WHATSAPP_DAEMON_TOKEN=(\S+)$", env, re.M)
    assert token is not None and re.fullmatch(r"[A-Za-z0-9_-]{43}", token.group(1))
    assert "STORE_URL=sqlite:////var/lib/superparty/superparty.db" in env
    modes = {path: mode for path, (mode, _) in before.items()}
    assert modes["etc/superparty/daemon.env"] == "-rw-r-----"
    assert modes["etc/superparty"] == "drwxr-x---"
    assert modes["var/lib/superparty"] == "drwxr-x---"
    assert modes["var/lib/superparty/sessions"] == "drwx------"
    assert modes["etc/systemd/system/superparty-daemon.service"] == "-rw-r--r--"
    unit = (tmp_path / "etc/systemd/system/superparty-daemon.service").read_text()
    assert unit == UNIT.read_text()
    assert "ReadWritePaths=/var/lib/superparty" in unit and "ProtectSystem=strict" in unit

    bad = subprocess.run(
        ["bash", "scripts/install-vm.sh", "--bogus"], cwd=ROOT, capture_output=True, text=True
    )
    assert bad.returncode == 1 and "unknown option --bogus" in bad.stderr


def test_the_unit_passes_systemd_analyze(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        missing_tool("systemd-analyze (Debian package systemd) is not installed")
    # verify insists that ExecStart exists on this machine: point it at a stand-in.
    unit = tmp_path / "superparty-daemon.service"
    unit.write_text(UNIT.read_text().replace(EXEC, "/bin/true"))
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60,
        env={**os.environ, "SYSTEMD_LOG_LEVEL": "warning"},
    )  # fmt: skip
    # Unknown keys and bad values are only warnings (exit 0): any output is a failure.
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


@pytest.mark.parametrize("script", sorted(p.name for p in (ROOT / "scripts").glob("*.sh")))
def test_shellcheck(script: str) -> None:
    if shutil.which("shellcheck") is None:
        missing_tool("shellcheck (Debian package shellcheck) is not installed")
    done = subprocess.run(
        ["shellcheck", f"scripts/{script}"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout
