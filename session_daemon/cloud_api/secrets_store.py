"""A Cloud API account's credentials in the server-only `accountSecrets/{accountId}` document.

The access token, app secret and verify token never go to the staff-readable `accounts/`
document. They are read at each use (sends, webhook checks), so a rotated token or secret takes
effect without a restart. Synchronous store calls: run them in a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from session_daemon.cloud_api.routing import CloudAccountKeys
from shared import paths
from shared.store.port import DocumentStore, query
from shared.store.sentinels import SERVER_TIMESTAMP

__all__ = ["KIND", "CloudSecrets", "find_by_phone_number_id", "load", "save"]

KIND: Final = "cloud"


@dataclass(frozen=True)
class CloudSecrets:
    account_id: str
    phone_number_id: str
    waba_id: str
    access_token: str
    app_secret: str
    verify_token: str

    def keys(self) -> CloudAccountKeys:
        return CloudAccountKeys(
            self.account_id, self.phone_number_id, self.waba_id, self.app_secret, self.verify_token
        )

    def to_document(self) -> dict[str, Any]:
        return {
            "accountId": self.account_id,
            "kind": KIND,
            "phoneNumberId": self.phone_number_id,
            "wabaId": self.waba_id,
            "accessToken": self.access_token,
            "appSecret": self.app_secret,
            "verifyToken": self.verify_token,
        }


def _from(data: dict[str, Any]) -> CloudSecrets | None:
    if data.get("kind") != KIND:
        return None
    fields = ("accountId", "phoneNumberId", "wabaId", "accessToken", "appSecret", "verifyToken")
    values = [data.get(f) for f in fields]
    if not all(isinstance(v, str) and v for v in values):
        return None
    return CloudSecrets(*values)  # type: ignore[arg-type]


def load(store: DocumentStore, account_id: str) -> CloudSecrets | None:
    snap = store.get(paths.account_secrets_path(account_id))
    return _from(snap.data) if snap is not None else None


def save(store: DocumentStore, secrets: CloudSecrets) -> None:
    """Merge into the account's secrets (QR fields of a former linked device stay untouched)."""
    store.set(
        paths.account_secrets_path(secrets.account_id),
        {**secrets.to_document(), "updatedAt": SERVER_TIMESTAMP},
        merge=True,
    )


def find_by_phone_number_id(store: DocumentStore, phone_number_id: str) -> CloudSecrets | None:
    hits = store.query(
        query(paths.ACCOUNT_SECRETS, where=[("phoneNumberId", "==", phone_number_id)], limit=2)
    )
    found = [s for s in (_from(h.data) for h in hits) if s is not None]
    return found[0] if len(found) == 1 else None  # two accounts claiming one number: neither
