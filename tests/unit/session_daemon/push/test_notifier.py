"""The push notifier end to end on real parts: offers from the inbound writer's thread,
coalesced per thread, sent by the real FCM v1 adapter to the local stand-in, audience read from
a real SqliteStore, dead tokens dropped there."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from session_daemon.push.audience import StoreAudience
from session_daemon.push.fcm import FcmV1Client, SendOutcome, StaticAccessToken
from session_daemon.push.notifier import InboundNotice, PushNotifier
from shared.store.sqlite import SqliteStore
from tests.support.fcm_standin import FcmStandIn, fcm_standin

T1 = "wa_1__40733111222@s.whatsapp.net"
T2 = "wa_1__40733999888@s.whatsapp.net"


def notice(thread: str, text: str, ts: int, **kw: Any) -> InboundNotice:
    return InboundNotice(
        account_id="wa_1",
        thread_id=thread,
        client_jid=thread.split("__")[1],
        title=f"name of {thread[-20:]}",
        text=text,
        ts_ms=ts,
        **kw,
    )


class Rig:
    def __init__(self, fcm: FcmStandIn, store: SqliteStore, notifier: PushNotifier) -> None:
        self.fcm = fcm
        self.store = store
        self.notifier = notifier

    def pushed(self) -> list[tuple[str, str, str]]:
        return sorted(
            (
                r.body["message"]["token"],
                r.body["message"]["data"]["threadId"],
                r.body["message"]["notification"]["body"],
            )
            for r in self.fcm.requests
        )


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    store = SqliteStore(tmp_path / "store.db")
    for uid in ("s1", "s2"):
        store.set(f"users/{uid}", {"fcmToken": f"tok-{uid}", "notificationsEnabled": True})
        store.set(f"staffProfiles/{uid}", {"role": "staff"})
    async with fcm_standin() as fcm:
        client = FcmV1Client("demo-superparty", StaticAccessToken("at"), base_url=fcm.base_url)
        audience = StoreAudience(store, None)
        notifier = PushNotifier(
            client, audience, store, window_seconds=0.2, on_token_dropped=audience.forget
        )
        notifier.start()
        yield Rig(fcm, store, notifier)
        await notifier.stop()
        await client.close()
    store.close()


async def test_a_burst_is_one_push_per_thread_with_the_newest_text(rig: Rig) -> None:
    def writer() -> None:  # the inbound writer runs in its own thread
        for i in range(5):
            rig.notifier.offer(notice(T1, f"mesaj {i}", 1000 + i))
        rig.notifier.offer(notice(T2, "altceva", 2000))
        rig.notifier.offer(notice(T1, "older, delivered late", 900))

    thread = threading.Thread(target=writer)
    thread.start()
    thread.join()
    assert rig.fcm.requests == []  # nothing before the window ends
    await asyncio.sleep(0.5)
    await rig.notifier.wait_idle()
    assert rig.pushed() == [
        ("tok-s1", T1, "mesaj 4"),
        ("tok-s1", T2, "altceva"),
        ("tok-s2", T1, "mesaj 4"),
        ("tok-s2", T2, "altceva"),
    ]
    assert rig.notifier.stats.coalesced == 5


async def test_history_replays_and_own_messages_never_push(rig: Rig) -> None:
    assert not rig.notifier.offer(notice(T1, "old", 1, source="history"))
    assert not rig.notifier.offer(notice(T1, "replayed", 2, replay=True))
    assert not rig.notifier.offer(notice(T1, "typed on the phone", 3, from_me=True))
    await rig.notifier.flush()
    assert rig.fcm.requests == []
    assert rig.notifier.stats.skipped == {"history": 1, "replay": 1, "from_me": 1}


class NeverCalled:
    async def send(self, message: dict[str, Any]) -> SendOutcome:
        raise AssertionError("offer must not send")


async def test_offer_never_blocks_the_writer(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "store.db")
    notifier = PushNotifier(NeverCalled(), lambda account: [], store, max_threads=500)
    notifier.start()
    started = time.perf_counter()
    for i in range(500):
        notifier.offer(notice(f"wa_1__4073300{i:04d}@s.whatsapp.net", "x", i))
    per_offer = (time.perf_counter() - started) / 500
    assert per_offer < 0.001, per_offer  # microseconds each; FCM is never awaited here
    assert notifier.waiting() == 500
    assert not notifier.offer(notice(T1, "one too many", 1))
    assert notifier.stats.dropped_overflow == 1
    await notifier.stop()
    store.close()


async def test_a_dead_token_is_dropped_and_not_pushed_again(rig: Rig) -> None:
    rig.fcm.token_errors = {"tok-s2": (404, "UNREGISTERED")}
    rig.notifier.offer(notice(T1, "unu", 1))
    await rig.notifier.flush()
    snap = rig.store.get("users/s2")
    assert snap is not None and "fcmToken" not in snap.data
    assert rig.notifier.stats.dead_tokens_removed == 1
    rig.fcm.requests.clear()
    rig.notifier.offer(notice(T1, "doi", 2))
    await rig.notifier.flush()
    assert rig.pushed() == [("tok-s1", T1, "doi")]
