"""Inbound media: downloaded through the Graph API stand-in, retried while the id lives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp

from session_daemon.cloud_api.graph import GraphClient, MediaInfo
from session_daemon.cloud_api.media_fetch import MEDIA_ID_LIFETIME, fetch_media, retry_delays
from tests.support.graph_standin import TOKEN, GraphStandIn

T0 = datetime(2026, 12, 4, 12, tzinfo=UTC)


def test_delays_double_to_an_hour_and_stop_when_the_id_expires() -> None:
    delays = list(retry_delays(T0, T0))
    assert delays[:4] == [2.0, 4.0, 8.0, 16.0] and max(delays) == 3600.0
    assert sum(delays) < MEDIA_ID_LIFETIME.total_seconds()
    assert sum(delays) > MEDIA_ID_LIFETIME.total_seconds() - 3600
    assert list(retry_delays(T0, T0 + MEDIA_ID_LIFETIME)) == []


async def test_retries_through_outages_then_saves(
    graph: GraphStandIn, http: aiohttp.ClientSession
) -> None:
    graph.media["55"] = (b"voice-note-bytes", "audio/ogg")
    graph.media_outages = 2
    saved: list[tuple[MediaInfo, bytes]] = []
    slept: list[float] = []

    async def save(info: MediaInfo, data: bytes) -> str:
        saved.append((info, data))
        return "https://storage.example/55.ogg"

    async def token() -> str:
        return TOKEN

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    outcome = await fetch_media(
        GraphClient(http, graph.base_url),
        "55",
        token,
        save,
        received_at=T0,
        clock=lambda: T0,
        sleep=sleep,
    )
    assert (outcome.url, outcome.attempts, outcome.error) == (
        "https://storage.example/55.ogg",
        3,
        None,
    )
    assert slept == [2.0, 4.0] and saved[0][1] == b"voice-note-bytes"
    assert saved[0][0].mime_type == "audio/ogg"


async def test_an_expired_or_unknown_id_is_not_retried(
    graph: GraphStandIn, http: aiohttp.ClientSession
) -> None:
    async def save(info: MediaInfo, data: bytes) -> str:
        raise AssertionError("nothing to save")

    async def token() -> str:
        return TOKEN

    async def sleep(seconds: float) -> None:
        raise AssertionError("no retry for a permanent failure")

    outcome = await fetch_media(
        GraphClient(http, graph.base_url),
        "404",
        token,
        save,
        received_at=T0 - timedelta(days=8),
        clock=lambda: T0,
        sleep=sleep,
    )
    assert (outcome.url, outcome.attempts, outcome.error) == (None, 1, "not_found")
