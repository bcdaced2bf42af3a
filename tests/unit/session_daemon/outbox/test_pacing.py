"""Pacing and settings (pure), and receipt convergence as a property over the real store."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from session_daemon.outbox import items
from session_daemon.outbox.config import OutboxConfig, OutboxConfigError, outbox_config_from_env
from session_daemon.outbox.pacing import AccountPacer
from session_daemon.receipts import apply_receipts
from session_daemon.transport.port import ReceiptReceived, SendResult
from shared.ids import thread_id
from shared.outbox import enqueue_send, status_rank
from shared.store.sqlite import SqliteStore


def test_gap_with_jitter_between_sends() -> None:
    pacer = AccountPacer(OutboxConfig(pace_min_gap_s=1.5, pace_jitter_s=2.0), rand=lambda: 0.5)
    assert pacer.wait_for_gap(100.0) == 0.0
    pacer.record_send("a@s.whatsapp.net", 100.0)
    assert pacer.wait_for_gap(100.0) == pytest.approx(2.5)  # 1.5 + 0.5 * 2.0
    assert pacer.wait_for_gap(101.0) == pytest.approx(1.5)
    assert pacer.wait_for_gap(103.0) == 0.0


def test_recipient_cap_is_a_sliding_window() -> None:
    config = OutboxConfig.unpaced(recipient_max=2, recipient_window_s=10.0)
    pacer = AccountPacer(config)
    pacer.record_send("a", 0.0)
    pacer.record_send("a", 1.0)
    assert pacer.recipient_wait("a", 2.0) == pytest.approx(8.0)
    assert pacer.recipient_wait("b", 2.0) == 0.0  # other recipients are not capped
    assert pacer.recipient_wait("a", 10.0) == 0.0  # the first send left the window
    assert OutboxConfig.unpaced().recipient_max == 0


def test_typing_time_follows_text_length() -> None:
    pacer = AccountPacer(OutboxConfig(typing=True, typing_ms_per_char=40, typing_max_s=4))
    assert pacer.typing_seconds("hi") == 0.5
    assert pacer.typing_seconds("x" * 50) == pytest.approx(2.0)
    assert pacer.typing_seconds("x" * 1000) == 4.0
    assert AccountPacer(OutboxConfig()).typing_seconds("hello") == 0.0


def test_settings_from_environment() -> None:
    config = outbox_config_from_env(
        {"WHATSAPP_OUTBOX_MAX_ATTEMPTS": "3", "WHATSAPP_OUTBOX_TYPING": "yes",
         "WHATSAPP_OUTBOX_PACE_MIN_GAP_SECONDS": "0.25", "WHATSAPP_OUTBOX_RECIPIENT_MAX": ""}
    )  # fmt: skip
    assert (config.max_attempts, config.typing, config.pace_min_gap_s) == (3, True, 0.25)
    assert config.recipient_max == OutboxConfig().recipient_max
    with pytest.raises(OutboxConfigError, match="MAX_ATTEMPTS"):
        outbox_config_from_env({"WHATSAPP_OUTBOX_MAX_ATTEMPTS": "many"})
    with pytest.raises(OutboxConfigError):
        outbox_config_from_env({"WHATSAPP_OUTBOX_MAX_ATTEMPTS": "0"})
    with pytest.raises(OutboxConfigError):
        outbox_config_from_env({"WHATSAPP_OUTBOX_PACE_JITTER_SECONDS": "-1"})


_counter = itertools.count()
STATUSES = st.lists(st.sampled_from(["delivered", "read", "played"]), min_size=1, max_size=6)


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory: pytest.TempPathFactory) -> SqliteStore:
    path: Path = tmp_path_factory.mktemp("receipts") / "store.db"
    return SqliteStore(path)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(order=STATUSES, early=st.integers(min_value=0, max_value=6))
def test_receipts_converge_to_the_highest_status(
    shared_store: SqliteStore, order: list[str], early: int
) -> None:
    """Any receipts, in any order, duplicated, some before the send is even recorded: the
    message ends at the highest status received, never lower."""
    n = next(_counter)
    account, client = "acc", f"40722{n:06d}@s.whatsapp.net"
    tid = thread_id(account, client)
    shared_store.create(f"threads/{tid}", {"accountId": account, "clientJid": client})
    at = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
    rid = enqueue_send(
        shared_store, thread_id=tid, account_id=account, to_jid=client, text="t", uid="u",
        client_message_id="c", now=at,
    ).request_id  # fmt: skip
    wa_id = f"WA{n}"
    receipts = [ReceiptReceived(account, (wa_id,), client, s, at) for s in order]  # type: ignore[arg-type]
    for receipt in receipts[:early]:
        apply_receipts(shared_store, receipt)
    claimed = items.claim(
        shared_store, rid, instance_id="w", now=at, lease_s=30, max_attempts=3,
        verdict=items.ACCOUNT_OK, backoff_s=1,
    )  # fmt: skip
    assert isinstance(claimed, items.Claimed)
    items.record_sent(shared_store, rid, claimed.attempt_id, SendResult(wa_id, at), now=at)
    for receipt in receipts[early:]:
        apply_receipts(shared_store, receipt)
    snap = shared_store.get(f"threads/{tid}/messages/{rid}")
    assert snap is not None
    best = max(order, key=status_rank)
    assert snap.data["status"] == ("read" if best == "played" else best)
