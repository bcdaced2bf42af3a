"""Issue 12 end to end: the real daemon process (simulated transport, SQLite store) fed through
`POST /api/simulator/messages/{accountId}` with every new field, read back through the API and
the store: media stored and fetchable with no header, edits, deletions, reactions, polls,
missed calls, undecryptable placeholders upgraded, groups, and a push to a local FCM stand-in."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from shared.store.port import query
from tests.support.daemon import DaemonProcess

CLIENT = "+40733111222"
CLIENT_JID = "40733111222@s.whatsapp.net"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


class FcmStandIn(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.bodies: list[dict[str, Any]] = []
        self.auth: list[str] = []


class _Handler(BaseHTTPRequestHandler):
    server: FcmStandIn

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.bodies.append(json.loads(raw))
        self.server.auth.append(self.headers.get("Authorization", ""))
        body = b'{"name": "projects/p/messages/1"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture(scope="module")
def fcm() -> Iterator[FcmStandIn]:
    server = FcmStandIn()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module", params=["inprocess", "shared"])
def rig(
    request: pytest.FixtureRequest, fcm: FcmStandIn, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[DaemonProcess, str]]:
    """The in-process simulator, and the shared one with every session in a host process
    (the content of each kind crosses the host wire; media are handed over on disk)."""
    d = DaemonProcess(
        workdir=tmp_path_factory.mktemp("kinds-daemon"),
        token=secrets.token_urlsafe(24),
        env={
            "WHATSAPP_SIMULATOR": str(request.param),
            "WHATSAPP_FCM_PROJECT": "demo-superparty",
            "WHATSAPP_FCM_BASE_URL": f"http://127.0.0.1:{fcm.server_address[1]}",
            "WHATSAPP_FCM_ACCESS_TOKEN": "test-access-token",
            "WHATSAPP_PUSH_WINDOW_SECONDS": "0.2",
        },
    )
    d.start()
    try:
        account = _ok(d.post("/api/whatsapp/add-account", {"name": "Sales", "phone": "0722000001"}))
        account_id = account["accountId"]
        qr = f"/api/whatsapp/qr/{account_id}"
        d.wait_for(lambda: d.get(qr).json().get("qr"), timeout=30, what="the first QR")
        _ok(d.post(f"/api/simulator/pair/{account_id}", {}))
        d.wait_for(lambda: d.account_status(account_id) == "connected", what="connected")
        with d.open_store() as store:
            store.set("users/staff1", {"fcmToken": "tok-1", "notificationsEnabled": True})
            store.set("staffProfiles/staff1", {"role": "staff"})
        yield d, account_id
    finally:
        try:
            d.stop(timeout=10)
        except RuntimeError:
            d.kill()


def _ok(reply: Any) -> Any:
    body = reply.json()
    assert reply.status == 200 and body["success"] is True, (reply.status, body)
    return body


def _send(rig: tuple[DaemonProcess, str], **body: Any) -> str:
    d, account = rig
    reply = _ok(d.post(f"/api/simulator/messages/{account}", {"from": CLIENT, **body}))
    message_id: str = reply["messageId"]
    return message_id


def _doc(rig: tuple[DaemonProcess, str], mid: str, chat: str = CLIENT_JID) -> dict[str, Any]:
    d, account = rig
    with d.open_store() as store:
        snap = store.get(f"threads/{account}__{chat}/messages/{mid}")
    assert snap is not None, mid
    data: dict[str, Any] = snap.data
    return data


def _wait_doc(rig: tuple[DaemonProcess, str], mid: str, ok: Any, chat: str = CLIENT_JID) -> Any:
    d, _ = rig

    def ready() -> Any:
        try:
            doc = _doc(rig, mid, chat)
        except AssertionError:
            return None
        return doc if ok(doc) else None

    return d.wait_for(ready, what=f"message {mid}")


def test_media_is_stored_and_opens_with_no_header(rig: tuple[DaemonProcess, str]) -> None:
    mid = _send(
        rig,
        text="poza",
        id="3EB0MEDIA01",
        media={
            "type": "image",
            "mimetype": "image/png",
            "dataBase64": base64.b64encode(PNG).decode(),
        },
    )
    doc = _wait_doc(rig, mid, lambda d: d["media"]["status"] == "stored")
    media = doc["media"]
    assert media["sha256"] == hashlib.sha256(PNG).hexdigest() and media["sizeBytes"] == len(PNG)
    with urllib.request.urlopen(urllib.request.Request(media["url"]), timeout=10) as resp:
        assert resp.status == 200 and resp.read() == PNG  # no Authorization header
    inbox = rig[0].get(f"/api/whatsapp/inbox/{rig[1]}").json()["messages"]
    assert any(m["id"] == mid and m["media"]["url"] == media["url"] for m in inbox)


def test_edit_revoke_and_reaction(rig: tuple[DaemonProcess, str]) -> None:
    mid = _send(rig, text="Vrem Elsa pe 14 iunie", id="3EB0EDIT01")
    _send(rig, edit=mid, text="Vrem Elsa pe 15 iunie")
    doc = _wait_doc(rig, mid, lambda d: d["body"] == "Vrem Elsa pe 15 iunie")
    assert [v["body"] for v in doc["editHistory"]] == ["Vrem Elsa pe 14 iunie"]
    _send(rig, reaction={"to": mid, "emoji": "❤️"})
    _wait_doc(rig, mid, lambda d: d.get("reactions") == {"40733111222": "❤️"})
    _send(rig, revoke=mid)
    doc = _wait_doc(rig, mid, lambda d: d.get("revokedAt") is not None)
    assert doc["body"] == "Vrem Elsa pe 15 iunie"  # nothing is lost


def test_poll_and_missed_call(rig: tuple[DaemonProcess, str]) -> None:
    poll = _send(rig, poll={"name": "Ce zi?", "options": ["Sâmbătă", "Duminică"]})
    call = _send(rig, call=True)
    assert _wait_doc(rig, poll, lambda d: True)["poll"]["options"] == ["Sâmbătă", "Duminică"]
    assert _wait_doc(rig, call, lambda d: True)["body"] == "📞 Apel vocal pierdut"


def test_undecryptable_then_its_content(rig: tuple[DaemonProcess, str]) -> None:
    mid = _send(rig, id="3EB0WAIT01", undecryptable=True)
    _wait_doc(rig, mid, lambda d: d.get("undecryptable") is True)
    _send(rig, id=mid, text="Bună, ce pachete aveți?")
    doc = _wait_doc(rig, mid, lambda d: d.get("undecryptable") is False)
    assert doc["body"] == "Bună, ce pachete aveți?"


def test_group_messages(rig: tuple[DaemonProcess, str]) -> None:
    group = "120363041234567890@g.us"
    mid = _send(rig, text="Salut", pushName="Ana", group={"jid": group, "subject": "Petrecere"})
    doc = _wait_doc(rig, mid, lambda d: True, chat=group)
    assert (doc["senderName"], doc["senderJid"]) == ("Ana", CLIENT_JID)
    d, account = rig
    threads = d.get(f"/api/whatsapp/threads/{account}").json()["threads"]
    [thread] = [t for t in threads if t["clientJid"] == group]
    assert (thread["isGroup"], thread["groupSubject"], thread["normalizedPhone"]) == (
        True,
        "Petrecere",
        None,
    )


def test_a_push_reaches_fcm(rig: tuple[DaemonProcess, str], fcm: FcmStandIn) -> None:
    _send(rig, text="Aveți liber pe 20?", pushName="Ana")
    d, account = rig
    d.wait_for(lambda: any(b["message"]["token"] == "tok-1" for b in fcm.bodies), what="a push")
    message = fcm.bodies[-1]["message"]
    assert message["data"]["type"] == "whatsapp_message"
    assert message["data"]["accountId"] == account
    assert fcm.auth[-1] == "Bearer test-access-token"


def test_bad_kinds_are_refused(rig: tuple[DaemonProcess, str]) -> None:
    d, account = rig
    reply = d.post(
        f"/api/simulator/messages/{account}", {"from": CLIENT, "revoke": "X", "call": True}
    )
    assert reply.status == 400


def test_a_group_is_sendable_through_the_outbox(rig: tuple[DaemonProcess, str]) -> None:
    d, account = rig
    group = "120363000000000777@g.us"
    _send(rig, text="Cine vine?", pushName="Ana", group={"jid": group, "subject": "Echipa"})
    tid = f"{account}__{group}"
    _wait_doc(rig, _send(rig, text="Eu", group={"jid": group}), lambda d: True, chat=group)
    reply = d.post(
        "/api/whatsapp/send",
        {"threadId": tid, "accountId": account, "toJid": group, "text": "Venim toți!",
         "clientMessageId": "c-1", "uid": "staff1"},
    )  # fmt: skip
    assert reply.status == 200, reply.body

    def sent() -> Any:
        with d.open_store() as store:
            items = [s.data for s in store.query(query("outbox")) if s.data["threadId"] == tid]
        return items and items[0]["status"] == "sent" and items[0]

    item = d.wait_for(sent, what="the group send")
    assert item["toJid"] == group


def test_a_new_thread_gets_the_clients_profile_picture(rig: tuple[DaemonProcess, str]) -> None:
    d, account = rig
    picture = b"\xff\xd8\xff\xe0profile"
    who = "+40766000111"
    _ok(
        d.post(
            f"/api/simulator/profile-picture/{account}",
            {"who": who, "dataBase64": base64.b64encode(picture).decode()},
        )
    )
    _ok(d.post(f"/api/simulator/messages/{account}", {"from": who, "text": "Bună!"}))
    tid = f"{account}__40766000111@s.whatsapp.net"

    def url() -> Any:
        with d.open_store() as store:
            snap = store.get(f"threads/{tid}")
        return snap.data.get("profilePictureUrl") if snap else None

    link = d.wait_for(url, what="the profile picture")
    with urllib.request.urlopen(urllib.request.Request(link), timeout=10) as resp:
        assert resp.read() == picture


def test_a_group_without_a_subject_gets_it_from_its_group_info(
    rig: tuple[DaemonProcess, str],
) -> None:
    d, account = rig
    group = "120363000000000888@g.us"
    _ok(d.post(f"/api/simulator/group-subject/{account}", {"jid": group, "subject": "Mame"}))
    _send(rig, text="Salut", group={"jid": group})  # neonize messages carry no subject
    tid = f"{account}__{group}"

    def subject() -> Any:
        with d.open_store() as store:
            snap = store.get(f"threads/{tid}")
        return snap.data.get("groupSubject") if snap else None

    assert d.wait_for(subject, what="the group subject") == "Mame"
    with d.open_store() as store:
        snap = store.get(f"threads/{tid}")
    assert snap is not None and snap.data["displayName"] == "Mame"
