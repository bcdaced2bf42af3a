"""The daemon's media service: which store keeps files, the download jobs, the public route.

- On the embedded store (`sqlite://`): files under `{data}/media` (`WHATSAPP_MEDIA_DIR`),
  links signed with `WHATSAPP_MEDIA_SIGNING_KEY` (else a key generated into
  `{data}/media-key`), served by this daemon at `WHATSAPP_PUBLIC_URL` (default
  `http://{host}:{port}`: set it to the address the app reaches).
- On Firestore: Cloud Storage for Firebase, bucket `WHATSAPP_MEDIA_BUCKET` (default
  `{project}.firebasestorage.app`), download-token URLs.

`on_created` is the inbound pipeline's listener: for each new message with a file to fetch it
schedules a download job on the event loop and returns at once (never on the inbound path).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from session_daemon.http.routing import RouteSpec
from session_daemon.inbound.pipeline import CreatedMessage
from session_daemon.media.fields import max_bytes_from_env
from session_daemon.media.jobs import (
    DownloadError,
    Fetch,
    MediaDownloader,
    MediaJob,
    classify_download_error,
)
from session_daemon.media.local import LocalMediaStore, load_or_create_key
from session_daemon.media.port import MediaStore
from session_daemon.media.profile_pictures import PictureFetch, picture_due, refresh_picture
from session_daemon.media.routes import media_routes
from session_daemon.transport.port import TransportError
from shared.paths import doc_id, thread_path
from shared.store.factory import firestore_project
from shared.store.port import DocumentStore
from shared.timeutil import utc_now

__all__ = ["MediaService"]

log = logging.getLogger(__name__)

Downloader = Callable[[str, str], Any]  # (account id, handle) -> awaitable bytes
Pictures = Callable[[str, str], Any]  # (account id, chat JID) -> awaitable bytes | None


class MediaService:
    def __init__(
        self,
        store: DocumentStore,
        media: MediaStore,
        download: Downloader | None,
        *,
        max_bytes: int,
        routes: list[RouteSpec] | None = None,
        pictures: Pictures | None = None,
    ) -> None:
        self.media = media
        self.routes = routes or []
        self.downloader = MediaDownloader(store, media, max_bytes=max_bytes)
        self._store = store
        self._download = download
        self._pictures = pictures
        self._picture_jobs: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def from_settings(
        cls,
        store: DocumentStore,
        store_url: str,
        data_dir: Path,
        public_url: str,
        download: Downloader | None,
        environ: Mapping[str, str] | None = None,
        pictures: Pictures | None = None,
    ) -> MediaService:
        env = os.environ if environ is None else environ
        max_bytes = max_bytes_from_env(env)
        project = firestore_project(store_url)
        if project is not None:
            from session_daemon.media.cloud_storage import CloudStorageMediaStore

            bucket_name = env.get("WHATSAPP_MEDIA_BUCKET") or f"{project}.firebasestorage.app"

            def bucket() -> Any:
                import google.cloud.storage as storage

                return storage.Client(project=project).bucket(bucket_name)

            return cls(
                store,
                CloudStorageMediaStore(bucket),
                download,
                max_bytes=max_bytes,
                pictures=pictures,
            )
        key = load_or_create_key(data_dir / "media-key", env.get("WHATSAPP_MEDIA_SIGNING_KEY"))
        folder = Path(env.get("WHATSAPP_MEDIA_DIR") or data_dir / "media")
        local = LocalMediaStore(folder, key, env.get("WHATSAPP_PUBLIC_URL") or public_url)
        return cls(
            store,
            local,
            download,
            max_bytes=max_bytes,
            routes=media_routes(local),
            pictures=pictures,
        )

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.downloader.close()
        self._loop = None

    def _fetch(self, account_id: str, handle: str) -> Fetch:
        download = self._download

        async def fetch() -> bytes:
            if download is None:
                raise DownloadError(
                    "no_download_info", permanent=True, detail="this transport cannot download"
                )
            try:
                data = await download(account_id, handle)
            except TransportError as exc:  # whatsmeow's wording says whether it is final
                raise classify_download_error(str(exc)) from None
            return bytes(data)

        return fetch

    def _picture_fetch(self, account_id: str, jid: str) -> PictureFetch:
        pictures = self._pictures

        async def fetch() -> bytes | None:
            if pictures is None:
                return None
            data = await pictures(account_id, jid)
            return bytes(data) if data else None

        return fetch

    def _refresh_picture(self, item: CreatedMessage) -> None:
        """A picture for a thread that has none checked yet, or one checked over a day ago
        (at most one refresh per thread in flight)."""
        if self._pictures is None or item.thread_id in self._picture_jobs:
            return
        if not picture_due(item.thread, utc_now()):
            return
        client_jid = str(item.thread.get("clientJid") or "")
        if not client_jid:
            return
        self._picture_jobs.add(item.thread_id)

        async def run() -> None:
            try:
                await refresh_picture(
                    self._store,
                    self.media,
                    thread_path=thread_path(item.thread_id),
                    account_id=item.record.account_id,
                    client_jid=client_jid,
                    fetch=self._picture_fetch(item.record.account_id, client_jid),
                    now=utc_now(),
                )
            finally:
                self._picture_jobs.discard(item.thread_id)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def on_created(self, created: list[CreatedMessage]) -> None:
        """The pipeline's listener (flusher thread): schedule a job per file to fetch, and a
        profile picture for threads that need one."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        for item in created:
            if not item.replayed:
                loop.call_soon_threadsafe(self._refresh_picture, item)
            media = item.record.media
            handle = media.get("download") if media else None
            if not media or not handle or media.get("url"):
                continue
            job = MediaJob(
                account_id=item.record.account_id,
                message_path=item.path,
                message_doc_id=doc_id(item.path),
                media_type=str(media.get("type")),
                mimetype=media.get("mimetype"),
                declared_size=media.get("sizeBytes"),
                sha256=media.get("sha256"),
            )
            fetch = self._fetch(item.record.account_id, str(handle))
            loop.call_soon_threadsafe(self.downloader.submit, job, fetch)
