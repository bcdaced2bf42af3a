"""Files and quoted replies from a Cloud API number, through the running daemon: the send route
takes `media {url, mimeType, fileName}` and `replyToMessageId` (a message of the thread); the
outbox fetches the file, uploads it to the stand-in's `POST /{phone-number-id}/media`
(multipart, bearer token) and sends it by the returned id, quoting the client's wamid."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from functools import partial

import pytest
from aiohttp import web

from tests.integration.session_daemon.cloud_api.test_cloud_daemon import (
    ACCOUNT,
    ADD,
    CLIENT,
    CLIENT_JID,
    THREAD,
    deliver,
    doc,
    messages,
    start_daemon,
)
from tests.support.daemon import DaemonProcess
from tests.support.graph_standin import change, contact, entry, envelope, text_message
from tests.support.graph_thread import RunningStandIn

PDF = b"%PDF-1.4 oferta Superparty\n" * 100


@pytest.fixture
def files(graph_thread: RunningStandIn) -> Iterator[str]:
    """Where the app's files live (a Storage download URL in production): a plain file server."""
    app = web.Application()

    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=PDF, content_type="application/pdf")

    app.router.add_get("/oferta.pdf", serve)
    runner = web.AppRunner(app)

    async def start() -> str:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"  # type: ignore[attr-defined]

    yield graph_thread.call(start())
    graph_thread.call(runner.cleanup())


def test_a_file_and_a_quoted_reply_go_out_from_a_cloud_number(
    daemon_factory: Callable[..., DaemonProcess], graph_thread: RunningStandIn, files: str
) -> None:
    graph, standin = graph_thread, graph_thread.standin
    d = start_daemon(daemon_factory, graph, WHATSAPP_SEND_MEDIA_HOSTS=files)
    assert d.post("/api/whatsapp/cloud-accounts", ADD).status == 200
    d.wait_for(lambda: d.account_status(ACCOUNT) == "connected", what="cloud account connected")
    hello = change(
        contacts=[contact(CLIENT, "Ana")],
        messages=[text_message("wamid.Q1", "Trimiteți oferta?", int(time.time()), sender=CLIENT)],
    )
    assert deliver(graph, envelope(entry(hello))) == 200
    quoted_id = d.wait_for(
        lambda: next(
            (k for k, m in messages(d, THREAD).items() if m.get("waMessageId") == "wamid.Q1"),
            None,
        ),
        what="the client's message journalled",
    )
    standin.window_open.add(CLIENT)
    base = {"threadId": THREAD, "accountId": ACCOUNT, "toJid": CLIENT_JID}

    def send(**body: object) -> str:
        answer = d.post("/api/whatsapp/send", {**base, **body})
        assert answer.status == 200, answer.body
        rid: str = answer.json()["requestId"]
        return rid

    rid_file = send(
        text="Oferta noastră",
        clientMessageId="m-1",
        replyToMessageId=quoted_id,
        media={"url": f"{files}/oferta.pdf", "mimeType": "application/pdf",
               "fileName": "Oferta Superparty.pdf"},
    )  # fmt: skip
    rid_text = send(text="Da, sâmbătă", clientMessageId="m-2", replyToMessageId=quoted_id)
    rid_gif = send(text="", clientMessageId="m-3",
                   media={"url": f"{files}/oferta.pdf", "mimeType": "image/gif"})  # fmt: skip
    unknown = d.post(
        "/api/whatsapp/send",
        {**base, "text": "x", "clientMessageId": "m-4", "replyToMessageId": "no-such-message"},
    )
    assert (unknown.status, unknown.json()["error"]) == (404, "reply_target_not_found")
    # the daemon fetches media.url itself: an address outside our stores is refused at once
    for url in ("http://169.254.169.254/computeMetadata/v1/", f"{files}0/x", "https://a@b/x"):
        bad = d.post(
            "/api/whatsapp/send",
            {
                **base,
                "text": "",
                "clientMessageId": "m-5",
                "media": {"url": url, "mimeType": "image/png"},
            },
        )
        assert (bad.status, bad.json()["error"], bad.json()["field"]) == (
            400, "media_url_not_allowed", "media.url",
        )  # fmt: skip

    def settled(rid: str) -> dict[str, object] | None:
        item = doc(d, f"outbox/{rid}")
        return item if item is not None and item["status"] in ("sent", "failed") else None

    items: dict[str, dict[str, object]] = {}
    for rid in (rid_file, rid_text, rid_gif):
        items[rid] = d.wait_for(partial(settled, rid), what=rid)
    assert items[rid_file]["status"] == "sent" and items[rid_text]["status"] == "sent"
    # the file: uploaded once with Meta's fields, then sent by its id, captioned, quoting
    [(media_id, mime, name)] = standin.uploads
    assert (mime, name, standin.media[media_id][0]) == (
        "application/pdf",
        "Oferta Superparty.pdf",
        PDF,
    )
    by_type = {s.body["type"]: s for s in standin.sent}
    document = by_type["document"]
    assert document.body["document"] == {
        "id": media_id,
        "caption": "Oferta noastră",
        "filename": "Oferta Superparty.pdf",
    }
    assert document.body["context"] == {"message_id": "wamid.Q1"}
    assert items[rid_file]["providerMessageId"] == document.wamid
    text = by_type["text"]
    assert text.body["context"] == {"message_id": "wamid.Q1"}
    assert text.body["text"]["body"] == "Da, sâmbătă"
    # a type Meta does not take fails (never retried, nothing sent) with a stable code
    assert items[rid_gif]["status"] == "failed"
    assert items[rid_gif]["lastErrorCode"] == "media_error"
    assert set(by_type) == {"document", "text"}
    sent_msgs = messages(d, THREAD)
    assert sent_msgs[rid_file]["quotedMessageId"] == quoted_id
    assert sent_msgs[rid_file]["messageType"] == "document"
