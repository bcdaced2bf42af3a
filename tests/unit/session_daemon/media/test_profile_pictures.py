"""Profile pictures kept in the local media store (real folder, real SqliteStore), refreshed at
most daily, cleared when the contact hides theirs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from session_daemon.media.local import LocalMediaStore
from session_daemon.media.profile_pictures import (
    picture_due,
    picture_object_name,
    refresh_picture,
)
from shared.store.sqlite import SqliteStore

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
JID = "40733111222@s.whatsapp.net"
THREAD = f"threads/wa_1__{JID}"


def test_due_when_never_checked_or_a_day_old() -> None:
    assert picture_due(None, NOW)
    assert picture_due({"profilePictureUrl": None}, NOW)
    checked = {"profilePictureCheckedAt": NOW - timedelta(hours=23)}
    assert not picture_due(checked, NOW)
    assert picture_due({"profilePictureCheckedAt": NOW - timedelta(days=1)}, NOW)
    name = picture_object_name("wa_1", JID)
    assert name.startswith("wa_1/pp-") and name.endswith(".jpg")
    assert (
        name == picture_object_name("wa_1", JID) != picture_object_name("wa_1", "4@s.whatsapp.net")
    )


async def test_stored_then_cleared_then_failures_change_nothing(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "store.db")
    store.set(THREAD, {"clientJid": JID, "profilePictureUrl": None})
    media = LocalMediaStore(tmp_path / "media", b"k" * 32, "http://daemon")

    async def picture() -> bytes | None:
        return b"\xff\xd8jpeg"

    url = await refresh_picture(
        store, media, thread_path=THREAD, account_id="wa_1", client_jid=JID, fetch=picture, now=NOW
    )
    assert url == media.url_for(picture_object_name("wa_1", JID))
    snap = store.get(THREAD)
    assert snap is not None
    assert snap.data["profilePictureUrl"] == url and snap.data["profilePictureCheckedAt"] == NOW

    async def broken() -> bytes | None:
        raise ConnectionError

    later = NOW + timedelta(days=2)
    assert (
        await refresh_picture(
            store,
            media,
            thread_path=THREAD,
            account_id="wa_1",
            client_jid=JID,
            fetch=broken,
            now=later,
        )
        is None
    )
    snap = store.get(THREAD)
    assert snap is not None and snap.data["profilePictureUrl"] == url  # unchanged

    async def hidden() -> bytes | None:
        return None

    await refresh_picture(
        store, media, thread_path=THREAD, account_id="wa_1", client_jid=JID, fetch=hidden, now=later
    )
    snap = store.get(THREAD)
    assert snap is not None
    assert snap.data["profilePictureUrl"] is None and snap.data["profilePictureCheckedAt"] == later
    store.close()
