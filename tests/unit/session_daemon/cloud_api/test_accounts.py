"""Cloud account registration on a real SQLite store: ids, idempotency, conversion, secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from session_daemon.cloud_api import secrets_store
from session_daemon.cloud_api.accounts import (
    CloudAccountRequest,
    linked_device_answer,
    register_cloud_account,
)
from session_daemon.sessions.accounts import account_path, new_account_doc
from shared import paths
from shared.store.sqlite import SqliteStore

BODY = {
    "name": "Sales Cloud",
    "phone": "0722 000 009",
    "phoneNumberId": "106540352242922",
    "wabaId": "102290129340398",
    "accessToken": "EAAtoken-0123456789",
    "appSecret": "0123456789abcdef",
    "verifyToken": "verify-me-please",
}


def test_request_validation() -> None:
    req = CloudAccountRequest.model_validate(BODY)
    assert req.phone == "+40722000009" and req.phone_number_id == "106540352242922"
    for field, bad in (
        ("phoneNumberId", "12/34"),
        ("wabaId", ""),
        ("accessToken", "short"),
        ("phone", "not a phone"),
        ("name", ""),
    ):
        with pytest.raises(ValidationError):
            CloudAccountRequest.model_validate({**BODY, field: bad})


def test_register_is_idempotent_by_phone_number_id_and_keeps_secrets_apart(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "s.db")
    first = register_cloud_account(store, CloudAccountRequest.model_validate(BODY))
    assert (first.account_id, first.created, first.converted) == ("wa_40722000009", True, False)
    account = store.get(account_path(first.account_id))
    assert account is not None and account.data["kind"] == "cloud"
    assert not any("token" in k.lower() or "secret" in k.lower() for k in account.data)
    # the app retries, another phone spelling, a rotated token: the same account
    again = register_cloud_account(
        store,
        CloudAccountRequest.model_validate(
            {**BODY, "phone": "+40 722 000 009", "accessToken": "EAAtoken-rotated-999"}
        ),
    )
    assert (again.account_id, again.created) == (first.account_id, False)
    saved = secrets_store.load(store, first.account_id)
    assert saved is not None and saved.access_token == "EAAtoken-rotated-999"
    store.close()


def test_a_linked_account_converts_in_place(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    store.create(
        account_path("wa_40722000009"),
        {
            **new_account_doc("Sales 1", "0722000009", "+40722000009"),
            "status": "connected",
            "paired": True,
        },
    )
    store.set(
        paths.account_secrets_path("wa_40722000009"),
        {"accountId": "wa_40722000009", "qrCode": "old"},
    )
    reg = register_cloud_account(store, CloudAccountRequest.model_validate(BODY))
    assert (reg.account_id, reg.created, reg.converted) == ("wa_40722000009", False, True)
    account = store.get(account_path("wa_40722000009"))
    assert account is not None and account.data["kind"] == "cloud"
    assert account.data["status"] == "connecting" and account.data["paired"] is False
    saved = secrets_store.load(store, "wa_40722000009")
    assert saved is not None and saved.phone_number_id == BODY["phoneNumberId"]
    store.close()


def test_linked_device_operations_have_defined_answers() -> None:
    assert linked_device_answer("regenerate_qr") == (
        200,
        {
            "success": True,
            "status": "already_connected",
            "message": "A Cloud API number has no QR code; it is connected.",
        },
    )
    for op in ("pairing_code", "backfill"):
        status, body = linked_device_answer(op)
        assert (status, body["error"], body["success"]) == (409, "not_linked_device", False)
