"""Dropping a device token FCM reports dead (CONTRACT.md: tokens FCM reports as unregistered
are dropped).

In a transaction, and only if `users/{uid}.fcmToken` still holds that very token: the user may
have signed in again on a new phone while the push was in flight, and removing the fresh token
would silence them. `users/{uid}` belongs to the app: only this field is touched.
"""

from __future__ import annotations

from shared import paths
from shared.store.port import DocumentStore, Transaction
from shared.store.sentinels import DELETE_FIELD

__all__ = ["drop_dead_token"]


def drop_dead_token(store: DocumentStore, uid: str, token: str) -> bool:
    """Remove `fcmToken` from `users/{uid}` if it is still `token`; True when removed."""
    path = paths.user_path(uid)  # raises InvalidId (a ValueError) for a bad uid

    def apply(tx: Transaction) -> bool:
        snap = tx.get(path)
        if snap is None or snap.data.get("fcmToken") != token:
            return False
        tx.update(path, {"fcmToken": DELETE_FIELD})
        return True

    return store.transaction(apply)
