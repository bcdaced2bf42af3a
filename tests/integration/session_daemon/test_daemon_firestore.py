"""The daemon process on the Firestore emulator: the same flow runs on the production store."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from shared.store.firestore import FirestoreStore
from shared.store.port import query
from tests.conftest import unique_project_id
from tests.integration.session_daemon.test_daemon import add_and_pair, drain, jid, ok, send
from tests.support.daemon import DaemonProcess


def test_daemon_on_firestore_emulator(
    daemon_factory: Callable[..., DaemonProcess],
    firestore_emulator: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = unique_project_id("daemon")
    d = daemon_factory(
        store_url=f"firestore://{project}", env={"FIRESTORE_EMULATOR_HOST": firestore_emulator}
    )
    assert ok(d.get("/health", token=None))["store_reachable"] is True
    a = add_and_pair(d, "A", "0722000001")
    ids = [send(d, a, "+40711000001", f"hello {n}") for n in range(3)]
    drain(d)
    threads = ok(d.get(f"/api/whatsapp/threads/{a}"))
    assert threads["count"] == 1 and threads["threads"][0]["clientJid"] == jid("+40711000001")
    d.restart()
    d.wait_for(lambda: d.account_status(a) == "connected", what="resumed on Firestore")
    again = ok(d.post("/api/whatsapp/add-account", {"name": "A", "phone": "+40722000001"}))
    assert again["accountId"] == a and again["created"] is False

    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator)
    store = FirestoreStore(project)
    try:
        stored = store.query(query(f"threads/{a}__{jid('+40711000001')}/messages"))
        assert sorted(s.id for s in stored) == sorted(ids)
    finally:
        store.close()
