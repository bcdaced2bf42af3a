"""Throttling of failed credentials per client address.

Counted: a wrong service token (anything not shaped like an ID token) and an ID token that fails
its signature, audience or issuer check. Not counted: expired or revoked tokens, disabled users
(honest apps send those; staff behind one office address must not lock each other out).
After `allowed` counted failures within `window` seconds the address gets 429
`too_many_auth_failures` with `retryAfterSeconds`, before its token is even looked at.

The client address is the TCP peer, or, only when the peer is a configured proxy
(`WHATSAPP_TRUSTED_PROXIES`), the right-most `X-Forwarded-For` entry that is not a proxy itself.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_TRACKED = 10_000  # addresses remembered; the oldest are forgotten first


class FailureThrottle:
    def __init__(
        self, allowed: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.allowed = allowed
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, address: str, now: float) -> deque[float]:
        times = self._failures.get(address) or deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def retry_after(self, address: str) -> int | None:
        """Seconds until `address` may try again, or None when it may try now."""
        now = self._clock()
        with self._lock:
            times = self._recent(address, now)
            if len(times) < self.allowed:
                return None
            return max(1, math.ceil(times[-self.allowed] + self.window - now))

    def failed(self, address: str) -> None:
        now = self._clock()
        with self._lock:
            times = self._recent(address, now)
            times.append(now)
            self._failures[address] = times
            self._failures.move_to_end(address)
            while len(self._failures) > MAX_TRACKED:
                self._failures.popitem(last=False)


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(v.strip(), strict=False) for v in values if v.strip())


def _within(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_address(request: web.Request, proxies: tuple[Network, ...]) -> str:
    peer = request.remote or "-"
    if not proxies or not _within(peer, proxies):
        return peer  # X-Forwarded-For from anyone else is the client's own claim: ignored
    hops = [h.strip() for h in ",".join(request.headers.getall("X-Forwarded-For", [])).split(",")]
    for hop in reversed([h for h in hops if h]):
        if not _within(hop, proxies):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # garbage from the client side of the proxy chain
    return peer
