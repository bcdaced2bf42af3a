"""A session host's lease watchdog: end the session when the daemon stops vouching for it.

Why: a daemon frozen by SIGSTOP (or stuck) cannot stop its session hosts, and the hosts are
separate processes that would keep the account's WhatsApp session up while another daemon takes
the lease over: two live sessions of one device. So the daemon tells each host how long the
account's lease is still trusted (`{"op": "lease", "seconds": s}`, sent whenever its lease
coordinator renews: `session_daemon/leases/runtime.py`), and the host ends its session when that
time passes without a renewal. The deadline is the daemon's own local deadline (the lease's
expiry minus a margin), so the host stops *before* any other daemon may take the lease.

Until the first `lease` frame the watchdog is off (a host used without leases, tests of the
supervisor alone). It also ends the host when its parent process changed (the daemon or the
zygote died and the kernel's parent-death signal did not reach it).

A thread, not the host's event loop: a loop blocked in a library call must not keep the session.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Final

PARENT_CHECK_SECONDS: Final = 1.0


class LeaseWatchdog:
    def __init__(
        self,
        on_lapse: Callable[[str], None],
        *,
        monotonic: Callable[[], float] = time.monotonic,
        parent_pid: int | None = None,
    ) -> None:
        self._on_lapse = on_lapse
        self._monotonic = monotonic
        self._parent = os.getppid() if parent_pid is None else parent_pid
        self._deadline: float | None = None
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self.lapsed = False

    def renew(self, seconds: float) -> None:
        """The lease is trusted for `seconds` from now (a later frame replaces the deadline)."""
        with self._cond:
            if self.lapsed:
                return
            self._deadline = self._monotonic() + max(0.0, float(seconds))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="lease-watchdog", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()

    def remaining(self) -> float | None:
        with self._cond:
            return None if self._deadline is None else self._deadline - self._monotonic()

    def _run(self) -> None:
        while True:
            with self._cond:
                assert self._deadline is not None
                left = self._deadline - self._monotonic()
                if left <= 0:
                    self.lapsed = True
                    reason = "its daemon did not renew the account's lease in time"
                    break
                self._cond.wait(min(left, PARENT_CHECK_SECONDS))
            if os.getppid() != self._parent:
                self.lapsed = True
                reason = "its daemon is gone"
                break
        self._on_lapse(reason)
