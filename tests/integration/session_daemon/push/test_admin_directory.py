"""Super-admins for push recipients, read from the Firebase Auth emulator (the session's
`firebase_emulators`) with the same classification as every door: a verified address listed in
SUPER_ADMIN_EMAILS, or the `admin: true` claim. An unverified listed address is not an admin."""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from session_daemon.push.recipients import FirebaseAdminDirectory
from tests.conftest import FirebaseEmulators

pytestmark = pytest.mark.emulators

LISTED = "push-boss@example.com"
SQUATTED = "push-squatted@example.com"  # listed, but its address is never verified


def _identity(emulators: FirebaseEmulators, action: str, body: dict[str, Any]) -> Any:
    url = f"http://{emulators.auth_host}/identitytoolkit.googleapis.com/v1/{action}?key=fake"
    headers = {"Content-Type": "application/json", "Authorization": "Bearer owner"}
    request = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _user(emulators: FirebaseEmulators, email: str, **update: Any) -> str:
    created = _identity(emulators, "accounts:signUp", {"email": email, "password": "secret123"})
    uid: str = created["localId"]
    if update:
        path = f"projects/{emulators.project_id}/accounts:update"
        _identity(emulators, path, {"localId": uid, **update})
    return uid


@pytest.fixture
def auth_app(
    firebase_emulators: FirebaseEmulators, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    import firebase_admin

    monkeypatch.setenv("FIREBASE_AUTH_EMULATOR_HOST", firebase_emulators.auth_host)
    monkeypatch.setenv("SUPER_ADMIN_EMAILS", f"{LISTED.upper()}, {SQUATTED}")
    app = firebase_admin.initialize_app(
        options={"projectId": firebase_emulators.project_id}, name=f"push-{uuid.uuid4().hex}"
    )
    try:
        yield app
    finally:
        firebase_admin.delete_app(app)


def test_super_admins_come_from_auth(firebase_emulators: FirebaseEmulators, auth_app: Any) -> None:
    tag = uuid.uuid4().hex[:8]
    unlisted = _user(firebase_emulators, LISTED.replace("@", f"+{tag}@"), emailVerified=True)
    # the listed address itself, verified: an admin (addresses compare case-insensitively)
    listed = _user(firebase_emulators, LISTED, emailVerified=True)
    squatter = _user(firebase_emulators, SQUATTED)
    by_claim = _user(
        firebase_emulators, f"claim-{tag}@example.com", customAttributes=json.dumps({"admin": True})
    )
    staff = _user(firebase_emulators, f"staff-{tag}@example.com", emailVerified=True)
    directory = FirebaseAdminDirectory(auth_app)
    got = directory.super_admins([unlisted, listed, squatter, by_claim, staff, "no-such-uid"])
    assert got == frozenset({listed, by_claim})
