"""Is anyone using this data? A restore must not pull files from under a running daemon.

Two independent signs, both checked: a daemon on this machine holds an flock on one of the
data folder's instance-id slot files (the kernel drops it when the process dies, kill -9
included), and the store records live heartbeats (`daemonInstances`) and live account leases
(`accountLeases`), which also catches a daemon started with an explicit WHATSAPP_INSTANCE_ID or
running on another machine against the same Firestore project.
"""

from __future__ import annotations

import fcntl
import os
from datetime import UTC, datetime

from session_daemon.leases.instances import parse_instance
from session_daemon.leases.record import parse_lease
from session_daemon.ops.layout import Layout
from shared.paths import ACCOUNT_LEASES, DAEMON_INSTANCES
from shared.store.port import DocumentStore, query


def locked_slots(layout: Layout) -> list[str]:
    """Names of the instance-id slot files a live process holds."""
    held = []
    for path in layout.identity_files():
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            held.append(path.name)
        finally:
            os.close(fd)  # also releases our own lock at once
    return held


def users_in_store(store: DocumentStore, now: datetime | None = None) -> list[str]:
    """Human lines naming the live daemons and live leases recorded in `store`."""
    now = now or datetime.now(UTC)
    found = []
    for snap in store.query(query(DAEMON_INSTANCES)):
        instance = parse_instance(snap.id, snap.data, now=now)
        if instance is not None and instance.state != "stopped" and instance.fresh(now):
            found.append(
                f"daemon {snap.id} is {instance.state} (heartbeat {instance.heartbeat_at})"
            )
    for snap in store.query(query(ACCOUNT_LEASES)):
        lease = parse_lease(snap.id, snap.data, now=now)
        if lease is not None and lease.live(now):
            found.append(f"account {snap.id} is leased to {lease.holder} until {lease.expires_at}")
    return found


def data_in_use(layout: Layout, store: DocumentStore | None) -> list[str]:
    reasons = [
        f"a daemon holds {layout.data_dir / name} (it is running on this data folder)"
        for name in locked_slots(layout)
    ]
    if store is not None:
        reasons += users_in_store(store)
    return reasons
