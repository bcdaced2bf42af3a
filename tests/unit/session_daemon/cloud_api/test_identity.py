"""Clients with a phone, a business-scoped user id (BSUID), or both: addresses and the merge."""

from __future__ import annotations

import pytest

from session_daemon.cloud_api.identity import (
    ClientRef,
    bsuid_jid,
    bsuid_of_jid,
    client_thread_id,
    is_bsuid,
    merge_plan,
    phone_jid_of_wa_id,
)
from shared.ids import parse_thread_id, thread_id

BSUID = "RO.13491208655302741918"


def test_bsuid_shapes() -> None:
    assert is_bsuid(BSUID) and is_bsuid("US.ENT.11815799212886844830") and is_bsuid("BR.a1B2")
    for bad in ("13491208655302741918", "ro.123", "RO.", "RO.12/34", "RO.1__2", "RO.1 2", None):
        assert not is_bsuid(bad), bad
    assert bsuid_of_jid(bsuid_jid(BSUID)) == BSUID
    assert bsuid_of_jid("40733111222@s.whatsapp.net") is None
    with pytest.raises(ValueError):
        bsuid_jid("RO/../x")


def test_phone_wins_and_the_thread_is_the_linked_device_thread() -> None:
    both = ClientRef(pn_jid=phone_jid_of_wa_id("40733111222"), bsuid=BSUID)
    assert both.client_jid == "40733111222@s.whatsapp.net"
    # same id a linked-device account gives this client: moving the number keeps the thread
    assert client_thread_id("wa_40722000009", both.client_jid) == thread_id(
        "wa_40722000009", "40733111222@s.whatsapp.net"
    )
    assert both.send_target() == {"to": "40733111222"}


def test_a_user_without_phone_gets_a_one_segment_bsuid_thread() -> None:
    user = ClientRef(pn_jid=None, bsuid=BSUID, username="@ana")
    assert user.client_jid == f"{BSUID}@bsuid"
    tid = client_thread_id("wa_40722000009", user.client_jid)
    assert tid == f"wa_40722000009__{BSUID}@bsuid"
    assert "/" not in tid and tid.rpartition("__")[0] == "wa_40722000009"
    assert user.send_target() == {"recipient": BSUID}
    with pytest.raises(ValueError):
        client_thread_id("a/b", user.client_jid)
    with pytest.raises(ValueError):
        ClientRef(None, None).client_jid  # noqa: B018


def test_phone_ids_are_meta_digits_only() -> None:
    assert phone_jid_of_wa_id("40733111222") == "40733111222@s.whatsapp.net"
    for bad in ("+40733111222", "0733111222", "40733", "abc", None, 40733111222):
        assert phone_jid_of_wa_id(bad) is None, bad


def test_merge_makes_the_bsuid_thread_an_alias_of_the_phone_thread() -> None:
    plan = merge_plan("wa_40722000009", BSUID, "40733111222@s.whatsapp.net")
    assert plan.alias_thread_id == f"wa_40722000009__{BSUID}@bsuid"
    assert plan.canonical_thread_id == "wa_40722000009__40733111222@s.whatsapp.net"
    assert parse_thread_id(plan.canonical_thread_id)[1] == plan.canonical_client_jid
    assert plan.alias_patch["redirectTo"] == plan.canonical_thread_id
    assert plan.alias_patch["canonicalThreadId"] == plan.canonical_thread_id
    assert plan.alias_patch["hidden"] is True
