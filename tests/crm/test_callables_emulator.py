"""The CRM callables end to end: Auth emulator ID tokens → Functions emulator running
`functions/main.py` (`whatsappExtractEventFromThread`, `clientCrmAsk`) → Firestore emulator.

Users sign up on the Auth emulator's REST API; an employee is a user with `staffProfiles/{uid}`.
Each test uses its own phone number and thread (the emulators are shared by the session).
Every test runs twice: on the repository's functions folder and on a stand-in whose main.py only
wraps `functions/crm_handlers.py` (so a fault elsewhere in functions/ shows up as such)."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from shared.store.firestore import FirestoreStore
from shared.store.port import query
from tests.conftest import ROOT, FirebaseEmulators, start_firebase_emulators

pytestmark = pytest.mark.emulators

_numbers = itertools.count(100)


def _post(url: str, body: dict[str, Any], token: str | None = None) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


_STAND_IN_MAIN = """
import firebase_admin
from firebase_functions import https_fn

import crm_handlers

firebase_admin.initialize_app()


@https_fn.on_call()
def whatsappExtractEventFromThread(req):
    return crm_handlers.extract_event_from_thread(req)


@https_fn.on_call()
def clientCrmAsk(req):
    return crm_handlers.client_crm_ask(req)
"""


@pytest.fixture(scope="module", params=["stand-in", "functions/main.py"])
def crm_emulators(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    firestore_emulator: str,
) -> Iterator[FirebaseEmulators]:
    """`functions/main.py`: the repository's own functions folder (the session's emulators).
    `stand-in`: a folder whose main.py only wraps `functions/crm_handlers.py`, so the CRM
    handlers are proven through the emulators on their own as well."""
    if request.param == "functions/main.py":
        yield request.getfixturevalue("firebase_emulators")
        return
    root = tmp_path_factory.mktemp("crm-functions")
    functions = root / "functions"
    functions.mkdir()
    (functions / "main.py").write_text(_STAND_IN_MAIN)
    for module in ("crm_handlers.py", "runtime.py"):
        shutil.copy(ROOT / "functions" / module, functions / module)
    (functions / "requirements.txt").write_text("firebase-functions\n")
    (functions / "venv").symlink_to(Path(sys.prefix))  # this venv has firebase-functions
    server, info = start_firebase_emulators(
        tmp_path_factory.mktemp("crm-emulators"),
        {"FIRESTORE_EMULATOR_HOST": firestore_emulator},
        root=root,
    )
    try:
        yield info
    finally:
        server.stop()


@pytest.fixture(scope="module")
def env(crm_emulators: FirebaseEmulators, firestore_emulator: str) -> Iterator[Any]:
    firebase_emulators = crm_emulators
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator)
        store = FirestoreStore(firebase_emulators.project_id)
    staff_uid, staff_token = firebase_emulators.sign_up()
    store.set(f"staffProfiles/{staff_uid}", {"role": "staff", "whatsAppAccountIds": []})
    stranger_uid, stranger_token = firebase_emulators.sign_up()

    class Env:
        emulators = firebase_emulators
        db = store
        staff = (staff_uid, staff_token)
        stranger = (stranger_uid, stranger_token)

        @staticmethod
        def call(name: str, data: Any, token: str | None) -> tuple[int, dict[str, Any]]:
            return _post(firebase_emulators.functions_url(name), {"data": data}, token)

    # A valid employee token must get through the callable framework's own token check.
    status, body = Env.call(
        "clientCrmAsk", {"phoneE164": "+40722000001", "question": "Câte petreceri?"}, staff_token
    )
    if status == 401:
        store.close()
        pytest.fail(
            "a valid Auth-emulator ID token was rejected before reaching the handler: "
            "functions/main.py must initialize firebase_admin (initialize_app()) at import, "
            f"before any callable verifies a token. Response: {body}"
        )
    yield Env
    store.close()


def new_thread(env: Any) -> tuple[str, str, str]:
    """A thread with a booking chat: (thread id, account id, phone)."""
    n = next(_numbers)
    phone = f"+40722{os.getpid() % 1000:03d}{n:03d}"
    jid = f"{phone[1:]}@s.whatsapp.net"
    account = f"acc-crm-{uuid.uuid4().hex[:6]}"
    thread = f"{account}__{jid}"
    env.db.set(
        f"threads/{thread}",
        {"accountId": account, "clientJid": jid, "normalizedPhone": phone, "phoneE164": phone},
    )
    chat = [
        (
            "inbound",
            "Bună! Vrem Elsa pe 12 decembrie 2099, ora 16, pentru Ana, 5 ani, "
            "la Str. Lungă nr. 2, Iași.",
            "2099-11-01T09:00:00+02:00",
        ),
        ("outbound", "Elsa, 2 ore: 650 lei. V-am notat!", "2099-11-01T09:05:00+02:00"),
    ]
    for index, (direction, text, ts) in enumerate(chat):
        env.db.set(
            f"threads/{thread}/messages/m{index}",
            {"direction": direction, "body": text, "tsClient": datetime.fromisoformat(ts)},
        )
    return thread, account, phone


def events_of(env: Any, phone: str) -> list[Any]:
    return env.db.query(query("evenimente", where=[("phoneE164", "==", phone)]))


def test_non_employee_and_anonymous_are_refused(env: Any) -> None:
    thread, account, _ = new_thread(env)
    data = {"threadId": thread, "accountId": account}
    status, body = env.call("whatsappExtractEventFromThread", data, env.stranger[1])
    assert status == 403 and body["error"]["status"] == "PERMISSION_DENIED", (status, body)
    status, body = env.call("whatsappExtractEventFromThread", data, None)
    assert status == 401 and body["error"]["status"] == "UNAUTHENTICATED"
    status, body = env.call(
        "clientCrmAsk", {"phoneE164": "+40722000001", "question": "?"}, env.stranger[1]
    )
    assert status == 403 and body["error"]["status"] == "PERMISSION_DENIED"


@pytest.mark.parametrize(
    "data",
    [{}, {"threadId": "x"}, {"threadId": "x", "accountId": "y", "lastNMessages": 0}, "text"],
)
def test_bad_arguments_are_invalid_argument(env: Any, data: Any) -> None:
    status, body = env.call("whatsappExtractEventFromThread", data, env.staff[1])
    assert status == 400 and body["error"]["status"] == "INVALID_ARGUMENT"
    status, body = env.call("clientCrmAsk", {"question": "Cât?"}, env.staff[1])
    assert status == 400 and body["error"]["status"] == "INVALID_ARGUMENT"


def test_dry_run_writes_no_event_and_save_twice_creates_one(env: Any) -> None:
    thread, account, phone = new_thread(env)
    status, body = env.call(
        "whatsappExtractEventFromThread", {"threadId": thread, "accountId": account}, env.staff[1]
    )
    assert status == 200, body
    result = body["result"]
    assert result["action"] == "CREATE_EVENT"
    assert result["draftEvent"]["childName"] == "Ana"
    assert isinstance(result["reasons"], list) and result["clientRequestId"]
    assert events_of(env, phone) == []
    save = {"threadId": thread, "accountId": account, "dryRun": False}
    first = env.call("whatsappExtractEventFromThread", save, env.staff[1])[1]["result"]
    second = env.call("whatsappExtractEventFromThread", save, env.staff[1])[1]["result"]
    [event] = events_of(env, phone)
    assert first["targetEventId"] == second["targetEventId"] == event.id
    assert event.data["createdBy"] == env.staff[0]
    assert isinstance(event.data["eventShortId"], int)
    audits = env.db.query(query(f"threads/{thread}/extractions"))
    assert {a.data["status"] for a in audits} == {"success"}


def test_update_picks_the_right_event_among_several(env: Any) -> None:
    thread, account, phone = new_thread(env)
    for event_id, day in (("u-a", "05-12-2099"), ("u-b", "12-12-2099"), ("u-c", "12-12-2098")):
        env.db.set(
            f"evenimente/{event_id}-{phone[1:]}",
            {
                "date": day,
                "phoneE164": phone,
                "childName": "Ana",
                "isArchived": False,
                "eventShortId": 7,
                "payment": {"amount": 500, "status": "UNPAID"},
            },
        )
    status, body = env.call(
        "whatsappExtractEventFromThread",
        {"threadId": thread, "accountId": account, "dryRun": False},
        env.staff[1],
    )
    assert status == 200, body
    assert body["result"]["action"] == "UPDATE_EVENT"
    assert body["result"]["targetEventId"] == f"u-b-{phone[1:]}"
    updated = env.db.get(f"evenimente/u-b-{phone[1:]}")
    assert updated is not None and updated.data["payment"]["amount"] == 650
    other = env.db.get(f"evenimente/u-a-{phone[1:]}")
    assert other is not None and other.data["payment"]["amount"] == 500
    assert len(events_of(env, phone)) == 3


def test_client_crm_ask_answers_from_data(env: Any) -> None:
    _, _, phone = new_thread(env)
    env.db.set(
        f"evenimente/ask-{phone[1:]}",
        {
            "eventShortId": 3,
            "date": "01-02-2099",
            "phoneE164": phone,
            "isArchived": False,
            "payment": {"amount": 750, "status": "PAID"},
        },
    )
    status, body = env.call(
        "clientCrmAsk", {"phoneE164": phone, "question": "Cât a plătit clientul?"}, env.staff[1]
    )
    assert status == 200, body
    assert "750" in body["result"]["answer"]
    assert [s["eventShortId"] for s in body["result"]["sources"]] == [3]


def test_a_disabled_employee_is_refused_at_once(env: Any) -> None:
    """The framework checks the signature only; the handlers check revocation too."""
    from firebase_admin import auth

    uid, token = env.emulators.sign_up()
    env.db.set(f"staffProfiles/{uid}", {"role": "staff", "whatsAppAccountIds": []})
    ask = {"phoneE164": "+40722000001", "question": "Câte petreceri?"}
    assert env.call("clientCrmAsk", ask, token)[0] == 200
    env.emulators.admin_auth(lambda app: auth.update_user(uid, disabled=True, app=app))
    status, body = env.call("clientCrmAsk", ask, token)
    assert status == 401 and body["error"]["status"] == "UNAUTHENTICATED", (status, body)
