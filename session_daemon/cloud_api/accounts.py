"""Cloud API accounts: the add request, registration (idempotent by phone number id), the
conversion of a linked account, and the answers to linked-device operations.

An account's kind is `accounts/{id}.kind` (`cloud`; absent means a linked device, as every
account before this change). Its id follows the one rule (`wa_<digits>` of its phone), so a
number moved from linked device to the Cloud API keeps its account id and so every thread id.
The credentials go to `accountSecrets/{id}` only (`secrets_store`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Final

from pydantic import StringConstraints

from session_daemon.cloud_api import secrets_store
from session_daemon.cloud_api.secrets_store import CloudSecrets
from session_daemon.sessions.accounts import account_id_for_phone, account_path, new_account_doc
from shared.schemas import Payload, PhoneE164
from shared.store.port import DocumentStore, Transaction
from shared.store.sentinels import DELETE_FIELD, SERVER_TIMESTAMP

__all__ = [
    "CLOUD",
    "CloudAccountRequest",
    "Registration",
    "account_kind",
    "linked_device_answer",
    "register_cloud_account",
]

CLOUD: Final = "cloud"
GraphId = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\d{5,32}$")]
Secret = Annotated[str, StringConstraints(strip_whitespace=True, min_length=8, max_length=1024)]


class CloudAccountRequest(Payload):
    """`POST /api/whatsapp/cloud-accounts`: `{name, phone, phoneNumberId, wabaId, accessToken,
    appSecret, verifyToken}`."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    phone: PhoneE164
    phone_number_id: GraphId
    waba_id: GraphId
    access_token: Secret
    app_secret: Secret
    verify_token: Secret


@dataclass(frozen=True)
class Registration:
    account_id: str
    data: dict[str, Any]  # the accounts/ document (no secrets)
    created: bool  # a new account
    converted: bool  # an existing linked account became a cloud account (same id)


def account_kind(data: dict[str, Any]) -> str:
    return CLOUD if data.get("kind") == CLOUD else "linked"


def register_cloud_account(store: DocumentStore, req: CloudAccountRequest) -> Registration:
    """Create or convert the account and save its credentials. Idempotent by `phoneNumberId`:
    the same number id returns the account that has it (credentials refreshed), whatever phone
    spelling the caller used. A linked account of the same phone is converted in place: the
    caller stops its session first (a number is never both kinds at once)."""
    owner = secrets_store.find_by_phone_number_id(store, req.phone_number_id)
    account_id = owner.account_id if owner else account_id_for_phone(req.phone)
    path = account_path(account_id)

    def run(tx: Transaction) -> Registration:
        snap = tx.get(path)
        cloud_fields = {
            "kind": CLOUD,
            "phoneNumberId": req.phone_number_id,
            "wabaId": req.waba_id,
            "paired": False,
        }
        if snap is None:
            data = {**new_account_doc(req.name, req.phone, req.phone), **cloud_fields}
            tx.create(path, data)
            return Registration(account_id, data, created=True, converted=False)
        if account_kind(snap.data) == CLOUD and snap.data.get("status") != "deleted":
            return Registration(account_id, snap.data, created=False, converted=False)
        # a linked device (or a deleted account) of this phone: same id, new kind
        patch = {
            **cloud_fields,
            "name": req.name,
            "status": "connecting",
            "lastError": None,
            "deletedAt": DELETE_FIELD,
            "updatedAt": SERVER_TIMESTAMP,
        }
        was_linked = account_kind(snap.data) != CLOUD and snap.data.get("status") != "deleted"
        tx.update(path, patch)
        return Registration(account_id, {**snap.data, **patch}, created=False, converted=was_linked)

    result = store.transaction(run)
    secrets_store.save(
        store,
        CloudSecrets(
            account_id,
            req.phone_number_id,
            req.waba_id,
            req.access_token,
            req.app_secret,
            req.verify_token,
        ),
    )
    return result


def linked_device_answer(operation: str) -> tuple[int, dict[str, Any]]:
    """The defined answers of the app's account-control calls on a cloud account."""
    if operation == "regenerate_qr":
        return 200, {
            "success": True,
            "status": "already_connected",
            "message": "A Cloud API number has no QR code; it is connected.",
        }
    if operation in ("pairing_code", "backfill"):
        what = "pairing code" if operation == "pairing_code" else "history backfill"
        return 409, {
            "success": False,
            "error": "not_linked_device",
            "message": f"A Cloud API number has no {what}.",
        }
    raise ValueError(f"not a linked-device operation: {operation!r}")
