"""Process-wide singletons of the deployed functions, created on first use (discovery imports
main.py with a ~10 s budget, so nothing here runs at import time)."""

from __future__ import annotations

import os
import threading
from typing import Any

from shared.store.port import DocumentStore

_lock = threading.Lock()
_store: DocumentStore | None = None


def project_id() -> str:
    return (
        os.environ.get("GCLOUD_PROJECT")
        or os.environ.get("GOOGLE_CLOUD_PROJECT")
        or _project_from_firebase_config()
        or "demo-superparty"
    )


def _project_from_firebase_config() -> str | None:
    import json

    raw = os.environ.get("FIREBASE_CONFIG")
    if not raw or not raw.strip().startswith("{"):
        return None
    try:
        value = json.loads(raw).get("projectId")
    except ValueError:
        return None
    return value if isinstance(value, str) and value else None


def store() -> DocumentStore:
    """`SUPERPARTY_STORE_URL` when set (tests), else Firestore of this project (the emulator
    when FIRESTORE_EMULATOR_HOST is set)."""
    global _store
    with _lock:
        if _store is None:
            from shared.store.factory import open_store

            url = os.environ.get("SUPERPARTY_STORE_URL") or f"firestore://{project_id()}"
            _store = open_store(url)
        return _store


def verify_token(token: str) -> dict[str, Any]:
    from shared.identity import verify_id_token

    return verify_id_token(token)
