"""CONTRACT.md conformance, in one place: every document and payload the app reads, produced by
the REAL code paths, checked for the exact field names and types the contract states.

- the daemon process (simulated transport, SQLite store) writes `accounts`, `accountSecrets`,
  `threads`, `messages` and `outbox`, and serves its direct routes (section 5);
- the proxy's `handle` (section 2) on a SQLite store: send, whoAmI, the staff account view, 410;
- the CRM callables (section 3) and the `aggregateClientStats` body (`clients`).

Only what CONTRACT.md states is asserted. "Present" means the key exists in the document (the
Flutter app reads fields with `DocumentSnapshot.get`, which throws on a missing key), possibly
null where the contract allows an unknown value. If one of these fails, the app breaks: fix the
code, not this file (unless CONTRACT.md changed).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from firebase_functions import https_fn
from flask import Request
from werkzeug.test import EnvironBuilder

from functions import crm_handlers
from functions.crm_handlers import client_crm_ask, extract_event_from_thread
from functions.deprecated_stub import gone
from functions.whatsapp_proxy.backend import BackendConfig
from functions.whatsapp_proxy.core import ProxyRequest
from functions.whatsapp_proxy.endpoints import Deps, handle
from shared.crm.client_stats import apply_event
from shared.crm.extractors import HeuristicExtractor
from shared.identity import InvalidToken
from shared.ids import extraction_client_request_id, send_request_id
from shared.store.port import query
from shared.store.sqlite import SqliteStore
from tests.daemon.conftest import DaemonProcess

DATE_RE = re.compile(r"^\d{2}-\d{2}-\d{4}$")
HHMM_RE = re.compile(r"^\d{2}:\d{2}$")
SLOT_RE = re.compile(r"^\d{2,}[A-Z]$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")


# ---- type helpers ------------------------------------------------------------------------------


def is_ts(value: object) -> bool:
    """A Firestore Timestamp as the store returns it: an aware datetime (never a string/int)."""
    return isinstance(value, datetime) and value.tzinfo is not None


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_num(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def str_or_none(value: object) -> bool:
    return value is None or isinstance(value, str)


def ts_or_none(value: object) -> bool:
    return value is None or is_ts(value)


def has(doc: Mapping[str, Any], *names: str) -> None:
    missing = [n for n in names if n not in doc]
    assert not missing, f"missing fields {missing} in {sorted(doc)}"


# ---- document checks (one per CONTRACT.md section 4 document) ----------------------------------


def check_thread(doc: Mapping[str, Any], thread_id: str) -> None:
    has(
        doc,
        "accountId",
        "clientJid",
        "normalizedPhone",
        "phoneE164",
        "displayName",
        "lastMessageAt",
        "lastMessageAtMs",
        "lastMessageText",
        "lastMessagePreview",
        "lastMessageDirection",
        "lastMessageSenderName",
        "unreadCount",
        "profilePictureUrl",
        "ownerUid",
        "coWriterUids",
        "updatedAt",
    )
    assert thread_id == f"{doc['accountId']}__{doc['clientJid']}"
    assert re.fullmatch(r"\d+@(s\.whatsapp\.net|g\.us)", doc["clientJid"])
    assert re.fullmatch(r"\+\d{8,15}", doc["normalizedPhone"])
    assert doc["phoneE164"] == doc["normalizedPhone"]
    assert isinstance(doc["displayName"], str) and doc["displayName"]
    assert is_ts(doc["lastMessageAt"]), "lastMessageAt must be a Timestamp (inbox order)"
    assert is_int(doc["lastMessageAtMs"])
    assert doc["lastMessageAtMs"] == int(doc["lastMessageAt"].timestamp() * 1000)
    assert isinstance(doc["lastMessageText"], str)
    assert isinstance(doc["lastMessagePreview"], str) and len(doc["lastMessagePreview"]) <= 100
    assert doc["lastMessageDirection"] in ("inbound", "outbound")
    assert str_or_none(doc["lastMessageSenderName"])
    assert is_int(doc["unreadCount"]) and doc["unreadCount"] >= 0
    assert str_or_none(doc["profilePictureUrl"])
    assert str_or_none(doc["ownerUid"])
    assert isinstance(doc["coWriterUids"], list)
    assert all(isinstance(u, str) for u in doc["coWriterUids"])
    assert is_ts(doc["updatedAt"])


def check_message(doc: Mapping[str, Any]) -> None:
    has(
        doc,
        "accountId",
        "clientJid",
        "direction",
        "body",
        "status",
        "tsClient",
        "tsClientMs",
        "createdAt",
        "createdAtMs",
        "tsServer",
        "messageType",
        "waMessageId",
        "providerMessageId",
        "clientMessageId",
        "media",
    )
    assert isinstance(doc["accountId"], str) and doc["accountId"]
    assert re.fullmatch(r"\d+@(s\.whatsapp\.net|g\.us)", doc["clientJid"])
    assert doc["direction"] in ("inbound", "outbound")
    assert isinstance(doc["body"], str)
    assert doc["status"] in ("queued", "sent", "delivered", "read", "failed")
    assert is_ts(doc["tsClient"]), "tsClient: one type everywhere, a Timestamp"
    assert is_int(doc["tsClientMs"])
    assert doc["tsClientMs"] == int(doc["tsClient"].timestamp() * 1000)
    assert is_ts(doc["createdAt"])
    assert is_int(doc["createdAtMs"])
    assert ts_or_none(doc["tsServer"])
    assert isinstance(doc["messageType"], str)
    assert str_or_none(doc["waMessageId"]) and str_or_none(doc["providerMessageId"])
    assert str_or_none(doc["clientMessageId"])
    media = doc["media"]
    if media is not None:
        has(media, "type", "url", "mimetype", "filename", "thumbBase64")
        assert media["type"] in ("image", "video", "audio", "document")
        for key in ("url", "mimetype", "filename", "thumbBase64"):
            assert str_or_none(media[key])
    if "senderName" in doc:
        assert str_or_none(doc["senderName"])


OUTBOX_FIELDS = (
    "requestId",
    "threadId",
    "accountId",
    "toJid",
    "body",
    "payload",
    "status",
    "attemptCount",
    "nextAttemptAt",
    "createdAt",
    "createdByUid",
    "clientMessageId",
    "claimedBy",
    "leaseUntil",
    "lastError",
    "providerMessageId",
    "sentAt",
    "failedAt",
)


def check_outbox(doc: Mapping[str, Any], request_id: str) -> None:
    has(doc, *OUTBOX_FIELDS)
    assert doc["requestId"] == request_id
    assert isinstance(doc["threadId"], str) and isinstance(doc["accountId"], str)
    assert isinstance(doc["toJid"], str) and isinstance(doc["body"], str)
    assert doc["payload"] == {"text": doc["body"]}
    assert doc["status"] in ("queued", "processing", "sent", "failed")
    assert is_int(doc["attemptCount"])
    assert ts_or_none(doc["nextAttemptAt"]) and is_ts(doc["createdAt"])
    assert isinstance(doc["createdByUid"], str) and isinstance(doc["clientMessageId"], str)
    assert str_or_none(doc["claimedBy"]) and ts_or_none(doc["leaseUntil"])
    assert str_or_none(doc["lastError"]) and str_or_none(doc["providerMessageId"])
    assert ts_or_none(doc["sentAt"]) and ts_or_none(doc["failedAt"])


def check_account_doc(doc: Mapping[str, Any]) -> None:
    has(
        doc,
        "name",
        "phone",
        "phoneE164",
        "status",
        "lastError",
        "createdAt",
        "updatedAt",
        "lastBackfillAt",
        "autoReplyEnabled",
        "autoReplyPrompt",
    )
    assert isinstance(doc["name"], str) and isinstance(doc["phone"], str)
    assert re.fullmatch(r"\+\d{8,15}", doc["phoneE164"])
    assert isinstance(doc["status"], str)
    assert str_or_none(doc["lastError"])
    assert is_ts(doc["createdAt"]) and is_ts(doc["updatedAt"])
    assert ts_or_none(doc["lastBackfillAt"])
    assert isinstance(doc["autoReplyEnabled"], bool)
    assert str_or_none(doc["autoReplyPrompt"])
    for key in doc:  # the fix: no QR or pairing code in the staff-readable document
        assert re.sub(r"[^a-z]", "", key.lower()) not in ("qr", "qrcode", "pairingcode")


def check_account_api(account: Mapping[str, Any], *, staff: bool = False) -> None:
    base = ("id", "name", "phone", "status")
    has(account, *base, *(() if staff else ("qrCode", "pairingCode")))
    for key, value in account.items():
        assert str_or_none(value), f"account.{key} must be a string or null, got {value!r}"
    if staff:
        for key in account:
            assert re.sub(r"[^a-z]", "", key.lower()) not in (
                "qr",
                "qrcode",
                "pairingcode",
                "pairingurl",
            )


def check_event(doc: Mapping[str, Any]) -> None:
    has(
        doc,
        "schemaVersion",
        "eventShortId",
        "date",
        "address",
        "phoneE164",
        "phoneRaw",
        "childName",
        "childAge",
        "childDob",
        "parentName",
        "parentPhone",
        "numChildren",
        "payment",
        "rolesBySlot",
        "isArchived",
        "archivedAt",
        "archivedBy",
        "archiveReason",
        "notedByCode",
        "createdAt",
        "createdBy",
        "updatedAt",
        "updatedBy",
        "clientRequestId",
        "accountId",
        "threadId",
    )
    assert doc["schemaVersion"] == 3
    assert is_int(doc["eventShortId"])
    assert isinstance(doc["date"], str) and DATE_RE.fullmatch(doc["date"])
    assert doc["childAge"] is None or is_num(doc["childAge"])
    check_payment(doc["payment"])
    check_roles(doc["rolesBySlot"], doc["eventShortId"])
    assert doc["isArchived"] is False
    assert ts_or_none(doc["archivedAt"])
    assert is_ts(doc["createdAt"]) and is_ts(doc["updatedAt"])
    assert isinstance(doc["createdBy"], str) and isinstance(doc["updatedBy"], str)


def check_payment(payment: Mapping[str, Any]) -> None:
    has(payment, "status", "method", "amount")
    assert payment["status"] in ("PAID", "UNPAID", "CANCELLED")
    assert payment["method"] in ("CASH", "CARD", "TRANSFER", None)
    assert is_num(payment["amount"]), f"payment.amount must be a number: {payment!r}"
    if "currency" in payment:
        assert str_or_none(payment["currency"])


def check_roles(roles: Mapping[str, Any], short_id: int | None) -> None:
    assert isinstance(roles, dict)
    for key, role in roles.items():
        assert SLOT_RE.fullmatch(key), key
        if short_id is not None:
            assert key[:-1] == f"{short_id:02d}"
        has(role, "slot", "roleType", "label", "startTime", "durationMin", "status", "details")
        assert role["slot"] == key
        assert role["roleType"] in (
            "ANIMATOR",
            "URSITOARE",
            "ARCADE",
            "BALLOONS",
            "COTTON_CANDY",
            "POPCORN",
            "DECORATIONS",
            "HELIUM_BALLOONS",
            "SANTA_CLAUS",
            "DRY_ICE",
        )
        assert role["startTime"] is None or HHMM_RE.fullmatch(role["startTime"])
        assert role["durationMin"] is None or is_int(role["durationMin"])
        assert role["status"] in ("PENDING", "PENDING_PERSONAJ", "ASSIGNED", "ARCHIVED")
        assert isinstance(role["details"], dict)


# ---- 1. the daemon writes (sections 4 and 5) ---------------------------------------------------

A_PHONE = "0722000001"
CLIENT = "+40711000001"
CLIENT_JID = "40711000001@s.whatsapp.net"


@pytest.fixture
def live_daemon(tmp_path: Path) -> Iterator[DaemonProcess]:
    workdir = tmp_path / "daemon"
    workdir.mkdir()
    proc = DaemonProcess(workdir=workdir, token=secrets.token_urlsafe(24))
    proc.start()
    yield proc
    try:
        proc.stop(timeout=10)
    except RuntimeError:
        proc.kill()


def ok(reply: Any) -> Any:
    body = reply.json()
    assert reply.status == 200 and body["success"] is True, (reply.status, body)
    return body


def test_daemon_documents_and_routes(live_daemon: DaemonProcess) -> None:
    d = live_daemon
    added = ok(d.post("/api/whatsapp/add-account", {"name": "Sala A", "phone": A_PHONE}))
    has(added, "accountId", "account")
    account = added["accountId"]
    check_account_api(added["account"])
    d.wait_for(lambda: d.get(f"/api/whatsapp/qr/{account}").json().get("qr"), what="QR")

    with d.open_store() as store:
        snap = store.get(f"accounts/{account}")
        assert snap is not None
        check_account_doc(snap.data)
        secret = store.get(f"accountSecrets/{account}")
        assert secret is not None and isinstance(secret.data.get("qrCode"), str)

    listed = ok(d.get("/api/whatsapp/accounts"))["accounts"]
    [view] = [a for a in listed if a["id"] == account]
    check_account_api(view)
    assert view["status"] == "qr_ready" and isinstance(view["qrCode"], str)

    ok(d.post(f"/api/simulator/pair/{account}", {"phone": A_PHONE, "pushName": "Sala A"}))
    d.wait_for(lambda: d.account_status(account) == "connected", what="connected")

    # inbound text and media, a message typed on the linked phone
    ok(
        d.post(
            f"/api/simulator/messages/{account}",
            {"from": CLIENT, "text": "Bună! " + "x" * 150, "pushName": "Ion Pop"},
        )
    )
    ok(
        d.post(
            f"/api/simulator/messages/{account}",
            {
                "from": CLIENT,
                "pushName": "Ion Pop",
                "media": {"type": "image", "mimetype": "image/jpeg", "thumbBase64": "AAAA"},
            },
        )
    )
    ok(d.post(f"/api/simulator/type-on-phone/{account}", {"to": CLIENT, "text": "Revin."}))
    assert ok(d.post("/api/simulator/drain"))["idle"] is True

    thread_id = f"{account}__{CLIENT_JID}"
    with d.open_store() as store:
        thread = store.get(f"threads/{thread_id}")
        assert thread is not None
        check_thread(thread.data, thread_id)
        assert thread.data["displayName"] == "Ion Pop"  # a real name, never the text
        msgs = store.query(query(f"threads/{thread_id}/messages"))
        assert len(msgs) == 3
        for m in msgs:
            check_message(m.data)
        assert {m.data["direction"] for m in msgs} == {"inbound", "outbound"}
        [with_media] = [m for m in msgs if m.data["media"] is not None]
        assert with_media.data["media"]["type"] == "image"

    # an app send through the daemon's own route: outbox + optimistic message, then sent
    sent = ok(
        d.post(
            "/api/whatsapp/send",
            {
                "threadId": thread_id,
                "accountId": account,
                "toJid": CLIENT_JID,
                "text": "Vă sunăm imediat.",
                "clientMessageId": "c-1",
            },
        )
    )
    has(sent, "requestId", "duplicate", "message")
    request_id = sent["requestId"]
    assert HEX64.fullmatch(request_id) and sent["duplicate"] is False

    def item_status() -> Any:
        with d.open_store() as store:
            snap = store.get(f"outbox/{request_id}")
            return snap.data["status"] if snap and snap.data["status"] == "sent" else None

    d.wait_for(item_status, what="outbox sent")
    ok(d.post(f"/api/simulator/read/{account}", {"phone": CLIENT}))
    assert ok(d.post("/api/simulator/drain"))["idle"] is True

    with d.open_store() as store:
        item = store.get(f"outbox/{request_id}")
        assert item is not None
        check_outbox(item.data, request_id)
        assert item.data["status"] == "sent" and is_ts(item.data["sentAt"])
        message = store.get(f"threads/{thread_id}/messages/{request_id}")
        assert message is not None  # later statuses update the same document
        check_message(message.data)
        assert message.data["direction"] == "outbound"
        assert message.data["clientMessageId"] == "c-1"
        assert message.data["status"] in ("sent", "delivered", "read")
        thread = store.get(f"threads/{thread_id}")
        assert thread is not None
        check_thread(thread.data, thread_id)
        assert thread.data["lastMessageDirection"] == "outbound"

    # the direct routes of section 5
    threads = ok(d.get(f"/api/whatsapp/threads/{account}?limit=10&orderBy=lastMessageAt"))
    has(threads, "threads", "count")
    assert threads["count"] == len(threads["threads"]) == 1
    assert threads["threads"][0]["id"] == thread_id
    inbox = ok(d.get(f"/api/whatsapp/inbox/{account}?limit=10"))
    assert isinstance(inbox["messages"], list) and len(inbox["messages"]) == 4
    settings = ok(d.get(f"/api/whatsapp/auto-reply-settings/{account}"))
    assert isinstance(settings["enabled"], bool) and str_or_none(settings["prompt"])
    ready = d.get("/ready", token=None).json()
    has(
        ready,
        "ready",
        "mode",
        "reason",
        "instanceId",
        "lockStatus",
        "heldBy",
        "lockExpiresInSeconds",
        "timestamp",
    )
    assert ready["mode"] in ("active", "passive") and isinstance(ready["ready"], bool)
    health = d.get("/health", token=None)
    assert health.status == 200 and health.json()["sessions_dir_writable"] is True


# ---- 2. the proxy (section 2) ------------------------------------------------------------------

ACCOUNT = "wa_40700000001"
P_THREAD = f"{ACCOUNT}__{CLIENT_JID}"
TOKENS: dict[str, dict[str, Any]] = {
    "admin-token": {"uid": "admin", "email": "boss@example.com", "email_verified": True},
    "staff-token": {"uid": "staff1", "email": "s1@example.com"},
}


def _verify(token: str) -> dict[str, Any]:
    if token not in TOKENS:
        raise InvalidToken("bad")
    return dict(TOKENS[token])


@pytest.fixture
def pstore(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SqliteStore]:
    monkeypatch.setenv("SUPER_ADMIN_EMAILS", "boss@example.com")
    store = SqliteStore(tmp_path / "proxy.db", synchronous="NORMAL")
    store.set("staffProfiles/staff1", {"role": "staff", "whatsAppAccountIds": [ACCOUNT]})
    store.set(
        f"threads/{P_THREAD}",
        {
            "accountId": ACCOUNT,
            "clientJid": CLIENT_JID,
            "lastMessageAt": datetime(2026, 1, 1, tzinfo=UTC),
        },
    )
    yield store
    store.close()


def door(
    store: SqliteStore, name: str, method: str, body: Any = None, token: str = "staff-token"
) -> tuple[int, dict[str, Any]]:
    deps = Deps(lambda: store, _verify, lambda: None)
    headers = {"Authorization": f"Bearer {token}", "X-Request-ID": "r-1"}
    raw = json.dumps(body).encode() if body is not None else b""
    resp = handle(name, ProxyRequest(method, headers, {}, raw), deps)
    json.dumps(resp.body)  # JSON object body, always
    assert isinstance(resp.body, dict)
    return resp.status, resp.body


def test_proxy_send_writes_the_contract_documents(pstore: SqliteStore) -> None:
    body = {
        "threadId": P_THREAD,
        "accountId": ACCOUNT,
        "toJid": CLIENT_JID,
        "text": "Bună ziua!",
        "clientMessageId": "cm-1",
    }
    status, resp = door(pstore, "whatsappProxySend", "POST", body)
    request_id = send_request_id(P_THREAD, "staff1", "cm-1")
    assert status == 200
    assert set(resp) >= {"success", "requestId", "duplicate", "message"}
    assert resp["success"] is True and resp["duplicate"] is False
    assert resp["requestId"] == request_id and isinstance(resp["message"], str)

    item = pstore.get(f"outbox/{request_id}")
    assert item is not None
    check_outbox(item.data, request_id)
    assert item.data["status"] == "queued" and item.data["createdByUid"] == "staff1"
    message = pstore.get(f"threads/{P_THREAD}/messages/{request_id}")
    assert message is not None
    check_message(message.data)
    assert message.data["status"] == "queued" and message.data["direction"] == "outbound"
    thread = pstore.get(f"threads/{P_THREAD}")
    assert thread is not None and thread.data["ownerUid"] == "staff1"
    assert is_ts(thread.data["lastMessageAt"]) and is_int(thread.data["lastMessageAtMs"])

    status, again = door(pstore, "whatsappProxySend", "POST", body)
    assert status == 200 and again["duplicate"] is True and again["requestId"] == request_id


def test_proxy_error_body_who_am_i_and_stub(pstore: SqliteStore) -> None:
    status, body = door(pstore, "whatsappProxySend", "POST", {"threadId": P_THREAD})
    assert status == 400 and body["success"] is False and body["error"] == "invalid_request"
    assert isinstance(body["message"], str)
    status, body = door(pstore, "whatsappWhoAmI", "GET")
    assert status == 200
    has(body, "uid", "email", "isAdmin", "isEmployee", "staffProfileExists", "staffProfileRole")
    assert body["uid"] == "staff1" and body["isEmployee"] is True and body["isAdmin"] is False
    assert body["staffProfileExists"] is True and body["staffProfileRole"] == "staff"
    gone_response = gone()
    assert gone_response.status_code == 410 and gone_response.mimetype == "application/json"
    stub = json.loads(gone_response.get_data())
    assert stub["success"] is False and stub["error"] == "deprecated"
    assert str(stub["message"]).endswith("use whatsappProxy* endpoints.")


def test_proxy_staff_accounts_view(pstore: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    from functions.whatsapp_proxy import endpoints
    from functions.whatsapp_proxy.core import ProxyResponse

    pstore.set("config/whatsapp_inbox", {"adminOnlyAccountIds": ["wa_hidden"]})
    accounts = [
        {"id": ACCOUNT, "name": "A", "phone": "+40700000001", "status": "qr_ready"}
        | {"qrCode": "data:image/png;base64,AAA", "pairingCode": "ABCD1234", "QR": "x"},
        {"id": "wa_hidden", "name": "H", "phone": "+40700000002", "status": "connected"},
    ]
    monkeypatch.setattr(
        endpoints,
        "_accounts",
        lambda ctx: ProxyResponse(200, {"success": True, "accounts": accounts}),
    )
    deps = Deps(lambda: pstore, _verify, lambda: BackendConfig("http://127.0.0.1:9", "t", 1.0))
    resp = handle(
        "whatsappProxyGetAccountsStaff",
        ProxyRequest("GET", {"Authorization": "Bearer staff-token"}, {}, b""),
        deps,
    )
    assert resp.status == 200 and resp.body["success"] is True
    [view] = resp.body["accounts"]
    assert view["id"] == ACCOUNT
    check_account_api(view, staff=True)


# ---- 3. the callables and the CRM documents (sections 3 and 4) ---------------------------------

C_ACCOUNT = "acc1"
C_PHONE = "+40722111222"
C_JID = "40722111222@s.whatsapp.net"
C_THREAD = f"{C_ACCOUNT}__{C_JID}"


@pytest.fixture(autouse=True)
def _token_of_uid(monkeypatch: pytest.MonkeyPatch) -> None:
    """The callables re-verify the caller's token (revocation): here "id-token:<uid>" stands for
    a valid ID token of <uid> (the real check runs in tests/crm/test_callables_emulator.py)."""

    def verify(token: str) -> dict[str, Any]:
        if not token.startswith("id-token:"):
            raise InvalidToken("not a token of this test")
        uid = token.removeprefix("id-token:")
        return {"uid": uid, "sub": uid}

    monkeypatch.setattr(crm_handlers, "_verify", verify)


def _call(data: Any, uid: str = "staff-1") -> https_fn.CallableRequest[Any]:
    headers = [("Authorization", f"Bearer id-token:{uid}")]
    builder = EnvironBuilder(path="/", method="POST", json={"data": data}, headers=headers)
    return https_fn.CallableRequest(
        data=data,
        raw_request=Request(builder.get_environ()),
        auth=https_fn.AuthData(uid, {"uid": uid}),
    )


@pytest.fixture
def crm(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(tmp_path / "crm.db")
    store.set("staffProfiles/staff-1", {"role": "staff"})
    store.set(
        f"threads/{C_THREAD}",
        {"accountId": C_ACCOUNT, "clientJid": C_JID, "normalizedPhone": C_PHONE},
    )
    yield store
    store.close()


def _say(store: SqliteStore, n: int, direction: str, text: str, ts: str) -> str:
    message_id = f"m{n:03d}"
    store.set(
        f"threads/{C_THREAD}/messages/{message_id}",
        {
            "accountId": C_ACCOUNT,
            "clientJid": C_JID,
            "direction": direction,
            "body": text,
            "status": "delivered",
            "tsClient": datetime.fromisoformat(ts),
        },
    )
    return message_id


def check_extract_result(result: Mapping[str, Any], newest_id: str) -> None:
    has(
        result,
        "action",
        "draftEvent",
        "targetEventId",
        "confidence",
        "reasons",
        "clientRequestId",
        "traceId",
        "cacheHit",
    )
    assert result["action"] in ("CREATE_EVENT", "UPDATE_EVENT", "NOOP")
    assert is_num(result["confidence"]) and 0 <= result["confidence"] <= 1
    assert isinstance(result["reasons"], list)
    assert all(isinstance(r, str) for r in result["reasons"])
    assert result["clientRequestId"] == extraction_client_request_id(C_THREAD, newest_id)
    assert len(result["clientRequestId"]) == 16
    assert isinstance(result["traceId"], str) and isinstance(result["cacheHit"], bool)
    assert str_or_none(result["targetEventId"])
    draft = result["draftEvent"]
    if result["action"] == "NOOP":
        assert draft is None and result["reasons"]
    else:
        assert isinstance(draft, dict)
        has(draft, "date", "address", "childName", "payment")
        assert draft["date"] is None or DATE_RE.fullmatch(draft["date"])
        check_payment(draft["payment"])
        check_roles(draft.get("rolesBySlot") or {}, None)


def check_audits(store: SqliteStore) -> None:
    audits = store.query(query(f"threads/{C_THREAD}/extractions"))
    assert audits
    for audit in audits:
        has(
            audit.data,
            "status",
            "createdAt",
            "finishedAt",
            "requestedBy",
            "traceId",
            "lastMessageId",
            "extractorVersion",
            "model",
            "messageCount",
            "result",
        )
        assert audit.data["status"] != "running"
        assert is_ts(audit.data["createdAt"]) and is_ts(audit.data["finishedAt"])
        assert is_int(audit.data["messageCount"])


def test_extraction_result_audit_and_saved_event(crm: SqliteStore) -> None:
    _say(
        crm,
        1,
        "inbound",
        "Bună! Vrem Batman pe 12 decembrie 2026, ora 17, pentru Radu, 6 ani, "
        "la Str. Mare nr. 3, Sibiu.",
        "2026-11-20T09:00:00+02:00",
    )
    newest = _say(crm, 2, "outbound", "Batman, 2 ore: 700 lei. Notat.", "2026-11-20T09:05:00+02:00")
    data = {"threadId": C_THREAD, "accountId": C_ACCOUNT}
    dry = extract_event_from_thread(_call(data), db=crm, extractor=HeuristicExtractor())
    check_extract_result(dry, newest)
    assert dry["action"] == "CREATE_EVENT"
    assert crm.query(query("evenimente")) == []  # a dry run saves nothing

    saved = extract_event_from_thread(
        _call({**data, "dryRun": False}), db=crm, extractor=HeuristicExtractor()
    )
    check_extract_result(saved, newest)
    [event] = crm.query(query("evenimente"))
    check_event(event.data)
    assert event.data["clientRequestId"] == saved["clientRequestId"]
    assert event.data["createdBy"] == "staff-1"
    assert (event.data["accountId"], event.data["threadId"]) == (C_ACCOUNT, C_THREAD)
    counter = crm.get("counters/eventShortCode")
    assert counter is not None and counter.data["value"] == event.data["eventShortId"]
    check_audits(crm)


def test_extraction_draft_without_a_price_still_has_a_number(crm: SqliteStore) -> None:
    _say(
        crm,
        1,
        "inbound",
        "Vrem Elsa pe 21 martie 2027, ora 16, la Str. Teilor nr. 9, Iași. Prețul îl discutăm.",
        "2026-03-05T09:00:00+02:00",
    )
    newest = _say(crm, 2, "outbound", "Am notat, revenim.", "2026-03-05T09:10:00+02:00")
    data = {"threadId": C_THREAD, "accountId": C_ACCOUNT}
    result = extract_event_from_thread(_call(data), db=crm, extractor=HeuristicExtractor())
    assert result["action"] != "NOOP"
    check_extract_result(result, newest)


def test_extraction_noop_has_reasons(crm: SqliteStore) -> None:
    newest = _say(crm, 1, "inbound", "Mulțumim!", "2026-03-05T09:00:00+02:00")
    data = {"threadId": C_THREAD, "accountId": C_ACCOUNT}
    result = extract_event_from_thread(_call(data), db=crm, extractor=HeuristicExtractor())
    assert result["action"] == "NOOP"
    check_extract_result(result, newest)
    check_audits(crm)


def _event(short_id: int, date: str | None, amount: float, status: str) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schemaVersion": 3,
        "eventShortId": short_id,
        "phoneE164": C_PHONE,
        "childName": "Radu",
        "payment": {"status": status, "method": "CASH", "amount": amount},
        "isArchived": False,
        "createdBy": "app",
    }
    if date is not None:
        doc["date"] = date
    return doc


def test_ask_result_and_client_document(crm: SqliteStore) -> None:
    crm.set("evenimente/e1", _event(7, "12-12-2025", 700, "PAID"))
    crm.set("evenimente/e2", _event(8, "14-02-2026", 500, "UNPAID"))
    crm.set("evenimente/e3", _event(9, None, 300, "UNPAID"))  # the app may save no date
    for event_id in ("e1", "e2", "e3"):
        apply_event(crm, event_id)

    client = crm.get(f"clients/{C_PHONE}")
    assert client is not None
    has(
        client.data,
        "phoneE164",
        "phoneRaw",
        "displayName",
        "lifetimeSpendPaid",
        "lifetimeSpendAll",
        "eventsCount",
        "lastEventAt",
        "createdAt",
        "updatedAt",
    )
    assert client.data["phoneE164"] == C_PHONE
    assert is_num(client.data["lifetimeSpendPaid"]) and is_num(client.data["lifetimeSpendAll"])
    assert is_int(client.data["eventsCount"])
    assert is_ts(client.data["lastEventAt"]), "lastEventAt: a Timestamp, the profile crashes else"
    assert is_ts(client.data["createdAt"]) and is_ts(client.data["updatedAt"])

    for question in (
        "Cât a cheltuit clientul în total?",
        "Care a fost ultima petrecere?",
        "Ce petreceri neplătite are?",
        "Câte petreceri a avut?",
    ):
        result = client_crm_ask(_call({"phoneE164": C_PHONE, "question": question}), db=crm)
        assert set(result) >= {"answer", "sources"}
        assert isinstance(result["answer"], str) and result["answer"]
        assert isinstance(result["sources"], list)
        for source in result["sources"]:
            has(source, "eventShortId", "date", "details")
            assert source["eventShortId"] is None or is_int(source["eventShortId"])
            assert isinstance(source["date"], str) and DATE_RE.fullmatch(source["date"]), source
            assert isinstance(source["details"], str)
