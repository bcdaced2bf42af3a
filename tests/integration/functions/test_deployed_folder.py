"""The folder as deployed: functions/ plus the vendored `shared`, imported by the functions venv
in a clean environment (no PYTHONPATH, not the repository), lists exactly the contract's
functions with the right trigger types through the SDK's own discovery."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
FUNCTIONS = ROOT / "functions"
VENV_PYTHON = FUNCTIONS / "venv" / "bin" / "python"
sys.path.insert(0, str(ROOT / "scripts"))

from vendor_shared import vendor_shared  # noqa: E402

HTTP = {
    "whatsappProxyGetAccounts",
    "whatsappProxyGetAccountsStaff",
    "whatsappProxyAddAccount",
    "whatsappProxyRegenerateQr",
    "whatsappProxyDeleteAccount",
    "whatsappProxyBackfillAccount",
    "whatsappProxyGetInbox",
    "whatsappProxyGetThreads",
    "whatsappProxySend",
    "whatsappWhoAmI",
    "whatsapp",
}
CALLABLE = {"whatsappExtractEventFromThread", "clientCrmAsk"}
TRIGGER = {"aggregateClientStats"}

_DISCOVER = (
    "from firebase_functions.private.serving import get_functions, functions_as_yaml;"
    "print(functions_as_yaml(get_functions()))"
)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict:
    if not VENV_PYTHON.exists():
        pytest.skip("functions/venv is missing (run `bash scripts/bootstrap.sh`)")
    folder = tmp_path_factory.mktemp("deploy") / "functions"
    shutil.copytree(
        FUNCTIONS, folder, ignore=shutil.ignore_patterns("venv", "shared", "__pycache__", ".*")
    )
    vendor_shared(folder)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(folder)}
    started = time.monotonic()
    done = subprocess.run(
        [str(VENV_PYTHON), "-c", _DISCOVER],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr[-3000:]
    assert elapsed < 10, f"discovery took {elapsed:.1f}s (the CLI gives it ~10 s)"
    return yaml.safe_load(done.stdout)


def test_discovery_lists_exactly_the_contract_functions(manifest: dict) -> None:
    assert set(manifest["endpoints"]) == HTTP | CALLABLE | TRIGGER


def test_trigger_types_and_region(manifest: dict) -> None:
    endpoints = manifest["endpoints"]
    for name, spec in endpoints.items():
        assert spec["region"] == ["us-central1"], name
        assert spec["platform"] == "gcfv2"
    for name in HTTP:
        assert "httpsTrigger" in endpoints[name], name
    for name in CALLABLE:
        assert "callableTrigger" in endpoints[name], name
    trigger = endpoints["aggregateClientStats"]["eventTrigger"]
    assert trigger["eventType"] == "google.cloud.firestore.document.v1.written"
    assert trigger["eventFilterPathPatterns"] == {"document": "evenimente/{eventId}"}


def test_stub_is_public_and_proxies_bind_the_daemon_secret(manifest: dict) -> None:
    endpoints = manifest["endpoints"]
    assert endpoints["whatsapp"]["httpsTrigger"].get("invoker") == ["public"]
    for name in HTTP - {"whatsapp", "whatsappWhoAmI"}:
        secrets = [s["key"] for s in endpoints[name].get("secretEnvironmentVariables", [])]
        assert secrets == ["WHATSAPP_DAEMON_TOKEN"], name
    assert {p["name"] for p in manifest["params"]} == {"WHATSAPP_DAEMON_TOKEN"}
