"""The Graph API client against the local stand-in: Meta's bodies, answers and errors."""

from __future__ import annotations

import base64
import hashlib

import aiohttp
import pytest

from session_daemon.cloud_api.errors import GraphFailure
from session_daemon.cloud_api.graph import (
    DEFAULT_GRAPH_BASE_URL,
    GraphClient,
    graph_base_url,
    sha256_b64_to_hex,
)
from session_daemon.cloud_api.identity import ClientRef
from session_daemon.cloud_api.outbound import media_body, template_body, text_body
from session_daemon.outbox.items import is_ambiguous_send_error
from tests.support.graph_standin import PHONE_NUMBER_ID, TOKEN, WABA_ID, GraphStandIn

CLIENT = ClientRef(pn_jid="40733111222@s.whatsapp.net", bsuid="RO.13491208655302741918")
USERNAME_ONLY = ClientRef(pn_jid=None, bsuid="RO.13491208655302741918")


def test_base_url_comes_from_the_environment() -> None:
    assert graph_base_url({}) == DEFAULT_GRAPH_BASE_URL
    assert DEFAULT_GRAPH_BASE_URL.startswith("https://graph.facebook.com/v")
    assert graph_base_url({"WHATSAPP_GRAPH_BASE_URL": "http://127.0.0.1:9/v24.0/"}) == (
        "http://127.0.0.1:9/v24.0"
    )


async def test_text_reply_media_and_template_sends(
    graph: GraphStandIn, http: aiohttp.ClientSession
) -> None:
    client = GraphClient(http, graph.base_url)
    graph.window_open.add("40733111222")
    graph.media["1003383421387256"] = (b"png", "image/png")  # a media send names a known id
    text = await client.send(
        PHONE_NUMBER_ID, TOKEN, text_body(CLIENT.send_target(), "Bună!", reply_to="wamid.X")
    )
    image = await client.send(
        PHONE_NUMBER_ID,
        TOKEN,
        media_body(CLIENT.send_target(), "image", media_id="1003383421387256", caption="invitația"),
    )
    tpl = await client.send(
        PHONE_NUMBER_ID,
        TOKEN,
        template_body(USERNAME_ONLY.send_target(), "reminder", "ro", body_params=["Ana"]),
    )
    assert len({text.message_id, image.message_id, tpl.message_id}) == 3
    assert text.message_id.startswith("wamid.") and text.wa_id == "40733111222"
    bodies = [s.body for s in graph.sent]
    assert bodies[0] == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "40733111222",
        "type": "text",
        "context": {"message_id": "wamid.X"},
        "text": {"body": "Bună!", "preview_url": False},
    }
    assert bodies[1]["image"] == {"id": "1003383421387256", "caption": "invitația"}
    # a user known only by the BSUID is addressed with `recipient`, never `to`
    assert "to" not in bodies[2] and bodies[2]["recipient"] == "RO.13491208655302741918"
    assert bodies[2]["template"]["components"][0]["parameters"] == [{"type": "text", "text": "Ana"}]
    # nothing failed: inside the window, and templates are allowed outside it
    assert graph.take_statuses() == []


async def test_free_text_outside_the_window_fails_later_by_webhook(
    graph: GraphStandIn, http: aiohttp.ClientSession
) -> None:
    client = GraphClient(http, graph.base_url)
    answer = await client.send(PHONE_NUMBER_ID, TOKEN, text_body({"to": "40733111222"}, "Salut"))
    [failed] = graph.take_statuses()
    assert failed["id"] == answer.message_id and failed["status"] == "failed"
    assert failed["errors"][0]["code"] == 131047


@pytest.mark.parametrize(
    ("setup", "code", "retryable", "stops"),
    [
        ("bad_token", "token_expired", False, True),
        ("throughput", "rate_limited", True, False),
        ("unknown_number", "not_found", False, True),
    ],
)
async def test_graph_errors_become_stable_codes(
    graph: GraphStandIn,
    http: aiohttp.ClientSession,
    setup: str,
    code: str,
    retryable: bool,
    stops: bool,
) -> None:
    client = GraphClient(http, graph.base_url)
    token, pnid = TOKEN, PHONE_NUMBER_ID
    if setup == "bad_token":
        token = "EAAexpired"
    elif setup == "throughput":
        graph.throughput_left = 0
    else:
        pnid = "999999999"
    with pytest.raises(GraphFailure) as caught:
        await client.send(pnid, token, text_body({"to": "40733111222"}, "x"))
    assert (caught.value.code, caught.value.retryable, caught.value.stops_account) == (
        code,
        retryable,
        stops,
    )
    assert token not in str(caught.value)  # the token never reaches an error text


async def test_a_new_token_applies_to_the_next_call(
    graph: GraphStandIn, http: aiohttp.ClientSession
) -> None:
    client = GraphClient(http, graph.base_url)
    with pytest.raises(GraphFailure):
        await client.phone_number_info(PHONE_NUMBER_ID, "EAAnew")
    graph.tokens.add("EAAnew")  # the operator rotated the token: no client rebuilt
    info = await client.phone_number_info(PHONE_NUMBER_ID, "EAAnew")
    assert info["quality_rating"] == "GREEN"


async def test_unreachable_graph_is_retryable_and_a_lost_answer_is_ambiguous(
    graph: GraphStandIn, http: aiohttp.ClientSession
) -> None:
    client = GraphClient(http, "http://127.0.0.1:9/v24.0", timeout_seconds=2)
    with pytest.raises(GraphFailure) as caught:
        await client.send(PHONE_NUMBER_ID, TOKEN, text_body({"to": "40733111222"}, "x"))
    assert caught.value.code == "graph_unavailable" and caught.value.retryable
    assert not caught.value.ambiguous  # never connected: safe to send again
    graph.stall_seconds = 1.0
    slow = GraphClient(http, graph.base_url, timeout_seconds=0.2)
    with pytest.raises(GraphFailure) as timed_out:
        await slow.send(PHONE_NUMBER_ID, TOKEN, text_body({"to": "40733111222"}, "x"))
    # the request went out and the answer never came: Meta may have the message, the outbox
    # must not send it again (it reads `ambiguous`)
    assert timed_out.value.ambiguous
    assert is_ambiguous_send_error(timed_out.value)


async def test_media_download_checks_size_and_sha256(
    graph: GraphStandIn, http: aiohttp.ClientSession
) -> None:
    data = b"\x89PNG" + bytes(range(256)) * 300
    graph.media["1003383421387256"] = (data, "image/png")
    client = GraphClient(http, graph.base_url)
    info, got = await client.download_media("1003383421387256", TOKEN)
    assert got == data and info.mime_type == "image/png"
    assert info.sha256_hex == hashlib.sha256(data).hexdigest() and info.file_size == len(data)
    with pytest.raises(GraphFailure) as too_big:
        await client.download_media("1003383421387256", TOKEN, max_bytes=1000)
    assert too_big.value.code == "media_error"
    # the file served differs from what `GET /{media-id}` announced: refused, not stored
    graph.corrupt_media.add("1003383421387256")
    with pytest.raises(GraphFailure) as corrupt:
        await client.download_media("1003383421387256", TOKEN)
    assert corrupt.value.code == "graph_unavailable" and corrupt.value.retryable
    with pytest.raises(ValueError):
        await client.download_media("../etc", TOKEN)  # never a path in a Graph URL


def test_webhook_sha256_is_base64_of_the_hex_digest() -> None:
    digest = hashlib.sha256(b"x")
    assert sha256_b64_to_hex(base64.b64encode(digest.digest()).decode()) == digest.hexdigest()
    assert sha256_b64_to_hex("not base64!") is None


async def test_templates_follow_cursors_on_our_base_url(
    graph: GraphStandIn, http: aiohttp.ClientSession
) -> None:
    graph.templates = [
        {
            "name": f"t{i}",
            "language": "ro",
            "status": "APPROVED",
            "category": "UTILITY",
            "components": [{"type": "BODY", "text": "Bună {{1}}"}],
        }
        for i in range(7)
    ]
    client = GraphClient(http, graph.base_url)
    templates = await client.list_templates(WABA_ID, TOKEN, limit=3)
    assert [t.name for t in templates] == [f"t{i}" for i in range(7)]
    assert templates[0].components[0]["text"] == "Bună {{1}}"
    # three pages, each on the stand-in (paging.next points at graph.facebook.com)
    assert [p for m, p in graph.requests if p.endswith("message_templates")] == [
        f"/v24.0/{WABA_ID}/message_templates"
    ] * 3


async def test_read_receipt(graph: GraphStandIn, http: aiohttp.ClientSession) -> None:
    await GraphClient(http, graph.base_url).mark_read(PHONE_NUMBER_ID, TOKEN, "wamid.IN")
    assert graph.reads == ["wamid.IN"]
