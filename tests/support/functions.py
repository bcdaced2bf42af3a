"""The whole door, for real: Auth + Functions emulators (npm firebase-tools) running our functions/
as deployed (a copy with `shared` vendored in), the Firestore emulator, and the session daemon
(simulated transport) on that same Firestore, wired as in production: the functions reach the
daemon at WHATSAPP_BACKEND_BASE_URL with the daemon's service token.

    def test_x(proxy_stack):
        uid, token = proxy_stack.sign_up("someone@example.com")
        status, body = proxy_stack.call("whatsappWhoAmI", token=token)

`proxy_stack` is the session's `firebase_stack` (tests/conftest.py: the emulators start once per
session) with a store on its Firestore; each test should use its own users and accounts.
`PROXY_ADMIN_EMAIL` is a super-admin by SUPER_ADMIN_EMAILS.
"""

from __future__ import annotations

import json
import shutil
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shared.store.firestore import FirestoreStore
from tests.conftest import (
    FIREBASE_DEMO_PROJECT,
    PROXY_ADMIN_EMAIL,
    ROOT,
    FirebaseEmulators,
    FirebaseStack,
    missing_tool,
)
from tests.support.daemon import DaemonProcess

sys.path.insert(0, str(ROOT / "scripts"))
from vendor_shared import vendor_shared

__all__ = ["PROXY_ADMIN_EMAIL", "ProxyStack", "deployed_copy", "http_json"]


def http_json(
    method: str,
    url: str,
    body: Any = None,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60,
) -> tuple[int, Any, dict[str, str]]:
    """(status, parsed JSON body or the raw text, headers) of one request."""
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if token:
        all_headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data, all_headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw, got = response.status, response.read(), dict(response.headers.items())
    except urllib.error.HTTPError as error:
        status, raw, got = error.code, error.read(), dict(error.headers.items())
    try:
        return status, json.loads(raw or b"null"), got
    except ValueError:
        return status, raw.decode(errors="replace"), got


@dataclass
class ProxyStack:
    emulators: FirebaseEmulators
    daemon: DaemonProcess
    store: FirestoreStore

    def sign_up(self, email: str | None = None) -> tuple[str, str]:
        """A new Auth emulator user: (uid, ID token); the super-admin's address is verified."""
        return self.emulators.sign_up(email, email_verified=email == PROXY_ADMIN_EMAIL)

    def staff(self) -> tuple[str, str]:
        uid, token = self.sign_up()
        self.store.set(f"staffProfiles/{uid}", {"role": "staff", "whatsAppAccountIds": []})
        return uid, token

    def call(
        self,
        name: str,
        method: str = "GET",
        token: str | None = None,
        body: Any = None,
        query: str = "",
    ) -> tuple[int, Any]:
        url = self.emulators.functions_url(name) + (f"?{query}" if query else "")
        status, reply, headers = http_json(method, url, body, token)
        content_type = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
        assert content_type.startswith("application/json"), (status, reply)
        assert isinstance(reply, dict), (status, reply)  # every answer is a JSON object
        return status, reply


def deployed_copy(root: Path) -> Path:
    """`root/functions`: functions/ with `shared` vendored (as the deploy script uploads it) and
    the repository's functions/venv linked in; returns `root`."""
    venv = ROOT / "functions" / "venv"
    if not (venv / "bin" / "python").exists():
        missing_tool("functions/venv is missing")
    target = root / "functions"
    shutil.copytree(
        ROOT / "functions",
        target,
        ignore=shutil.ignore_patterns("venv", "shared", "__pycache__", ".*"),
    )
    vendor_shared(target)
    (target / "venv").symlink_to(venv)
    return root


@pytest.fixture(scope="session")
def proxy_stack(firebase_stack: FirebaseStack, firestore_emulator: str) -> Iterator[ProxyStack]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator)
        store = FirestoreStore(FIREBASE_DEMO_PROJECT)
    try:
        yield ProxyStack(firebase_stack.emulators, firebase_stack.daemon, store)
    finally:
        store.close()
