"""When did the client last write to this number? The start of the 24-hour window.

Read from the thread's newest messages (`order by tsClient desc`, the chat's own query, so no new
index is needed): the newest inbound one among the last `scan` messages. A thread where staff
sent more than `scan` messages in a row without an answer counts as outside the window, which
is the safe side (a template goes out instead of a refused free-form text).
Synchronous: run it in a worker thread.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from session_daemon.cloud_api.identity import client_thread_id
from shared import paths
from shared.store.port import DocumentStore, query
from shared.timeutil import ensure_utc

__all__ = ["last_inbound_at"]

SCAN: Final = 50


def last_inbound_at(
    store: DocumentStore, account_id: str, client_jid: str, *, scan: int = SCAN
) -> datetime | None:
    tid = client_thread_id(account_id, client_jid)
    thread = store.get(paths.thread_path(tid))
    if thread is not None and isinstance(thread.data.get("redirectTo"), str):
        tid = thread.data["redirectTo"]  # a merged BSUID thread: the client's messages are there
    newest = store.query(
        query(paths.messages_collection(tid), order_by=[("tsClient", "desc")], limit=scan)
    )
    for snap in newest:
        at = snap.data.get("tsClient")
        if snap.data.get("direction") == "inbound" and isinstance(at, datetime):
            return ensure_utc(at)
    return None
