"""Who is pushed to: the `whatsappProxyGetAccountsStaff` rule over `users/{uid}` tokens (pure,
then read from a real SqliteStore), and the dead-token removal transaction."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from session_daemon.push.audience import StoreAudience
from session_daemon.push.recipients import Recipient, select_recipients
from session_daemon.push.tokens import drop_dead_token
from shared.store.sqlite import SqliteStore

USERS: dict[str, dict[str, Any]] = {
    "staff1": {"fcmToken": "tok-staff1", "notificationsEnabled": True},
    "staff2": {"fcmToken": "tok-staff2", "notificationsEnabled": False},  # turned off
    "staff3": {"notificationsEnabled": True},  # no token
    "admin": {"fcmToken": "tok-admin", "notificationsEnabled": True},  # no staff profile
    "client": {"fcmToken": "tok-client", "notificationsEnabled": True},  # not an employee
    "staff4": {"fcmToken": "tok-staff1", "notificationsEnabled": True},  # same phone as staff1
    "staff5": {"fcmToken": "tok-staff5", "notificationsEnabled": "yes"},  # not the boolean
}
STAFF = {"staff1", "staff2", "staff3", "staff4", "staff5"}


def test_employees_who_may_see_the_account_one_push_per_device() -> None:
    got = select_recipients(
        "wa_open",
        users=USERS,
        staff_uids=STAFF,
        super_admin_uids={"admin"},
        admin_only_account_ids={"wa_secret"},
    )
    assert got == [Recipient("admin", "tok-admin"), Recipient("staff1", "tok-staff1")]


def test_admin_only_accounts_never_notify_staff() -> None:
    got = select_recipients(
        "wa_secret",
        users=USERS,
        staff_uids=STAFF,
        super_admin_uids={"admin"},
        admin_only_account_ids={"wa_secret"},
    )
    assert got == [Recipient("admin", "tok-admin")]
    nobody = select_recipients(
        "wa_secret",
        users=USERS,
        staff_uids=STAFF,
        super_admin_uids=(),
        admin_only_account_ids={"wa_secret"},
    )
    assert nobody == []


class Directory:
    """The admin directory port answered from a fixed set (Firebase Auth in production)."""

    def __init__(self, admins: set[str]) -> None:
        self.admins = admins
        self.asked: list[list[str]] = []

    def super_admins(self, uids: Iterable[str]) -> frozenset[str]:
        wanted = sorted(uids)
        self.asked.append(wanted)
        return frozenset(u for u in wanted if u in self.admins)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    db = SqliteStore(tmp_path / "store.db")
    for uid, data in USERS.items():
        db.set(f"users/{uid}", dict(data))
    for uid in STAFF:
        db.set(f"staffProfiles/{uid}", {"role": "staff"})
    db.set("config/whatsapp_inbox", {"adminOnlyAccountIds": ["wa_secret"]})
    yield db
    db.close()


def test_store_audience_reads_once_per_ttl(store: SqliteStore) -> None:
    now = [100.0]
    directory = Directory({"admin"})
    audience = StoreAudience(store, directory, ttl_seconds=30, monotonic=lambda: now[0])
    assert audience("wa_open") == [
        Recipient("admin", "tok-admin"),
        Recipient("staff1", "tok-staff1"),
    ]
    assert audience("wa_secret") == [Recipient("admin", "tok-admin")]
    assert directory.asked == [["admin", "client", "staff1", "staff3", "staff4"]]
    store.update("users/staff1", {"notificationsEnabled": False})
    assert Recipient("staff1", "tok-staff1") in audience("wa_open")  # cached
    now[0] += 30
    assert audience("wa_open") == [
        Recipient("admin", "tok-admin"),
        Recipient("staff4", "tok-staff1"),
    ]


def test_without_a_directory_admin_only_accounts_notify_nobody(store: SqliteStore) -> None:
    audience = StoreAudience(store, None)
    assert audience("wa_secret") == []
    assert audience("wa_open") == [Recipient("staff1", "tok-staff1")]


def test_a_dead_token_is_removed_only_while_the_user_still_holds_it(store: SqliteStore) -> None:
    assert drop_dead_token(store, "staff1", "tok-staff1") is True
    snap = store.get("users/staff1")
    assert snap is not None
    assert "fcmToken" not in snap.data and snap.data["notificationsEnabled"] is True
    # the user signed in on a new phone meanwhile: the fresh token stays
    store.update("users/admin", {"fcmToken": "tok-admin-new-phone"})
    assert drop_dead_token(store, "admin", "tok-admin") is False
    snap = store.get("users/admin")
    assert snap is not None and snap.data["fcmToken"] == "tok-admin-new-phone"
    assert drop_dead_token(store, "nobody", "tok") is False
    assert store.get("users/nobody") is None  # never creates the app's user documents
    with pytest.raises(ValueError):
        drop_dead_token(store, "a/b", "tok")
