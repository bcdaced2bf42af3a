"""Real Firebase ID tokens from the Auth emulator against a real daemon process.

One Auth emulator (the session's `firebase_emulators`) and one daemon for the module. The daemon
runs with FIREBASE_AUTH_EMULATOR_HOST and the emulator's project id, so firebase_admin accepts the
emulator's tokens. Users: a staff member (a `staffProfiles/{uid}` document in the daemon's store),
a signed-in non-employee, a super-admin by `SUPER_ADMIN_EMAILS` (verified address) and one by the
`admin: true` custom claim.

In emulator mode firebase_admin checks the token's project, issuer and subject but NOT its
signature or expiry (the emulator's tokens are unsigned), so signature, `alg: none` and expiry
forgeries are tested against the production path in test_auth_firebase.py.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import FirebaseEmulators
from tests.support.daemon import DaemonProcess

ADMIN_EMAIL = "daemon-boss@example.com"
SQUATTED_EMAIL = "daemon-boss-2@example.com"  # listed, but its owner never signed up
PASSWORD = "secret123"


@dataclass
class User:
    uid: str
    token: str


@dataclass
class Stack:
    emulators: FirebaseEmulators
    daemon: DaemonProcess
    account_id: str

    def _identity(self, action: str, body: dict[str, Any], admin: bool = False) -> Any:
        url = f"http://{self.emulators.auth_host}/identitytoolkit.googleapis.com/v1/{action}"
        headers = {"Content-Type": "application/json"}
        if admin:  # the emulator's stand-in for an admin OAuth token
            headers["Authorization"] = "Bearer owner"
        data = json.dumps({**body, "returnSecureToken": True}).encode()
        request = urllib.request.Request(url + "?key=fake-key", data, headers, method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def user(
        self,
        email: str | None = None,
        *,
        verified: bool = False,
        claims: dict[str, Any] | None = None,
        staff: bool = False,
    ) -> User:
        email = email or f"u-{uuid.uuid4().hex[:10]}@example.com"
        created = self._identity("accounts:signUp", {"email": email, "password": PASSWORD})
        uid = created["localId"]
        update: dict[str, Any] = {}
        if verified:
            update["emailVerified"] = True
        if claims:
            update["customAttributes"] = json.dumps(claims)
        if update:
            path = f"projects/{self.emulators.project_id}/accounts:update"
            self._identity(path, {"localId": uid, **update}, admin=True)
        signed_in = self._identity(
            "accounts:signInWithPassword", {"email": email, "password": PASSWORD}
        )
        if staff:
            with self.daemon.open_store() as store:
                store.set(f"staffProfiles/{uid}", {"role": "staff", "whatsAppAccountIds": []})
        return User(uid, signed_in["idToken"])


@pytest.fixture(scope="module")
def stack(
    firebase_emulators: FirebaseEmulators, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    daemon = DaemonProcess(
        workdir=tmp_path_factory.mktemp("auth-emulator-daemon"),
        token=secrets.token_urlsafe(24),
        env={
            "FIREBASE_AUTH_EMULATOR_HOST": firebase_emulators.auth_host,
            "GCLOUD_PROJECT": firebase_emulators.project_id,
            "SUPER_ADMIN_EMAILS": f"{ADMIN_EMAIL.upper()}, {SQUATTED_EMAIL}",
        },
    )
    daemon.start()
    try:
        reply = daemon.post("/api/whatsapp/add-account", {"name": "Sales", "phone": "0722555111"})
        assert reply.status == 200, reply.body
        yield Stack(firebase_emulators, daemon, reply.json()["accountId"])
    finally:
        try:
            daemon.stop(timeout=10)
        except RuntimeError:
            daemon.kill()


def _error(reply: Any) -> tuple[int, str]:
    assert reply.content_type == "application/json", reply.body[:200]
    body = reply.json()
    assert body["success"] is False and body["message"], body
    return reply.status, body["error"]


def _b64(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * 4))
    return decoded


def test_no_token_and_garbage_tokens_are_401(stack: Stack) -> None:
    d = stack.daemon
    assert "FIREBASE_AUTH_EMULATOR_HOST is set: ID tokens are NOT signature-checked" in d.log()
    assert _error(d.get("/api/whatsapp/accounts", token=None)) == (401, "missing_auth_token")
    for garbage in ("garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", secrets.token_urlsafe(300)):
        assert _error(d.get("/api/whatsapp/accounts", token=garbage)) == (401, "unauthorized")


def test_a_signed_in_non_employee_is_403(stack: Stack) -> None:
    stranger = stack.user()
    for path in ("/api/whatsapp/accounts", f"/api/whatsapp/inbox/{stack.account_id}"):
        assert _error(stack.daemon.get(path, token=stranger.token)) == (403, "employee_only")
    # an unverified address on the super-admin list proves nothing (anyone can sign up with it)
    squatter = stack.user(SQUATTED_EMAIL)
    reply = stack.daemon.get("/api/whatsapp/accounts", token=squatter.token)
    assert _error(reply) == (403, "employee_only")


def test_staff_reads_but_cannot_control_accounts(stack: Stack) -> None:
    d, account = stack.daemon, stack.account_id
    staff = stack.user(staff=True).token
    reply = d.get("/api/whatsapp/accounts", token=staff)
    assert reply.status == 200, reply.body
    accounts = reply.json()["accounts"]
    assert [a["id"] for a in accounts] == [account]
    assert accounts[0]["qrCode"] is None and accounts[0]["pairingCode"] is None
    reply = d.get(f"/api/whatsapp/inbox/{account}", token=staff)
    assert reply.status == 200 and reply.json()["messages"] == []
    assert d.get(f"/api/whatsapp/threads/{account}", token=staff).status == 200
    for method, path, body in [
        ("GET", f"/api/whatsapp/qr/{account}", None),
        ("GET", f"/api/whatsapp/qr/{account}?format=png", None),
        ("POST", "/api/whatsapp/add-account", {"name": "X", "phone": "0722555999"}),
        ("POST", f"/api/whatsapp/regenerate-qr/{account}", {}),
        ("POST", f"/api/whatsapp/pairing-code/{account}", {}),
        ("DELETE", f"/api/whatsapp/accounts/{account}", None),
    ]:
        reply = d.request(method, path, body, token=staff)
        assert _error(reply) == (403, "super_admin_only"), path
    assert d.get("/api/whatsapp/accounts").json()["accounts"][0]["status"] != "deleted"


@pytest.mark.parametrize("how", ["email", "claim"])
def test_a_super_admin_gets_the_qr(stack: Stack, how: str) -> None:
    d, account = stack.daemon, stack.account_id
    if how == "email":  # SUPER_ADMIN_EMAILS is upper case: the comparison ignores case
        admin = stack.user("Daemon-Boss@Example.com", verified=True)
    else:
        admin = stack.user(claims={"admin": True})

    def qr() -> Any:
        reply = d.get(f"/api/whatsapp/qr/{account}", token=admin.token)
        assert reply.status == 200, reply.body
        body = reply.json()
        return body if body["qr"] else None

    body = d.wait_for(qr, timeout=15, what="a QR code")
    assert body["qrCode"].startswith("data:image/png;base64,")
    listed = d.get("/api/whatsapp/accounts", token=admin.token).json()["accounts"]
    assert listed[0]["qrCode"] is not None


def test_tokens_for_another_project_or_issuer_are_401(stack: Stack) -> None:
    """What emulator mode does check: the audience, issuer and subject of a real token whose
    payload was tampered with (the signature part is empty in the emulator's tokens)."""
    staff = stack.user(staff=True).token
    header, _payload, signature = staff.split(".")
    claims = _claims(staff)
    now = int(time.time())
    tampered = {
        "another project": {**claims, "aud": "demo-other"},
        "another issuer": {**claims, "iss": "https://securetoken.google.com/demo-other"},
        "custom token audience": {
            **claims,
            "aud": "https://identitytoolkit.googleapis.com/google.identity.identitytoolkit.v1.IdentityToolkit",
        },
        "no subject": {k: v for k, v in claims.items() if k not in ("sub", "user_id")},
        "long subject": {**claims, "sub": "x" * 129, "exp": now + 60},
    }
    assert stack.daemon.get("/api/whatsapp/accounts", token=staff).status == 200
    for what, forged in tampered.items():
        token = f"{header}.{_b64(forged)}.{signature}"
        reply = stack.daemon.get("/api/whatsapp/accounts", token=token)
        assert _error(reply) == (401, "unauthorized"), what


# Every route's access level (CONTRACT.md sections 2 and 5, DESIGN.md Identity): QR, pairing
# codes and account control for super-admins; reads, backfill and send for employees.
EXPECTED_ACCESS = {
    ("GET", "/health"): "public",
    ("GET", "/ready"): "public",
    ("GET", "/"): "public",  # the page checks the service token itself (page.py)
    ("POST", "/login"): "public",
    ("POST", "/logout"): "public",
    ("GET", "/dashboard.js"): "public",  # the page's static script, no data
    ("GET", "/api/fleet"): "super_admin",  # the dashboard's data: every number and its owner
    ("GET", "/media/{accountId}/{file}"): "public",  # the signed link is the credential (issue 12)
    # Meta's webhook: the HMAC signature and the verify token are the credentials (issue 18)
    ("GET", "/webhooks/whatsapp-cloud/{accountId}"): "public",
    ("POST", "/webhooks/whatsapp-cloud/{accountId}"): "public",
    ("POST", "/api/whatsapp/cloud-accounts"): "super_admin",
    ("GET", "/api/whatsapp/cloud-accounts/{accountId}/templates"): "employee",
    ("POST", "/api/whatsapp/threads/{threadId}/read"): "employee",
    ("GET", "/diag"): "super_admin",
    ("GET", "/metrics"): "super_admin",
    ("GET", "/api/status/dashboard"): "employee",
    ("GET", "/openapi.json"): "employee",
    ("GET", "/api/whatsapp/accounts"): "employee",
    ("POST", "/api/whatsapp/add-account"): "super_admin",
    ("GET", "/api/whatsapp/qr/{accountId}"): "super_admin",
    ("POST", "/api/whatsapp/regenerate-qr/{accountId}"): "super_admin",
    ("POST", "/api/whatsapp/pairing-code/{accountId}"): "super_admin",
    ("DELETE", "/api/whatsapp/accounts/{accountId}"): "super_admin",
    ("GET", "/api/whatsapp/accounts/{accountId}/proxy"): "super_admin",
    ("PUT", "/api/whatsapp/accounts/{accountId}/proxy"): "super_admin",
    ("POST", "/api/whatsapp/backfill/{accountId}"): "employee",
    ("GET", "/api/whatsapp/threads/{accountId}"): "employee",
    ("GET", "/api/whatsapp/inbox/{accountId}"): "employee",
    ("GET", "/api/whatsapp/auto-reply-settings/{accountId}"): "employee",
    ("POST", "/api/whatsapp/auto-reply-settings/{accountId}"): "super_admin",
    ("POST", "/api/whatsapp/send"): "employee",
    ("POST", "/api/whatsapp/outbox/wake"): "employee",
    # issue 16: a thread's auto-reply opt-out for staff, broadcasts for super-admins
    ("POST", "/api/whatsapp/threads/{threadId}/auto-reply"): "employee",
    ("POST", "/api/whatsapp/broadcasts/{accountId}"): "super_admin",
    ("GET", "/api/whatsapp/broadcasts/{accountId}"): "super_admin",
    ("GET", "/api/whatsapp/broadcasts/{accountId}/{broadcastId}"): "super_admin",
}


def test_every_route_enforces_its_documented_access_level(stack: Stack) -> None:
    d = stack.daemon
    doc = d.get("/openapi.json").json()
    served = {
        (method.upper(), path): op["x-access"]
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
    }
    simulator = {k: v for k, v in served.items() if k[1].startswith("/api/simulator/")}
    assert simulator and set(simulator.values()) == {"super_admin"}
    assert {k: v for k, v in served.items() if k not in simulator} == EXPECTED_ACCESS
    staff, stranger = stack.user(staff=True).token, stack.user().token
    for (method, path), access in sorted(served.items()):
        if access == "public" or (method, path) == ("POST", "/api/simulator/drain"):
            continue
        url = (
            path.replace("{accountId}", "wa_none")
            .replace("{phone}", "+40700000000")
            .replace("{threadId}", "wa_none__40700000000@s.whatsapp.net")
            .replace("{broadcastId}", "b1")
        )
        assert _error(d.request(method, url, token=stranger)) == (403, "employee_only"), url
        reply = d.request(method, url, token=staff)
        if access == "super_admin":
            assert _error(reply) == (403, "super_admin_only"), url
        else:
            assert reply.status not in (401, 403), (url, reply.body[:200])


def test_disabled_and_signed_out_users_are_refused_at_once(stack: Stack) -> None:
    """Revocation is checked on every request (firebase_admin against the Auth emulator): the
    still-unexpired ID token of a disabled or signed-out employee is 401 right away."""
    from firebase_admin import auth

    d = stack.daemon
    disabled, revoked = stack.user(staff=True), stack.user(staff=True)
    for user in (disabled, revoked):
        assert d.get("/api/whatsapp/accounts", token=user.token).status == 200
    # validSince has one-second resolution: revoke strictly after the token was issued
    while int(time.time()) <= _claims(revoked.token)["iat"]:
        time.sleep(0.05)

    def disable_and_revoke(app: Any) -> None:
        auth.update_user(disabled.uid, disabled=True, app=app)
        auth.revoke_refresh_tokens(revoked.uid, app=app)

    stack.emulators.admin_auth(disable_and_revoke)
    for user in (disabled, revoked):
        reply = d.get("/api/whatsapp/accounts", token=user.token)
        assert _error(reply) == (401, "unauthorized"), user.uid
