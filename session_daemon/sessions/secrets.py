"""QR and pairing codes: kept in memory and mirrored to the server-only `accountSecrets/{id}`
document (readable by super-admins only, never by staff: flaw 2 of CONTRACT.md).

The staff-readable `accounts/{id}` document never carries them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from shared import paths
from shared.store.port import DocumentStore
from shared.store.sentinels import SERVER_TIMESTAMP

SECRETS_COLLECTION = paths.ACCOUNT_SECRETS


def secrets_path(account_id: str) -> str:
    return paths.account_secrets_path(account_id)


@dataclass(frozen=True)
class PairingSecrets:
    qr_code: str | None = None
    qr_updated_at: datetime | None = None
    pairing_code: str | None = None
    pairing_code_updated_at: datetime | None = None


class SecretsStore:
    """Thread-safe in-memory copy plus the store mirror (writes are synchronous: call from a
    worker thread)."""

    def __init__(self, store: DocumentStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._by_account: dict[str, PairingSecrets] = {}

    def get(self, account_id: str) -> PairingSecrets:
        with self._lock:
            return self._by_account.get(account_id, PairingSecrets())

    def set_qr(self, account_id: str, code: str, now: datetime) -> None:
        with self._lock:
            old = self._by_account.get(account_id, PairingSecrets())
            self._by_account[account_id] = PairingSecrets(
                code, now, old.pairing_code, old.pairing_code_updated_at
            )
        self._store.set(
            secrets_path(account_id),
            {
                "accountId": account_id,
                "qrCode": code,
                "qrUpdatedAt": now,
                "updatedAt": SERVER_TIMESTAMP,
            },
            merge=True,
        )

    def set_pairing_code(self, account_id: str, code: str, now: datetime) -> None:
        with self._lock:
            old = self._by_account.get(account_id, PairingSecrets())
            self._by_account[account_id] = PairingSecrets(old.qr_code, old.qr_updated_at, code, now)
        self._store.set(
            secrets_path(account_id),
            {
                "accountId": account_id,
                "pairingCode": code,
                "pairingCodeUpdatedAt": now,
                "updatedAt": SERVER_TIMESTAMP,
            },
            merge=True,
        )

    def clear(self, account_id: str) -> None:
        with self._lock:
            had = self._by_account.pop(account_id, None) is not None
        if had or self._store.get(secrets_path(account_id)) is not None:
            self._store.set(
                secrets_path(account_id),
                {
                    "accountId": account_id,
                    "qrCode": None,
                    "pairingCode": None,
                    "updatedAt": SERVER_TIMESTAMP,
                },
                merge=True,
            )
