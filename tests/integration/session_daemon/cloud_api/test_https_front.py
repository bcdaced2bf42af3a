"""The documented HTTPS exposure (docs/daemon-exposure.md): nginx terminates TLS in front of the
daemon and passes `/webhooks/whatsapp-cloud/` through. Meta's deliveries (here the stand-in's,
trusting the test's self-signed certificate) reach the daemon byte for byte, so the signature
still verifies; a forged one is still 401 behind the proxy (one client address for everyone)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import missing_tool
from tests.integration.session_daemon.cloud_api.test_cloud_daemon import (
    ACCOUNT,
    ADD,
    CLIENT,
    HOOK,
    THREAD,
    VERIFY,
    messages,
)
from tests.support.daemon import DaemonProcess
from tests.support.graph_standin import change, contact, dumps, entry, envelope, text_message
from tests.support.graph_thread import RunningStandIn
from tests.support.tls_front import TlsFront, nginx_binary, tls_front

TEXT = "prin https, cu diacritice: ăîșț"


@pytest.fixture
def front_and_daemon(
    daemon_factory: Callable[..., DaemonProcess], graph_thread: RunningStandIn, tmp_path: Path
) -> Iterator[tuple[TlsFront, DaemonProcess]]:
    nginx = nginx_binary()
    if nginx is None:
        missing_tool("nginx is not installed")
        raise AssertionError("unreachable")
    d = daemon_factory(env={"WHATSAPP_GRAPH_BASE_URL": graph_thread.standin.base_url})
    for front in tls_front(tmp_path / "nginx", d.port, nginx):
        yield front, d


def test_signed_webhooks_pass_through_the_tls_front(
    front_and_daemon: tuple[TlsFront, DaemonProcess], graph_thread: RunningStandIn
) -> None:
    front, d = front_and_daemon
    standin = graph_thread.standin
    assert d.post("/api/whatsapp/cloud-accounts", ADD).status == 200
    standin.webhook_url = f"{front.url}{HOOK}"
    trust = standin.webhook_ssl = front.ssl_context()

    async def handshake() -> tuple[int, str]:
        import aiohttp

        params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "8842"}
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{front.url}{HOOK}", params=params, ssl=trust) as resp,
        ):
            return resp.status, await resp.text()

    assert graph_thread.call(handshake()) == (200, "8842")
    now = int(time.time())
    body = dumps(
        envelope(
            entry(
                change(
                    contacts=[contact(CLIENT, "Ana")],
                    messages=[
                        text_message(
                            "wamid.TLS1", "prin https, cu diacritice: ăîșț", now, sender=CLIENT
                        )
                    ],
                )
            )
        )
    )
    assert graph_thread.call(standin.deliver(body)) == 200
    assert graph_thread.call(standin.redeliver_last()) == 200
    for _ in range(10):  # behind the proxy every caller has one address: never locked out
        assert graph_thread.call(standin.deliver(body, signature="sha256=" + "1" * 64)) == 401
    assert graph_thread.call(standin.deliver(body)) == 200
    stored = d.wait_for(lambda: messages(d, THREAD) or None, what="the message behind TLS")
    assert [m["body"] for m in stored.values()] == [TEXT]
    # a large batch (history-sized: ~1.5 MB, far past the API's JSON limit) arrives in many
    # chunks through the proxy and is still verified over every byte
    many = [
        text_message(f"wamid.BIG{i}", f"{i} " + "ă" * 2000, now + i, sender=CLIENT)
        for i in range(120)
    ]
    big = dumps(envelope(entry(change(contacts=[contact(CLIENT, "Ana")], messages=many))))
    assert len(big) > 1_000_000
    assert graph_thread.call(standin.deliver(big)) == 200
    d.wait_for(lambda: len(messages(d, THREAD)) == 121, what="the large batch stored")
    assert ACCOUNT in THREAD
