"""The media download job: pending → stored | failed with a reason, retried with backoff.

The message document exists before the job starts (`media.status: pending`, with the
thumbnail), so the app shows the message at once; this job fills in `media.url`, or ends in
`failed` with a stable reason. Each failed try is written too (`attempts`, `reason`,
`nextAttemptAt`), so a file that is still being retried is visibly so, never a silent null.

Why some failures are final at once: a file over `WHATSAPP_MEDIA_MAX_BYTES` or of a kind we do
not store will not change by trying again, and media WhatsApp's servers no longer hold
("expired") cannot be fetched again with neonize 0.5.2, which has no call to ask the phone for
a re-upload (the media retry receipt whatsmeow supports).

Writes go through a store transaction that leaves a finished `media` map alone: a job replayed
after a restart, or racing another daemon, never turns `stored` back into `pending`/`failed`.
The job never runs on the inbound path: `submit` starts a task and returns.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from session_daemon.media.fields import (
    FailureReason,
    MediaStatus,
    StoredFields,
    failed_patch,
    is_final,
    precheck,
    progress_patch,
    stored_patch,
)
from session_daemon.media.port import MediaStore, MediaStoreError, object_name
from shared.store.port import DocumentStore, Transaction
from shared.timeutil import utc_now

__all__ = [
    "DownloadError",
    "Fetch",
    "MediaDownloader",
    "MediaJob",
    "RetryPolicy",
    "classify_download_error",
]

log = logging.getLogger(__name__)

Fetch = Callable[[], Awaitable[bytes]]
"""Downloads (and decrypts) the file of one message: the transport's `download_any`."""


class DownloadError(Exception):
    """A try failed for `reason`; `permanent` when trying again cannot help."""

    def __init__(self, reason: FailureReason, *, permanent: bool, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason: FailureReason = reason
        self.permanent = permanent


# whatsmeow's download errors, as neonize (and the simulator) report them: see
# session_daemon/transport/neonize_media.py for what each means.
_EXPIRED: Final = re.compile(r"status code (404|410)\b")
_NOTHING: Final = (
    "didn't find any attachments",
    "no url present",
    "unknown media type",
    "does not start with slash",
)
_CORRUPT: Final = ("invalid media hmac", "doesn't match", "file too short")


def classify_download_error(text: str) -> DownloadError:
    """The job's reason for a transport's download error text (whatsmeow's wording)."""
    lowered = text.lower()
    if _EXPIRED.search(lowered):
        return DownloadError("expired", permanent=True, detail=text)
    if any(marker in lowered for marker in _NOTHING):
        return DownloadError("no_download_info", permanent=True, detail=text)
    if any(marker in lowered for marker in _CORRUPT):
        return DownloadError("corrupt", permanent=False, detail=text)
    return DownloadError("download_failed", permanent=False, detail=text)


@dataclass(frozen=True)
class MediaJob:
    account_id: str
    message_path: str  # the message document to patch
    message_doc_id: str
    media_type: str
    mimetype: str | None
    declared_size: int | None = None  # `fileLength` from the message
    sha256: str | None = None  # hex SHA-256 of the decrypted file, when the message says it


@dataclass(frozen=True)
class RetryPolicy:
    """`delays[i]` seconds wait after the (i+1)-th failed try; then the job fails."""

    delays: tuple[float, ...] = (5.0, 30.0, 120.0, 600.0)

    def delay_after(self, attempt: int) -> float | None:
        return self.delays[attempt - 1] if 0 < attempt <= len(self.delays) else None


@dataclass
class DownloaderStats:
    stored: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    running: int = 0
    skipped_final: int = 0
    missing_message: int = 0


class MediaDownloader:
    def __init__(
        self,
        store: DocumentStore,
        media: MediaStore,
        *,
        max_bytes: int,
        policy: RetryPolicy | None = None,
        concurrency: int = 2,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self._store = store
        self._media = media
        self._max_bytes = max_bytes
        self._policy = policy or RetryPolicy()
        # Few at a time: downloads compete with sends for the same 2-core machine and link.
        self._slots = asyncio.Semaphore(concurrency)
        self._clock = clock
        self._sleep = sleep
        self._tasks: set[asyncio.Task[MediaStatus | None]] = set()
        self.stats = DownloaderStats()

    def submit(self, job: MediaJob, fetch: Fetch) -> asyncio.Task[MediaStatus | None]:
        """Start the job in the background (call on the daemon's event loop)."""
        task = asyncio.get_running_loop().create_task(self.run(job, fetch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self) -> None:
        """Stop every running job; a stopped job's document stays `pending` with its tries."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def run(self, job: MediaJob, fetch: Fetch) -> MediaStatus | None:
        """The whole job; returns the final status (None when the document was missing or
        already final, so nothing was written)."""
        self.stats.running += 1
        try:
            async with self._slots:
                return await self._run(job, fetch)
        finally:
            self.stats.running -= 1

    async def _run(self, job: MediaJob, fetch: Fetch) -> MediaStatus | None:
        early = precheck(job.media_type, job.declared_size, self._max_bytes)
        if early is not None:
            return await self._fail(job, early, 0)
        attempt = 0
        while True:
            attempt += 1
            try:
                data = await fetch()
                stored = await asyncio.to_thread(self._keep, job, data)
            except DownloadError as exc:
                reason, permanent = exc.reason, exc.permanent
            except MediaStoreError as exc:
                log.warning("media store failed for %s: %s", job.message_doc_id, exc)
                reason, permanent = "storage_failed", False
            except Exception as exc:  # the transport's own error types stay behind the port
                log.warning(
                    "media download of %s failed: %s", job.message_doc_id, type(exc).__name__
                )
                reason, permanent = "download_failed", False
            else:
                written = await self._write(job, stored_patch(stored, attempt, self._clock()))
                if written:
                    self.stats.stored += 1
                return "stored" if written else None
            delay = self._policy.delay_after(attempt)
            if permanent or delay is None:
                return await self._fail(job, reason, attempt)
            self.stats.retries += 1
            retry_at = self._clock() + timedelta(seconds=delay)
            if not await self._write(job, progress_patch(attempt, reason, retry_at)):
                return None
            await self._sleep(delay)

    def _keep(self, job: MediaJob, data: bytes) -> StoredFields:
        """Check the bytes and store them (blocking: runs in a worker thread)."""
        if len(data) > self._max_bytes:
            raise DownloadError("too_large", permanent=True)
        if not data:
            raise DownloadError("corrupt", permanent=False, detail="empty download")
        digest = hashlib.sha256(data).hexdigest()
        if job.sha256 and digest != job.sha256.lower():
            raise DownloadError("corrupt", permanent=False)
        mimetype = job.mimetype or "application/octet-stream"
        name = object_name(job.account_id, job.message_doc_id, mimetype)
        kept = self._media.put(name, data, mimetype)
        return StoredFields(kept.url, kept.size_bytes, digest, mimetype, kept.object_name)

    async def _fail(
        self, job: MediaJob, reason: FailureReason, attempts: int
    ) -> MediaStatus | None:
        written = await self._write(job, failed_patch(reason, attempts, self._clock()))
        if written:
            self.stats.failed[reason] = self.stats.failed.get(reason, 0) + 1
        return "failed" if written else None

    async def _write(self, job: MediaJob, patch: dict[str, Any]) -> bool:
        """Apply `patch` unless the document is gone or its media is already final."""

        def apply(tx: Transaction) -> str:
            snap = tx.get(job.message_path)
            if snap is None:
                return "missing"
            media = snap.data.get("media")
            if is_final(media if isinstance(media, dict) else None):
                return "final"
            tx.update(job.message_path, patch)
            return "written"

        outcome = await asyncio.to_thread(self._store.transaction, apply)
        if outcome == "missing":
            self.stats.missing_message += 1
            log.warning("media job for a message that is not stored: %s", job.message_doc_id)
        elif outcome == "final":
            self.stats.skipped_final += 1
        return outcome == "written"
