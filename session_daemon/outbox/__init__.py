"""Outbound messages: the outbox worker (lease, pacing, retries, no double sends).

Interfaces for other parts of the daemon:
- `OutboxWorker(store, transport, instance_id=..., config=..., accounts=manager)`:
  `await start()`, `await stop()`, `wake()` (thread-safe), `stats()`.
- Its HTTP routes (send, wake) and `outbox_worker(ctx)` live in `session_daemon.http.routes_outbox`
  (the outbox does not import the HTTP layer); receipts in `session_daemon.receipts`.
"""

from __future__ import annotations

from session_daemon.outbox.config import OutboxConfig, outbox_config_from_env
from session_daemon.outbox.worker import OutboxWorker

__all__ = ["OutboxConfig", "OutboxWorker", "outbox_config_from_env"]
