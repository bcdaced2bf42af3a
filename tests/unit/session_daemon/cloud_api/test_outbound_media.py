"""Files and quoted replies from a Cloud API account: the pure pieces (the item's `media` and
`replyTo`, the upload's parameters, Meta's body) and the Graph client's multipart upload
against the stand-in, which checks the bearer token and Meta's fields."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from session_daemon.cloud_api.errors import GraphFailure
from session_daemon.cloud_api.graph import GraphClient
from session_daemon.cloud_api.media_url import rules_from_env
from session_daemon.cloud_api.outbound import media_body, outbound_media
from session_daemon.cloud_api.transport import CloudTransport
from session_daemon.media.local import LocalMediaStore
from session_daemon.outbox.send_kinds import ReplyOrMediaNotSupported, send_item
from session_daemon.transport.simulated import SimulatedTransport
from shared.outbox import SendRejected, enqueue_send, media_kind, validate_send_request
from shared.paths import message_path, outbox_path, thread_path
from shared.store.sqlite import SqliteStore
from shared.timeutil import utc_now
from tests.support.graph_standin import PHONE_NUMBER_ID, TOKEN, GraphStandIn

JID = "40733111222@s.whatsapp.net"
TID = f"wa_40722000009__{JID}"
URL = "https://files.example/wa/invita%C8%9Bia.pdf"


@pytest.mark.parametrize(
    ("mime", "kind"),
    [
        ("image/jpeg", "image"),
        ("IMAGE/PNG", "image"),
        ("video/mp4", "video"),
        ("audio/ogg; codecs=opus", "audio"),
        ("application/pdf", "document"),
        ("text/plain", "document"),
    ],
)
def test_the_message_type_follows_the_mime_type(mime: str, kind: str) -> None:
    assert media_kind(mime) == kind


def test_the_upload_takes_its_name_from_the_url_and_the_text_as_caption() -> None:
    doc = outbound_media({"url": URL, "mimeType": "application/pdf"}, "  Invitația  ")
    assert (doc.kind, doc.file_name, doc.caption) == ("document", "invitația.pdf", "Invitația")
    named = outbound_media({"url": URL, "mimeType": "image/png", "fileName": "a.png"}, "")
    assert (named.kind, named.file_name, named.caption) == ("image", "a.png", None)
    for bad in ({"url": "ftp://x/y", "mimeType": "image/png"}, {"url": URL, "mimeType": " "}):
        with pytest.raises(ValueError):
            outbound_media(bad, "")
    with pytest.raises(ValueError, match="caption"):
        outbound_media({"url": URL, "mimeType": "image/png"}, "x" * 1025)


def test_a_media_reply_body_carries_the_id_the_caption_and_the_quoted_wamid() -> None:
    body = media_body(
        {"to": "40733111222"},
        "document",
        media_id="901",
        caption="Oferta",
        filename="oferta.pdf",
        reply_to="wamid.Q",
    )
    assert body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "40733111222",
        "type": "document",
        "context": {"message_id": "wamid.Q"},
        "document": {"id": "901", "caption": "Oferta", "filename": "oferta.pdf"},
    }
    audio = media_body({"to": "4073"}, "audio", media_id="902", caption="lost on audio")
    assert audio["audio"] == {"id": "902"}  # WhatsApp shows no caption under a voice note


def _request(**extra: Any) -> dict[str, Any]:
    return {"threadId": TID, "accountId": "wa_40722000009", "toJid": JID,
            "clientMessageId": "c-1", **extra}  # fmt: skip


def test_the_send_request_takes_media_without_text_but_not_nothing() -> None:
    req = validate_send_request(_request(text="", media={"url": URL, "mimeType": "image/png"}))
    assert req.media == {"url": URL, "mimeType": "image/png"}
    for bad in (
        _request(text=" "),
        _request(text="x", media={"url": "javascript:alert(1)", "mimeType": "image/png"}),
        _request(text="x", replyToMessageId="a/b"),
    ):
        with pytest.raises(SendRejected) as caught:
            validate_send_request(bad)
        assert caught.value.code == "invalid_request"


def test_enqueue_resolves_the_quoted_message_and_keeps_the_file(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    store.set(thread_path(TID), {"accountId": "wa_40722000009", "clientJid": JID,
                                 "lastMessageAt": utc_now()})  # fmt: skip
    store.set(message_path(TID, "m-in"), {"waMessageId": "wamid.IN", "body": "salut"})
    store.set(message_path(TID, "m-queued"), {"body": "not sent yet"})
    common: dict[str, Any] = {"thread_id": TID, "account_id": "wa_40722000009", "to_jid": JID,
                              "uid": "u1", "privileged": True}  # fmt: skip
    result = enqueue_send(
        store, text="Uite", client_message_id="c-1", reply_to_message_id="m-in",
        media={"url": URL, "mimeType": "application/pdf"}, **common,
    )  # fmt: skip
    item = store.get(outbox_path(result.request_id))
    assert item is not None
    assert item.data["replyTo"] == {"messageId": "m-in", "waMessageId": "wamid.IN"}
    assert item.data["media"] == {"url": URL, "mimeType": "application/pdf", "kind": "document"}
    msg = store.get(message_path(TID, result.request_id))
    assert msg is not None and msg.data["quotedMessageId"] == "m-in"
    assert msg.data["messageType"] == "document"
    for missing in ("m-queued", "m-nowhere"):  # no WhatsApp id to quote: refused, not queued
        with pytest.raises(SendRejected) as caught:
            enqueue_send(store, text="x", client_message_id=missing,
                         reply_to_message_id=missing, **common)  # fmt: skip
        assert (caught.value.code, caught.value.http_status) == ("reply_target_not_found", 404)
    store.close()


async def test_a_linked_device_refuses_a_file_or_a_reply_never_sending_bare_text() -> None:
    linked = SimulatedTransport()
    for item in ({"media": {"url": URL}}, {"replyTo": {"waMessageId": "wamid.X"}}):
        with pytest.raises(ReplyOrMediaNotSupported) as caught:
            await send_item(linked, "wa_1", JID, "x", item)
        assert not caught.value.retryable
    await linked.close()


async def test_upload_sends_metas_multipart_fields_with_the_token(
    graph: GraphStandIn, http: aiohttp.ClientSession
) -> None:
    client = GraphClient(http, graph.base_url)
    media_id = await client.upload_media(
        PHONE_NUMBER_ID, TOKEN, b"%PDF-1", "application/pdf", "o.pdf"
    )
    assert graph.uploads == [(media_id, "application/pdf", "o.pdf")]
    assert graph.media[media_id] == (b"%PDF-1", "application/pdf")
    with pytest.raises(GraphFailure) as caught:
        await client.upload_media(PHONE_NUMBER_ID, "EAAexpired", b"x", "image/png", "a.png")
    assert (caught.value.code, caught.value.stops_account) == ("token_expired", True)
    with pytest.raises(GraphFailure) as caught:
        await client.upload_media(PHONE_NUMBER_ID, TOKEN, b"x", "image/gif", "a.gif")
    assert caught.value.meta_code == 131053
    assert len(graph.uploads) == 1
    # the stand-in, like Meta, wants the three fields: a form without `file` is refused
    form = aiohttp.FormData({"messaging_product": "whatsapp", "type": "image/png"})
    async with http.post(
        f"{graph.base_url}/{PHONE_NUMBER_ID}/media",
        data=form(),
        headers={"Authorization": f"Bearer {TOKEN}"},
    ) as resp:
        assert resp.status == 400


async def test_the_file_to_send_is_fetched_with_a_size_cap(http: aiohttp.ClientSession) -> None:
    async def five_kb(_: web.Request) -> web.Response:
        return web.Response(body=b"x" * 5000)

    async def gone(_: web.Request) -> web.Response:
        return web.Response(status=404)

    async def elsewhere(_: web.Request) -> web.Response:  # an allowed store pointing inward
        raise web.HTTPFound("/f")

    app = web.Application()
    app.router.add_get("/f", five_kb)
    app.router.add_get("/gone", gone)
    app.router.add_get("/moved", elsewhere)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        client = GraphClient(http, "http://unused")
        assert await client.fetch_file(str(server.make_url("/f"))) == b"x" * 5000
        with pytest.raises(GraphFailure) as caught:
            await client.fetch_file(str(server.make_url("/f")), max_bytes=1000)
        assert (caught.value.code, caught.value.retryable) == ("media_error", False)
        with pytest.raises(GraphFailure) as caught:
            await client.fetch_file(str(server.make_url("/gone")))
        assert (caught.value.code, caught.value.retryable) == ("media_error", False)
        with pytest.raises(GraphFailure, match="redirect") as caught:  # never followed
            await client.fetch_file(str(server.make_url("/moved")))
        assert (caught.value.code, caught.value.retryable) == ("media_error", False)
    finally:
        await server.close()


async def test_own_links_are_read_from_disk_and_other_urls_refused(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    local = LocalMediaStore(tmp_path / "media", b"k" * 32, "http://127.0.0.1:9")
    stored = local.put("wa_1/o.pdf", b"%PDF-1 local", "application/pdf")

    async def nothing(*_: object) -> None:
        return None

    cloud = CloudTransport(GraphClient(http, "http://unused"), nothing, nothing)
    cloud.local_media = local
    cloud.media_rules = rules_from_env({}, project=None, own_base=local.public_base_url)
    # port 9 answers nothing: the bytes can only come from the disk
    assert await cloud._file_to_send(stored.url) == b"%PDF-1 local"
    for bad in (stored.url.replace("sig=", "sig=0"), "http://127.0.0.1:9/x", URL):
        with pytest.raises(GraphFailure) as caught:
            await cloud._file_to_send(bad)
        assert (caught.value.code, caught.value.retryable) == ("media_error", False)
