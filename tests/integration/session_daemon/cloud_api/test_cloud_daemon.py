"""A Cloud API number in the running daemon, end to end: the daemon process on SQLite with
`WHATSAPP_GRAPH_BASE_URL` at the local Graph API stand-in; the account added through the route,
webhooks signed and delivered the way Meta does (batched entries, byte-identical retries,
out-of-order statuses, a sender known only by `user_id`, Business-app echoes, media), sends from
the app's side going out through the stand-in, statuses landing forward-only, the account
restored at a restart without a session database, and a linked number converted in place.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from session_daemon.cli import cli
from session_daemon.cloud_api.signature import HEADER
from shared.outbox import enqueue_send
from shared.store.port import query
from shared.store.sqlite import SqliteStore
from tests.support.daemon import DaemonProcess
from tests.support.graph_standin import (
    APP_SECRET,
    PHONE_NUMBER_ID,
    TOKEN,
    WABA_ID,
    account_request,
    change,
    contact,
    dumps,
    entry,
    envelope,
    status,
    text_message,
)
from tests.support.graph_thread import RunningStandIn

PHONE = "+40722000009"
ACCOUNT = "wa_40722000009"
CLIENT = "40733111222"
CLIENT_JID = f"{CLIENT}@s.whatsapp.net"
THREAD = f"{ACCOUNT}__{CLIENT_JID}"
BSUID = "RO.13491208655302741918"
VERIFY = "verify-token-of-the-test"
ADD = account_request(name="Sales Cloud", phone=PHONE, verifyToken=VERIFY)
HOOK = f"/webhooks/whatsapp-cloud/{ACCOUNT}"


def start_daemon(
    factory: Callable[..., DaemonProcess], graph: RunningStandIn, **env: str
) -> DaemonProcess:
    d = factory(env={"WHATSAPP_GRAPH_BASE_URL": graph.standin.base_url, **env})
    graph.standin.webhook_url = f"{d.base_url}{HOOK}"
    return d


@contextlib.contextmanager
def open_store(d: DaemonProcess) -> Iterator[SqliteStore]:
    """The daemon's SQLite store (its own, or the one several daemons share)."""
    url = d.store_url or ""
    store = SqliteStore(Path(url[len("sqlite:///") :]) if url else d.store_path)
    try:
        yield store
    finally:
        store.close()


def doc(d: DaemonProcess, path: str) -> dict[str, Any] | None:
    with open_store(d) as store:
        snap = store.get(path)
        return dict(snap.data) if snap is not None else None


def messages(d: DaemonProcess, thread_id: str) -> dict[str, dict[str, Any]]:
    with open_store(d) as store:
        return {s.id: dict(s.data) for s in store.query(query(f"threads/{thread_id}/messages"))}


def deliver(graph: RunningStandIn, payload: dict[str, Any], signature: str | None = "valid") -> int:
    return graph.call(graph.standin.deliver(dumps(payload), signature=signature))


def test_cloud_number_end_to_end(
    daemon_factory: Callable[..., DaemonProcess], graph_thread: RunningStandIn
) -> None:
    graph, standin = graph_thread, graph_thread.standin
    d = start_daemon(daemon_factory, graph)

    # ---- added through the route: idempotent, credentials server-only ----------------------
    first = d.post("/api/whatsapp/cloud-accounts", ADD)
    assert first.status == 200, first.body
    assert first.json()["accountId"] == ACCOUNT and first.json()["created"] is True
    again = d.post("/api/whatsapp/cloud-accounts", {**ADD, "phone": "0722000009"})
    assert again.json()["accountId"] == ACCOUNT and again.json()["created"] is False
    account = doc(d, f"accounts/{ACCOUNT}")
    assert account is not None and account["kind"] == "cloud"
    assert not {"accessToken", "appSecret", "verifyToken"} & set(account)
    secrets = doc(d, f"accountSecrets/{ACCOUNT}")
    assert secrets is not None and secrets["accessToken"] == TOKEN
    d.wait_for(lambda: d.account_status(ACCOUNT) == "connected", what="cloud account connected")
    assert "GET" in {m for m, p in standin.requests if p.endswith(PHONE_NUMBER_ID)}

    # ---- the handshake: plain text; a wrong verify token is refused ------------------------
    hub = f"hub.mode=subscribe&hub.verify_token={VERIFY}&hub.challenge=1158201444"
    hand = d.get(f"{HOOK}?{hub}", token=None)
    assert (hand.status, hand.content_type, hand.body) == (200, "text/plain", b"1158201444")
    wrong = d.get(f"{HOOK}?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1", token=None)
    assert wrong.status == 403 and wrong.json()["success"] is False

    # ---- a batch: two entries, a phone sender and a user_id-only sender ---------------------
    now = int(time.time())
    batch = envelope(
        entry(
            change(
                contacts=[contact(CLIENT, "Ana")],
                messages=[
                    text_message("wamid.IN1", "Bună, aveți loc sâmbătă?", now, sender=CLIENT)
                ],
            )
        ),
        entry(
            change(
                contacts=[contact(None, "Dana", BSUID)],
                messages=[text_message("wamid.IN2", "Salut", now, sender=None, user_id=BSUID)],
            )
        ),
    )
    assert deliver(graph, batch) == 200
    assert graph.call(standin.redeliver_last()) == 200  # Meta's retry: the same bytes
    # signature failures: 401 every time (never throttled per address), nothing stored
    forged = envelope(
        entry(change(messages=[text_message("wamid.FORGED", "x", now, sender=CLIENT)]))
    )
    for _ in range(25):
        assert deliver(graph, forged, signature="sha256=" + "0" * 64) == 401
    assert deliver(graph, forged, signature=None) == 401
    assert deliver(graph, {"object": "whatsapp_business_account"}) == 400  # malformed: 400
    counted = d.get("/diag").json()["cloudApi"]["webhook"]
    assert (counted["bad_signature"], counted["malformed"], counted["delivered"]) == (26, 1, 2)

    inbound = d.wait_for(lambda: messages(d, THREAD) or None, what="the phone thread")
    assert [m["body"] for m in inbound.values()] == ["Bună, aveți loc sâmbătă?"]  # stored once
    assert not any(m.get("waMessageId") == "wamid.FORGED" for m in inbound.values())
    bsuid_thread = f"{ACCOUNT}__{BSUID}@bsuid"
    assert [m["body"] for m in messages(d, bsuid_thread).values()] == ["Salut"]

    # ---- an echo typed in the Business app: a phone-typed outbound message -----------------
    echo = {
        "from": "40722000009",
        "to": CLIENT,
        "id": "wamid.ECHO1",
        "timestamp": str(now + 1),
        "type": "text",
        "text": {"body": "Da, avem"},
    }
    assert (
        deliver(graph, envelope(entry(change("smb_message_echoes", message_echoes=[echo])))) == 200
    )
    d.wait_for(
        lambda: any(m.get("waMessageId") == "wamid.ECHO1" for m in messages(d, THREAD).values()),
        what="the echo",
    )
    echoed = next(m for m in messages(d, THREAD).values() if m.get("waMessageId") == "wamid.ECHO1")
    assert echoed["direction"] == "outbound"

    # ---- inbound media: fetched through the Graph API into the media port -----------------
    standin.media["1003383421387256"] = (b"\x89PNG fake image bytes", "image/png")
    image = {
        "from": CLIENT,
        "id": "wamid.IMG1",
        "timestamp": str(now + 2),
        "type": "image",
        "image": {"id": "1003383421387256", "mime_type": "image/png"},
    }
    assert (
        deliver(graph, envelope(entry(change(contacts=[contact(CLIENT, "Ana")], messages=[image]))))
        == 200
    )

    def image_url() -> str | None:
        for m in messages(d, THREAD).values():
            if m.get("waMessageId") == "wamid.IMG1":
                return (m.get("media") or {}).get("url")
        return None

    url = d.wait_for(image_url, what="the image stored in the media port")
    assert url.startswith("http")

    # ---- staff read the thread: Meta gets the read receipt -------------------------------
    read = d.post(f"/api/whatsapp/threads/{THREAD}/read", {})
    assert read.status == 200 and read.json()["readReceipt"] == "sent", read.body
    assert standin.reads == ["wamid.IMG1"]

    # ---- an app-side send goes out through the stand-in; the wamid is recorded ----------
    standin.window_open.add(CLIENT)
    sent = d.post(
        "/api/whatsapp/send",
        {
            "threadId": THREAD,
            "accountId": ACCOUNT,
            "toJid": CLIENT_JID,
            "text": "Vă așteptăm!",
            "clientMessageId": "c-1",
        },
    )
    assert sent.status == 200, sent.body
    rid = sent.json()["requestId"]
    item = d.wait_for(
        lambda: (x := doc(d, f"outbox/{rid}")) and x["status"] == "sent" and x, what="sent"
    )
    [out] = [s for s in standin.sent if s.body["type"] == "text"]
    assert out.body["to"] == CLIENT and out.body["text"]["body"] == "Vă așteptăm!"
    assert item["providerMessageId"] == out.wamid

    # ---- statuses out of order: forward only; a late failure is an error, not a step back
    wamid = out.wamid
    assert (
        deliver(
            graph,
            envelope(entry(change(statuses=[status(wamid, "read", now + 5, recipient_id=CLIENT)]))),
        )
        == 200
    )
    late = envelope(
        entry(change(statuses=[status(wamid, "delivered", now + 4, recipient_id=CLIENT)])),
        entry(change(statuses=[status(wamid, "sent", now + 3, recipient_id=CLIENT)])),
    )
    assert deliver(graph, late) == 200
    failed = status(
        wamid, "failed", now + 6, recipient_id=CLIENT, errors=[{"code": 131026, "title": "x"}]
    )
    assert deliver(graph, envelope(entry(change(statuses=[failed])))) == 200
    assert graph.call(standin.redeliver_last()) == 200
    # receipts go through the journal, failures straight to the store: whatever order they
    # land in, the message converges on `read` with the failure kept as an error
    message = d.wait_for(
        lambda: (
            (m := messages(d, THREAD).get(rid))
            and m.get("deliveryError")
            and m.get("status") == "read"
            and m
        ),
        what="read, with the late failure recorded",
    )
    assert message["deliveryError"]["metaCode"] == 131026

    # ---- a template through the outbox (the broadcasts' seam), allowed outside the window
    with open_store(d) as store:
        queued = enqueue_send(
            store,
            thread_id=THREAD,
            account_id=ACCOUNT,
            to_jid=CLIENT_JID,
            text="[template] reminder",
            uid="service:broadcast",
            client_message_id="b-1",
            privileged=True,
            template={
                "name": "party_reminder",
                "language": "ro",
                "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ana"}]}],
            },
        )
    d.post("/api/whatsapp/outbox/wake", {})
    d.wait_for(
        lambda: (x := doc(d, f"outbox/{queued.request_id}")) and x["status"] == "sent",
        what="the template sent",
    )
    [tpl] = [s for s in standin.sent if s.body["type"] == "template"]
    assert tpl.body["template"]["name"] == "party_reminder"

    # ---- templates listed; linked-device calls answered --------------------------------
    standin.templates.append(
        {
            "name": "party_reminder",
            "language": "ro",
            "status": "APPROVED",
            "category": "UTILITY",
            "components": [],
        }
    )
    listed = d.get(f"/api/whatsapp/cloud-accounts/{ACCOUNT}/templates")
    assert listed.status == 200 and [t["name"] for t in listed.json()["templates"]] == [
        "party_reminder"
    ]
    qr = d.post(f"/api/whatsapp/regenerate-qr/{ACCOUNT}", {})
    assert (qr.status, qr.json()["status"]) == (200, "already_connected")
    for path in (f"/api/whatsapp/pairing-code/{ACCOUNT}", f"/api/whatsapp/backfill/{ACCOUNT}"):
        refused = d.post(path, {})
        assert (refused.status, refused.json()["error"]) == (409, "not_linked_device")

    # ---- the 24-hour window: refused at once, in the contract's error shape -----------
    old_thread = f"{ACCOUNT}__40744000111@s.whatsapp.net"
    old = int(time.time()) - 2 * 86400
    stale = change(
        contacts=[contact("40744000111", "Ion")],
        messages=[text_message("wamid.OLD", "salut", old, sender="40744000111")],
    )
    assert deliver(graph, envelope(entry(stale))) == 200
    d.wait_for(lambda: messages(d, old_thread) or None, what="the old thread")
    outside = d.post(
        "/api/whatsapp/send",
        {
            "threadId": old_thread,
            "accountId": ACCOUNT,
            "toJid": "40744000111@s.whatsapp.net",
            "text": "Mai sunteți interesat?",
            "clientMessageId": "c-2",
        },
    )
    assert outside.status == 409
    assert outside.json() == {
        "success": False,
        "error": "outside_service_window",
        "message": outside.json()["message"],
    }

    # ---- restart: restored without a session database ---------------------------------
    d.restart()
    d.wait_for(lambda: d.account_status(ACCOUNT) == "connected", what="restored after restart")
    assert not (d.sessions_path / ACCOUNT).exists() or not any(
        (d.sessions_path / ACCOUNT).iterdir()
    )
    assert HEADER  # the signature header name is shared with the stand-in


def test_an_expired_token_stops_sends_and_a_new_one_applies_without_restart(
    daemon_factory: Callable[..., DaemonProcess], graph_thread: RunningStandIn
) -> None:
    graph, standin = graph_thread, graph_thread.standin
    d = start_daemon(daemon_factory, graph, WHATSAPP_CLOUD_CHECK_SECONDS="1")
    assert d.post("/api/whatsapp/cloud-accounts", ADD).status == 200
    d.wait_for(lambda: d.account_status(ACCOUNT) == "connected", what="connected")
    # the periodic check: Meta's view of the number on the account (no reason: healthy)
    health = d.wait_for(
        lambda: (doc(d, f"accounts/{ACCOUNT}") or {}).get("cloudHealth"), what="cloudHealth"
    )
    assert (health["status"], health["numberStatus"], health["reason"]) == (
        "connected",
        "CONNECTED",
        None,
    )
    now = int(time.time())
    hello = change(
        contacts=[contact(CLIENT, "Ana")],
        messages=[text_message("wamid.A", "hi", now, sender=CLIENT)],
    )
    assert deliver(graph, envelope(entry(hello))) == 200
    d.wait_for(lambda: messages(d, THREAD) or None, what="thread")
    standin.window_open.add(CLIENT)
    standin.tokens = {"EAAnew-token-after-rotation"}  # Meta expired the old one
    body = {
        "threadId": THREAD,
        "accountId": ACCOUNT,
        "toJid": CLIENT_JID,
        "text": "a",
        "clientMessageId": "t-1",
    }
    rid = d.post("/api/whatsapp/send", body).json()["requestId"]
    d.wait_for(
        lambda: str((doc(d, f"accounts/{ACCOUNT}") or {}).get("lastError")).startswith(
            "token_expired"
        ),
        what="the token's reason on the account",
    )
    assert (doc(d, f"outbox/{rid}") or {})["status"] in ("queued", "processing")
    d.wait_for(
        lambda: (
            ((doc(d, f"accounts/{ACCOUNT}") or {}).get("cloudHealth") or {}).get("reason")
            == "token_expired"
        ),
        what="the health check's reason",
    )
    assert not standin.sent
    # the operator saves the new token from the command line (secrets from the environment)
    rotated = CliRunner().invoke(
        cli,
        [
            "add-cloud-account",
            "--name", "Sales Cloud", "--phone", PHONE,
            "--phone-number-id", PHONE_NUMBER_ID, "--waba-id", WABA_ID,
            "--url", d.base_url,
        ],
        env={
            "WHATSAPP_DAEMON_TOKEN": d.token,
            "WHATSAPP_CLOUD_ACCESS_TOKEN": "EAAnew-token-after-rotation",
            "WHATSAPP_CLOUD_APP_SECRET": APP_SECRET,
            "WHATSAPP_CLOUD_VERIFY_TOKEN": VERIFY,
        },
    )  # fmt: skip
    assert rotated.exit_code == 0, rotated.output
    assert f"{ACCOUNT}: already there; credentials saved" in rotated.output
    d.post("/api/whatsapp/outbox/wake", {})
    d.wait_for(
        lambda: (doc(d, f"outbox/{rid}") or {}).get("status") == "sent",
        timeout=20,
        what="sent after rotation",
    )
    assert d.account_status(ACCOUNT) == "connected"


def test_a_linked_number_is_converted_in_place(
    daemon_factory: Callable[..., DaemonProcess], graph_thread: RunningStandIn
) -> None:
    graph = graph_thread
    d = start_daemon(daemon_factory, graph)
    added = d.post("/api/whatsapp/add-account", {"name": "Linked", "phone": PHONE})
    assert added.json()["accountId"] == ACCOUNT
    d.wait_for(lambda: d.account_status(ACCOUNT) == "qr_ready", what="QR")
    assert d.post(f"/api/simulator/pair/{ACCOUNT}", {}).status == 200
    d.wait_for(lambda: d.account_status(ACCOUNT) == "connected", what="linked connected")
    hello = d.post(
        f"/api/simulator/messages/{ACCOUNT}", {"from": "+" + CLIENT, "text": "from the linked days"}
    )
    assert hello.status == 200, hello.body
    d.wait_for(lambda: messages(d, THREAD) or None, what="linked thread")
    converted = d.post("/api/whatsapp/cloud-accounts", ADD)
    assert converted.status == 200
    assert (converted.json()["accountId"], converted.json()["converted"]) == (ACCOUNT, True)
    d.wait_for(lambda: (doc(d, f"accounts/{ACCOUNT}") or {}).get("kind") == "cloud", what="kind")
    d.wait_for(lambda: d.account_status(ACCOUNT) == "connected", what="cloud connected")
    now = int(time.time())
    later = change(
        contacts=[contact(CLIENT, "Ana")],
        messages=[text_message("wamid.C1", "now on cloud", now, sender=CLIENT)],
    )
    assert deliver(graph, envelope(entry(later))) == 200
    d.wait_for(lambda: len(messages(d, THREAD)) == 2, what="same thread, both messages")
