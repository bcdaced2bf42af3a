"""Inputs the proxy must refuse with 400 `invalid_request`, never 500 (CONTRACT section 2):
hostile JSON nesting and thread ids that are no document id."""

from __future__ import annotations

import pytest

from shared.outbox import SendRejected, validate_send_request
from shared.store.sqlite import SqliteStore
from tests.unit.functions.whatsapp_proxy import test_endpoints as test_proxy
from tests.unit.functions.whatsapp_proxy.test_endpoints import Daemon, Door, send_body

# The door's fixtures (a real SqliteStore, a loopback daemon, the super-admin list).
_daemon_server = test_proxy._daemon_server
daemon = test_proxy.daemon
store = test_proxy.store
admins = test_proxy.admins
door = test_proxy.door


@pytest.mark.parametrize("depth", [2_000, 100_000])
def test_deeply_nested_json_is_400_not_500(door: Door, daemon: Daemon, depth: int) -> None:
    raw = b"[" * depth + b"]" * depth  # within the body size limit; json.loads recurses
    for name, method in [
        ("whatsappProxySend", "POST"),
        ("whatsappProxyAddAccount", "POST"),
        ("whatsappProxyBackfillAccount", "POST"),
    ]:
        token = "admin-token" if name == "whatsappProxyAddAccount" else "staff-token"
        status, body = door(name, method, token=token, raw=raw)
        assert (status, body["error"]) == (400, "invalid_request"), name
    nested = b'{"accountId": ' + b'{"a": ' * depth + b"1" + b"}" * depth + b"}"
    status, body = door("whatsappProxyBackfillAccount", "POST", raw=nested)
    assert (status, body["error"]) == (400, "invalid_request")
    assert daemon.requests == []


@pytest.mark.parametrize("thread", [".", "..", "__reserved__", "__" + "x" * 20 + "__"])
def test_thread_id_that_is_no_document_id_is_400(
    door: Door, daemon: Daemon, store: SqliteStore, thread: str
) -> None:
    status, body = door("whatsappProxySend", "POST", body=send_body(threadId=thread))
    assert (status, body["error"]) == (400, "invalid_request")
    assert "internal" not in body["message"].lower()
    assert daemon.requests == []
    with pytest.raises(SendRejected) as info:
        validate_send_request(send_body(threadId=thread))
    assert info.value.code == "invalid_request"


def test_thread_id_over_firestore_byte_limit_is_400(door: Door) -> None:
    # 399 characters (under the character cap) but 1596 UTF-8 bytes: Firestore ids stop at 1500.
    status, body = door("whatsappProxySend", "POST", body=send_body(threadId="😀" * 399))
    assert (status, body["error"]) == (400, "invalid_request")
