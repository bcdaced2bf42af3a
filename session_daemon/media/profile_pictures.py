"""Thread profile pictures, stored like media so `profilePictureUrl` never expires in the app.

WhatsApp's own picture URLs (what `get_profile_picture` returns) expire within days, so the
bytes are kept in the media store and the thread gets the store's no-header URL. A picture is
fetched when a thread is created and refreshed at most once a day (`profilePictureCheckedAt`);
a contact who hides or removes their picture gets `profilePictureUrl: null` on the next check.
A failed fetch changes nothing and is tried again at the next chance.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from session_daemon.media.port import MediaStore, object_name
from shared.store.port import DocumentStore
from shared.timeutil import ensure_utc

__all__ = ["REFRESH_EVERY", "picture_due", "picture_object_name", "refresh_picture"]

log = logging.getLogger(__name__)

REFRESH_EVERY: Final = timedelta(days=1)

PictureFetch = Callable[[], Awaitable[bytes | None]]
"""The picture's JPEG bytes, or None when the contact or group has none (or hides it)."""


def picture_due(thread: Mapping[str, Any] | None, now: datetime) -> bool:
    checked = (thread or {}).get("profilePictureCheckedAt")
    if not isinstance(checked, datetime):
        return True
    return ensure_utc(now) - ensure_utc(checked) >= REFRESH_EVERY


def picture_object_name(account_id: str, client_jid: str) -> str:
    """One object per thread: a new picture replaces the old one under the same name."""
    digest = hashlib.sha256(client_jid.encode("utf-8")).hexdigest()[:40]
    return object_name(account_id, f"pp-{digest}", "image/jpeg")


async def refresh_picture(
    store: DocumentStore,
    media: MediaStore,
    *,
    thread_path: str,
    account_id: str,
    client_jid: str,
    fetch: PictureFetch,
    now: datetime,
) -> str | None:
    """Fetch, store and point the thread at the picture; returns the URL (None: no picture,
    or the fetch failed and the thread was left as it was)."""
    try:
        data = await fetch()
    except Exception as exc:  # the transport's errors: try again next time
        log.info("profile picture not fetched for a thread: %s", type(exc).__name__)
        return None
    url: str | None = None
    if data:
        name = picture_object_name(account_id, client_jid)
        try:
            url = (await asyncio.to_thread(media.put, name, data, "image/jpeg")).url
        except Exception as exc:
            log.warning("profile picture not stored: %s", type(exc).__name__)
            return None
    await asyncio.to_thread(
        store.update,
        thread_path,
        {"profilePictureUrl": url, "profilePictureCheckedAt": ensure_utc(now)},
    )
    return url
