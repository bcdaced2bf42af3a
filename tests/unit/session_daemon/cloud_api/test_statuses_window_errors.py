"""Statuses onto forward-only receipts, the 24-hour window, Graph error codes: pure rules."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest

from session_daemon.cloud_api.errors import classify
from session_daemon.cloud_api.identity import ClientRef
from session_daemon.cloud_api.model import CloudStatus, GraphErrorInfo, StatusName
from session_daemon.cloud_api.statuses import status_patch
from session_daemon.cloud_api.window import window_state
from shared.timeutil import from_ms

CLIENT = ClientRef("40733111222@s.whatsapp.net", None)


def st(name: StatusName, ts: int, code: int | None = None) -> CloudStatus:
    errors = (GraphErrorInfo(code, "Re-engagement message"),) if code else ()
    return CloudStatus("wamid.A", name, ts * 1000, "106540352242922", "1", CLIENT, errors)


def apply(doc: dict[str, Any], status: CloudStatus) -> dict[str, Any]:
    return {**doc, **status_patch(doc, status).patch}


@pytest.mark.parametrize("order", list(itertools.permutations(["sent", "delivered", "read"])))
def test_any_order_converges_to_read_with_each_step_time(order: tuple[StatusName, ...]) -> None:
    times = {"sent": 10, "delivered": 20, "read": 30}
    doc: dict[str, Any] = {"status": "sent", "direction": "outbound"}
    for name in order:
        doc = apply(doc, st(name, times[name]))
    assert doc["status"] == "read"
    assert doc["readAt"] == from_ms(30_000)
    # `read` first fills `deliveredAt` with its own time; a later `delivered` does not rewrite it
    delivered_first = order.index("delivered") < order.index("read")
    assert doc["deliveredAt"] == from_ms(20_000 if delivered_first else 30_000)


def test_read_may_skip_delivered_and_played_counts_as_read() -> None:
    doc = apply({"status": "sent"}, st("played", 40))
    assert doc["status"] == "read" and doc["deliveredAt"] == doc["readAt"] == doc["playedAt"]


def test_failed_before_delivery_is_the_message_fate() -> None:
    patch = status_patch({"status": "sent"}, st("failed", 50, 131047))
    assert patch.moved and patch.patch["status"] == "failed"
    assert patch.patch["lastError"] == "outside_service_window"
    assert patch.patch["deliveryError"]["metaCode"] == 131047
    # repeated: nothing more to write
    assert status_patch({**{"status": "sent"}, **patch.patch}, st("failed", 50, 131047)).patch == {}


def test_failed_after_delivered_is_an_error_not_a_step_back() -> None:
    doc = apply({"status": "sent"}, st("delivered", 20))
    patch = status_patch(doc, st("failed", 25, 131053))
    assert not patch.moved and "status" not in patch.patch
    assert patch.patch["deliveryError"]["code"] == "media_error"
    doc = {**doc, **patch.patch}
    assert doc["status"] == "delivered"


def test_delivered_after_failed_out_of_order_moves_forward_and_keeps_the_error() -> None:
    doc = apply({"status": "sent"}, st("failed", 25, 131026))
    doc = apply(doc, st("delivered", 20))
    assert doc["status"] == "delivered" and doc["deliveryError"]["metaCode"] == 131026


def test_window_is_24_hours_from_the_client_last_message() -> None:
    last = from_ms(1_764_760_000_000)
    assert window_state(last, last + timedelta(hours=23, minutes=59)).open
    closed = window_state(last, last + timedelta(hours=24))
    assert not closed.open and closed.allows("template") and not closed.allows("free_form")
    never = window_state(None, last)
    assert not never.open and never.closes_at is None


@pytest.mark.parametrize(
    ("code", "expected", "retry", "stops"),
    [
        (190, "token_expired", False, True),
        (131026, "recipient_not_on_whatsapp", False, False),
        (131047, "outside_service_window", False, False),
        (130429, "rate_limited", True, False),
        (80007, "rate_limited", True, False),
        (4, "rate_limited", True, False),
        (131056, "pair_rate_limited", True, False),
        (368, "number_blocked", False, True),
        (131048, "spam_limited", True, False),
        (131050, "marketing_refused", False, False),
        (131052, "media_error", False, False),
        (131062, "invalid_user_id", False, False),
        (132001, "template_error", False, False),
        (200, "permission_denied", False, True),
        (424242, "graph_error", False, False),
    ],
)
def test_meta_codes_map_to_stable_codes(code: int, expected: str, retry: bool, stops: bool) -> None:
    mapped = classify(code)
    assert (mapped.code, mapped.retryable, mapped.stops_account) == (expected, retry, stops)


def test_unknown_server_failures_are_retryable() -> None:
    assert classify(None, http_status=503).retryable
    assert classify(100, subcode=33).code == "not_found"
    assert not classify(None, http_status=400).retryable
