"""End to end through the real Firebase Auth + Functions emulators, the Firestore emulator and
the daemon with its simulated phones (issue 5, first Done-when bullet)."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from tests.conftest import ROOT
from tests.functions.conftest import PROXY_ADMIN_EMAIL, ProxyStack

pytestmark = pytest.mark.emulators

T = TypeVar("T")


def wait_for(check: Callable[[], T | None], what: str, timeout: float = 30.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_who_am_i_and_the_stub(proxy_stack: ProxyStack) -> None:
    s = proxy_stack
    _, stranger = s.sign_up()
    status, body = s.call("whatsappWhoAmI", token=stranger)
    assert status == 200 and body["isEmployee"] is False and body["isAdmin"] is False
    staff_uid, staff = s.staff()
    body = s.call("whatsappWhoAmI", token=staff)[1]
    assert body["uid"] == staff_uid and body["isEmployee"] and body["staffProfileRole"] == "staff"
    status, body = s.call("whatsappWhoAmI", token="not-a-token")
    assert (status, body["error"]) == (401, "unauthorized")
    for method in ("GET", "POST", "DELETE"):
        status, body = s.call("whatsapp", method)
        assert status == 410 and body["error"] == "deprecated"


def test_browser_preflight_is_answered(proxy_stack: ProxyStack) -> None:
    request = urllib.request.Request(
        proxy_stack.emulators.functions_url("whatsappProxySend"),
        method="OPTIONS",
        headers={
            "Origin": "https://superparty.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status in (200, 204)
        assert response.headers.get("Access-Control-Allow-Origin") in (
            "*",
            "https://superparty.example",
        )


def test_staff_sends_through_the_proxy_and_the_phone_receives(proxy_stack: ProxyStack) -> None:
    s = proxy_stack
    d = s.daemon
    _, admin = s.sign_up(PROXY_ADMIN_EMAIL)
    staff_uid, staff = s.staff()
    _, stranger = s.sign_up()
    phone = "+4072255" + str(int(time.time() * 1000))[-4:]

    # A super-admin adds an account through the proxy and sees its QR; staff never do.
    status, body = s.call(
        "whatsappProxyAddAccount", "POST", admin, {"name": "Sala E2E", "phone": phone}
    )
    assert status == 200 and body["success"], body
    account = body["accountId"]
    status, body = s.call("whatsappProxyAddAccount", "POST", staff, {"name": "x", "phone": phone})
    assert (status, body["error"]) == (403, "super_admin_only")

    def admin_qr() -> str | None:
        accounts = s.call("whatsappProxyGetAccounts", token=admin)[1]["accounts"]
        mine = [a for a in accounts if a["id"] == account]
        return mine[0]["qrCode"] if mine else None

    qr = wait_for(admin_qr, "QR for the super-admin")
    assert qr.startswith("data:image/png;base64,")
    status, body = s.call("whatsappProxyGetAccountsStaff", token=staff)
    mine = [a for a in body["accounts"] if a["id"] == account]
    assert status == 200 and len(mine) == 1 and mine[0]["status"] == "qr_ready"
    assert not [k for k in mine[0] if k.lower().startswith(("qr", "pairing"))], mine[0]
    assert qr not in json.dumps(body) and "data:image" not in json.dumps(body)
    status, body = s.call("whatsappProxyGetAccounts", token=staff)
    assert (status, body["error"]) == (403, "super_admin_only")

    # The phone scans; a client writes in.
    assert d.post(f"/api/simulator/pair/{account}", {"phone": phone}).status == 200
    d.wait_for(lambda: d.account_status(account) == "connected", what="connected")
    client = "+40711" + phone[-6:]
    client_jid = client[1:] + "@s.whatsapp.net"
    reply = d.post(f"/api/simulator/messages/{account}", {"from": client, "text": "Bună!"})
    assert reply.status == 200, reply.body
    assert d.post("/api/simulator/drain").status == 200
    thread_id = f"{account}__{client_jid}"

    def thread_listed() -> Any:
        status, body = s.call("whatsappProxyGetThreads", token=staff, query=f"accountId={account}")
        assert status == 200, body
        return [t for t in body["threads"] if t["id"] == thread_id]

    wait_for(thread_listed, "thread in GetThreads")
    status, body = s.call("whatsappProxyGetInbox", token=staff, query=f"accountId={account}")
    assert status == 200 and isinstance(body["messages"], list)

    send = {
        "threadId": thread_id,
        "accountId": account,
        "toJid": client_jid,
        "text": "Bună ziua, vă putem ajuta!",
        "clientMessageId": "e2e-1",
    }
    # No token, ill-formed token, stranger, foreign recipient: refused, nothing queued.
    assert s.call("whatsappProxySend", "POST", None, send)[1]["error"] == "missing_auth_token"
    assert s.call("whatsappProxySend", "POST", None, send)[0] == 401
    status, body = s.call("whatsappProxySend", "POST", stranger, send)
    assert (status, body["error"]) == (403, "employee_only")
    foreign = {**send, "toJid": "40799000000@s.whatsapp.net"}
    status, body = s.call("whatsappProxySend", "POST", staff, foreign)
    assert (status, body["error"]) == (403, "to_jid_mismatch")
    status, body = s.call("whatsappProxySend", "POST", staff, {**send, "accountId": "wa_nope"})
    assert (status, body["error"]) == (403, "account_mismatch")

    status, body = s.call("whatsappProxySend", "POST", staff, send)
    assert status == 200 and body["duplicate"] is False, body
    request_id = body["requestId"]
    status, again = s.call("whatsappProxySend", "POST", staff, send)
    assert status == 200 and again["duplicate"] is True and again["requestId"] == request_id

    def phone_got_it() -> Any:
        got = d.get(f"/api/simulator/received/{client}").json()["messages"]
        return [m for m in got if m["text"] == send["text"]]

    assert len(wait_for(phone_got_it, "the simulated phone to receive")) == 1

    message_path = f"threads/{thread_id}/messages/{request_id}"

    def status_is(*wanted: str) -> Callable[[], bool]:
        def check() -> bool:
            snap = s.store.get(message_path)
            return snap is not None and snap.data.get("status") in wanted

        return check

    wait_for(status_is("delivered", "read"), "delivered status on the message")
    assert d.post(f"/api/simulator/read/{account}", {"phone": client}).status == 200
    wait_for(status_is("read"), "read status on the message")
    outbox = s.store.get(f"outbox/{request_id}")
    assert outbox is not None and outbox.data["status"] == "sent"
    assert outbox.data["createdByUid"] == staff_uid
    thread = s.store.get(f"threads/{thread_id}")
    assert thread is not None and thread.data["ownerUid"] == staff_uid

    # Another employee is not the owner nor a co-writer.
    _, other_staff = s.staff()
    status, body = s.call(
        "whatsappProxySend", "POST", other_staff, {**send, "clientMessageId": "2"}
    )
    assert (status, body["error"]) == (403, "not_owner_or_cowriter")


def test_bad_inputs_through_the_emulator(proxy_stack: ProxyStack) -> None:
    s = proxy_stack
    _, staff = s.staff()
    status, body = s.call("whatsappProxySend", "POST", staff, {"threadId": "x"})
    assert (status, body["error"]) == (400, "invalid_request")
    status, body = s.call(
        "whatsappProxySend",
        "POST",
        staff,
        {
            "threadId": "wa_x__40700000000@s.whatsapp.net",
            "accountId": "wa_x",
            "toJid": "40700000000@s.whatsapp.net",
            "text": "hi",
            "clientMessageId": "1",
        },
    )
    assert (status, body["error"]) == (404, "thread_not_found")
    status, body = s.call("whatsappProxySend", "GET", staff)
    assert (status, body["error"]) == (405, "method_not_allowed")
    status, body = s.call("whatsappProxyGetInbox", token=staff)
    assert (status, body["error"]) == (400, "invalid_request")
    status, body = s.call("whatsappProxyBackfillAccount", "POST", staff, {"accountId": "no/slash"})
    assert (status, body["error"]) == (400, "invalid_request")


def set_admin(s: ProxyStack, *args: str) -> subprocess.CompletedProcess[str]:
    """`superparty-daemon set-admin` as an operator runs it, against the emulators."""
    env = {
        **os.environ,
        "FIREBASE_AUTH_EMULATOR_HOST": s.emulators.auth_host,
        "FIRESTORE_EMULATOR_HOST": s.daemon.env["FIRESTORE_EMULATOR_HOST"],
        "SUPER_ADMIN_EMAILS": PROXY_ADMIN_EMAIL,  # as the functions are deployed here
    }
    command = [str(ROOT / ".venv" / "bin" / "superparty-daemon"), "set-admin", *args]
    command += ["--project", s.emulators.project_id]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def test_set_admin_makes_an_admin_the_proxy_and_the_rules_agree_on(
    proxy_stack: ProxyStack,
) -> None:
    s = proxy_stack
    email = f"ops-{int(time.time() * 1000)}@example.com"
    uid, before = s.sign_up(email)
    body = s.call("whatsappWhoAmI", token=before)[1]
    assert body["isAdmin"] is False
    assert "not admin by claim: the token has no admin claim" in body["reasons"]

    done = set_admin(s, email.upper())
    assert done.returncode == 0, done.stderr
    assert f"admin claim set for {email} (uid {uid})" in done.stdout
    # the functions' SUPER_ADMIN_EMAILS does not list it: only the claim works there
    assert f"{email} is in config/super_admins but not in SUPER_ADMIN_EMAILS" in done.stderr
    assert f"{PROXY_ADMIN_EMAIL} is in SUPER_ADMIN_EMAILS in this shell but not" in done.stderr
    snap = s.store.get("config/super_admins")
    assert snap is not None and email in snap.data["emails"]

    body = s.call("whatsappWhoAmI", token=s.emulators.sign_in(email))[1]
    assert body["isAdmin"] is True and body["isEmployee"] is True
    assert "admin: the token has the custom claim admin=true" in body["reasons"]

    done = set_admin(s, email, "--remove")
    assert done.returncode == 0, done.stderr
    body = s.call("whatsappWhoAmI", token=s.emulators.sign_in(email))[1]
    assert body["isAdmin"] is False
    snap = s.store.get("config/super_admins")
    assert snap is not None and email not in snap.data["emails"]

    done = set_admin(s, "nobody-signed-up@example.com")
    assert done.returncode == 1 and "sign up first" in done.stderr


def test_who_am_i_says_when_the_rules_do_not_list_an_email_admin(proxy_stack: ProxyStack) -> None:
    s = proxy_stack
    try:  # another test of this module may have signed the admin up already
        admin = s.emulators.sign_in(PROXY_ADMIN_EMAIL)
    except urllib.error.HTTPError:
        _, admin = s.sign_up(PROXY_ADMIN_EMAIL)
    s.store.set("config/super_admins", {"emails": []}, merge=True)
    body = s.call("whatsappWhoAmI", token=admin)[1]
    assert body["isAdmin"] is True
    assert any("does not list" in r and "set-admin" in r for r in body["reasons"]), body


def test_a_disabled_employee_is_refused_at_once(proxy_stack: ProxyStack) -> None:
    """The proxy checks revocation (shared.identity.verify_id_token): a disabled employee's
    unexpired token is 401 on the next call."""
    from firebase_admin import auth

    uid, token = proxy_stack.staff()
    assert proxy_stack.call("whatsappProxyGetAccountsStaff", token=token)[0] == 200
    proxy_stack.emulators.admin_auth(lambda app: auth.update_user(uid, disabled=True, app=app))
    status, body = proxy_stack.call("whatsappProxyGetAccountsStaff", token=token)
    assert (status, body["error"]) == (401, "unauthorized"), body
