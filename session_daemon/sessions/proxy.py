"""The per-account proxy override, kept in the server-only `accountSecrets/{accountId}.proxyUrl`
(a proxy URL can carry a user and password; staff can read `accounts/`, so it never goes there).
`WHATSAPP_PROXY` (settings) applies to accounts without one. Synchronous: call from a worker
thread.
"""

from __future__ import annotations

from typing import Final

from session_daemon.sessions.secrets import secrets_path
from shared.store.port import DocumentStore
from shared.store.sentinels import SERVER_TIMESTAMP

PROXY_FIELD: Final = "proxyUrl"


def account_proxy(store: DocumentStore, account_id: str) -> str | None:
    snap = store.get(secrets_path(account_id))
    value = snap.data.get(PROXY_FIELD) if snap is not None else None
    return value if isinstance(value, str) and value else None


def set_account_proxy(store: DocumentStore, account_id: str, url: str | None) -> None:
    store.set(
        secrets_path(account_id),
        {"accountId": account_id, PROXY_FIELD: url, "updatedAt": SERVER_TIMESTAMP},
        merge=True,
    )
