"""The media download job on a real SqliteStore and a real local media folder: pending →
stored | failed with a reason, retries with backoff, the size cap, never a silent null, and a
finished `media` map that nothing turns back."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from session_daemon.media.fields import (
    DEFAULT_MAX_BYTES,
    REASON_TEXT,
    max_bytes_from_env,
    pending_fields,
)
from session_daemon.media.jobs import DownloadError, MediaDownloader, MediaJob, RetryPolicy
from session_daemon.media.local import LocalMediaStore
from shared.store.sqlite import SqliteStore

NOW = datetime(2026, 6, 14, 12, 0, tzinfo=UTC)
PATH = "threads/wa_1__40733111222@s.whatsapp.net/messages/3EB0AA"
DATA = b"\x89PNG" + b"x" * 5000


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    db = SqliteStore(tmp_path / "store.db")
    db.set(
        PATH,
        {
            "body": "",
            "messageType": "image",
            "media": pending_fields(
                "image",
                mimetype="image/png",
                filename=None,
                thumb_base64="dGh1bWI=",
                size_bytes=len(DATA),
                sha256=None,
            ),
        },
    )
    yield db
    db.close()


def _job(**overrides: Any) -> MediaJob:
    fields: dict[str, Any] = {
        "account_id": "wa_1",
        "message_path": PATH,
        "message_doc_id": "3EB0AA",
        "media_type": "image",
        "mimetype": "image/png",
        "declared_size": len(DATA),
        "sha256": hashlib.sha256(DATA).hexdigest(),
    }
    fields.update(overrides)
    return MediaJob(**fields)


class Harness:
    def __init__(self, store: SqliteStore, root: Path, max_bytes: int = DEFAULT_MAX_BYTES):
        self.sleeps: list[float] = []
        self.media = LocalMediaStore(root, b"k" * 32, "http://daemon")
        self.seen: list[dict[str, Any]] = []  # the media map after every write

        async def sleep(seconds: float) -> None:
            self.sleeps.append(seconds)
            snap = store.get(PATH)
            assert snap is not None
            self.seen.append(dict(snap.data["media"]))

        self.downloader = MediaDownloader(
            store,
            self.media,
            max_bytes=max_bytes,
            policy=RetryPolicy((1.0, 2.0, 4.0)),
            clock=lambda: NOW,
            sleep=sleep,
        )


def _media(store: SqliteStore) -> dict[str, Any]:
    snap = store.get(PATH)
    assert snap is not None
    media: dict[str, Any] = snap.data["media"]
    return media


async def test_a_downloaded_file_is_stored_and_its_url_filled_in(
    store: SqliteStore, tmp_path: Path
) -> None:
    h = Harness(store, tmp_path / "media")

    async def fetch() -> bytes:
        return DATA

    assert await h.downloader.run(_job(), fetch) == "stored"
    media = _media(store)
    assert media["status"] == "stored" and media["attempts"] == 1
    assert media["url"] == h.media.url_for("wa_1/3EB0AA.png")
    assert media["sha256"] == hashlib.sha256(DATA).hexdigest()
    assert media["sizeBytes"] == len(DATA) and media["reason"] is None
    assert media["thumbBase64"] == "dGh1bWI="  # the rest of the map is kept
    assert (tmp_path / "media" / "wa_1" / "3EB0AA.png").read_bytes() == DATA


async def test_transient_failures_retry_with_backoff_and_show_progress(
    store: SqliteStore, tmp_path: Path
) -> None:
    h = Harness(store, tmp_path / "media")
    calls = 0

    async def fetch() -> bytes:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionResetError("socket closed")  # the transport's own error
        if calls == 2:
            raise DownloadError("download_failed", permanent=False)
        return DATA

    assert await h.downloader.run(_job(), fetch) == "stored"
    assert h.sleeps == [1.0, 2.0]
    assert [(m["status"], m["attempts"], m["reason"]) for m in h.seen] == [
        ("pending", 1, "download_failed"),
        ("pending", 2, "download_failed"),
    ]
    assert h.seen[0]["nextAttemptAt"] == datetime(2026, 6, 14, 12, 0, 1, tzinfo=UTC)
    assert _media(store)["status"] == "stored" and _media(store)["attempts"] == 3


async def test_every_try_failing_ends_failed_with_the_reason(
    store: SqliteStore, tmp_path: Path
) -> None:
    h = Harness(store, tmp_path / "media")

    async def fetch() -> bytes:
        raise TimeoutError

    assert await h.downloader.run(_job(), fetch) == "failed"
    assert h.sleeps == [1.0, 2.0, 4.0]
    media = _media(store)
    assert (media["status"], media["reason"], media["attempts"]) == ("failed", "download_failed", 4)
    assert media["url"] is None and media["reasonText"] == REASON_TEXT["download_failed"]
    assert h.downloader.stats.failed == {"download_failed": 1}


async def test_expired_media_fails_at_once_and_says_why(store: SqliteStore, tmp_path: Path) -> None:
    h = Harness(store, tmp_path / "media")

    async def fetch() -> bytes:
        raise DownloadError("expired", permanent=True)

    assert await h.downloader.run(_job(), fetch) == "failed"
    assert h.sleeps == []
    media = _media(store)
    assert media["reason"] == "expired" and "neonize 0.5.2" in media["reasonText"]


async def test_size_cap_before_and_after_download(store: SqliteStore, tmp_path: Path) -> None:
    h = Harness(store, tmp_path / "media", max_bytes=1000)
    fetched = 0

    async def fetch() -> bytes:
        nonlocal fetched
        fetched += 1
        return DATA

    assert await h.downloader.run(_job(), fetch) == "failed"  # declared 5004 > 1000
    assert fetched == 0
    assert (_media(store)["reason"], _media(store)["attempts"]) == ("too_large", 0)
    assert _media(store)["sizeBytes"] == len(DATA)  # metadata kept, with the reason

    store.update(PATH, {"media.status": "pending"})
    assert await h.downloader.run(_job(declared_size=None), fetch) == "failed"
    assert fetched == 1 and _media(store)["reason"] == "too_large"
    assert not (tmp_path / "media" / "wa_1").exists()


async def test_corrupt_download_retries_then_fails(store: SqliteStore, tmp_path: Path) -> None:
    h = Harness(store, tmp_path / "media")

    async def fetch() -> bytes:
        return DATA + b"tampered"

    assert await h.downloader.run(_job(), fetch) == "failed"
    assert _media(store)["reason"] == "corrupt" and len(h.sleeps) == 3


async def test_unsupported_type_and_storage_failure(store: SqliteStore, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the media folder should be")
    h = Harness(store, blocker)

    async def fetch() -> bytes:
        return DATA

    assert await h.downloader.run(_job(media_type="location"), fetch) == "failed"
    assert _media(store)["reason"] == "unsupported_type"
    store.update(PATH, {"media.status": "pending"})
    assert await h.downloader.run(_job(), fetch) == "failed"
    assert _media(store)["reason"] == "storage_failed" and h.sleeps == [1.0, 2.0, 4.0]


async def test_a_finished_media_map_is_never_touched_again(
    store: SqliteStore, tmp_path: Path
) -> None:
    h = Harness(store, tmp_path / "media")

    async def good() -> bytes:
        return DATA

    async def bad() -> bytes:
        raise DownloadError("expired", permanent=True)

    assert await h.downloader.run(_job(), good) == "stored"
    before = _media(store)
    assert await h.downloader.run(_job(), bad) is None  # a replayed job after a restart
    assert _media(store) == before
    assert h.downloader.stats.skipped_final == 1


async def test_a_job_for_a_message_that_is_not_stored_writes_nothing(
    store: SqliteStore, tmp_path: Path
) -> None:
    h = Harness(store, tmp_path / "media")

    async def fetch() -> bytes:
        return DATA

    other = PATH.replace("3EB0AA", "3EB0ZZ")
    assert await h.downloader.run(_job(message_path=other), fetch) is None
    assert store.get(other) is None and h.downloader.stats.missing_message == 1


async def test_submit_runs_in_the_background(store: SqliteStore, tmp_path: Path) -> None:
    h = Harness(store, tmp_path / "media")

    async def fetch() -> bytes:
        return DATA

    task = h.downloader.submit(_job(), fetch)
    assert _media(store)["status"] == "pending"  # submit returned before any work
    assert await task == "stored"
    await h.downloader.close()


def test_max_bytes_setting() -> None:
    assert max_bytes_from_env({}) == 100 * 1024 * 1024
    assert max_bytes_from_env({"WHATSAPP_MEDIA_MAX_BYTES": "2048"}) == 2048
    for bad in ("-1", "0", "lots"):
        with pytest.raises(ValueError):
            max_bytes_from_env({"WHATSAPP_MEDIA_MAX_BYTES": bad})
