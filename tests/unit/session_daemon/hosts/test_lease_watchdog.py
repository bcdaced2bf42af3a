"""The session host's lease watchdog (threads and short real times)."""

from __future__ import annotations

import os
import threading
import time

from session_daemon.hosts.lease_watchdog import LeaseWatchdog


class Lapses:
    def __init__(self) -> None:
        self.reasons: list[str] = []
        self.event = threading.Event()

    def __call__(self, reason: str) -> None:
        self.reasons.append(reason)
        self.event.set()


def test_off_until_the_first_renewal() -> None:
    lapses = Lapses()
    dog = LeaseWatchdog(lapses)
    assert dog.remaining() is None
    assert not lapses.event.wait(0.1)


def test_renewals_keep_it_quiet_and_silence_ends_it_at_the_deadline() -> None:
    lapses = Lapses()
    dog = LeaseWatchdog(lapses)
    for _ in range(6):
        dog.renew(0.15)
        time.sleep(0.05)
    assert lapses.reasons == []
    dog.renew(0.15)
    silent_at = time.monotonic()
    assert lapses.event.wait(2)
    took = time.monotonic() - silent_at
    assert 0.14 <= took <= 0.5
    assert lapses.reasons == ["its daemon did not renew the account's lease in time"]
    dog.renew(10)  # too late: a lapsed watchdog stays lapsed
    assert dog.lapsed and len(lapses.reasons) == 1


def test_a_changed_parent_ends_it() -> None:
    lapses = Lapses()
    dog = LeaseWatchdog(lapses, parent_pid=os.getppid() + 100_000)
    dog.renew(60)
    assert lapses.event.wait(3)
    assert lapses.reasons == ["its daemon is gone"]
