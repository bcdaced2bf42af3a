"""Inbound media of a Cloud API message: downloaded at once, retried with backoff until Meta's
media id expires (7 days after the webhook), then handed to the media store.

`GET /{media-id}` gives a URL that lives about five minutes, so each attempt asks for a fresh
one. A failure the Graph API calls permanent (the id no longer exists, a media error, a token
refused) ends the retries; anything else is tried again on `retry_delays`. Where the bytes go is
the caller's `save` (the media port), so this module only knows the Graph API side.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from session_daemon.cloud_api.errors import GraphFailure
from session_daemon.cloud_api.graph import GraphClient, MediaInfo
from shared.timeutil import ensure_utc, utc_now

__all__ = ["MEDIA_ID_LIFETIME", "FetchOutcome", "fetch_media", "retry_delays"]

MEDIA_ID_LIFETIME: Final = timedelta(days=7)
_FIRST: Final = 2.0
_CAP: Final = 3600.0

Save = Callable[[MediaInfo, bytes], Awaitable[str]]  # → the stored file's URL
TokenFor = Callable[[], Awaitable[str]]  # the account's current token (rotations apply)


def retry_delays(received_at: datetime, now: datetime) -> Iterator[float]:
    """Seconds to wait before each retry: 2 s doubling up to an hour, while the id lives."""
    deadline = ensure_utc(received_at) + MEDIA_ID_LIFETIME
    at = ensure_utc(now)
    delay = _FIRST
    while at + timedelta(seconds=delay) < deadline:
        yield delay
        at += timedelta(seconds=delay)
        delay = min(delay * 2, _CAP)


@dataclass(frozen=True)
class FetchOutcome:
    url: str | None  # the stored file, or None when it could not be had
    attempts: int
    error: str | None = None  # the stable code of the last failure


async def fetch_media(
    graph: GraphClient,
    media_id: str,
    token_for: TokenFor,
    save: Save,
    *,
    received_at: datetime,
    clock: Callable[[], datetime] = utc_now,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> FetchOutcome:
    attempts = 0
    delays = retry_delays(received_at, clock())
    while True:
        attempts += 1
        try:
            info, data = await graph.download_media(media_id, await token_for())
            return FetchOutcome(await save(info, data), attempts)
        except GraphFailure as exc:
            if not exc.retryable:
                return FetchOutcome(None, attempts, exc.code)
            error = exc.code
        delay = next(delays, None)
        if delay is None:
            return FetchOutcome(None, attempts, error or "media_expired")
        await sleep(delay)
