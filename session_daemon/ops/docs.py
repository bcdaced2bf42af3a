"""`superparty-daemon doc KIND ID…`: the document path of a kind and its ids, built by
`shared.paths` (so a bad id is refused exactly as the daemon refuses it), or a raw path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared import paths
from shared.paths import ACCOUNT_SECRETS
from shared.store.port import collection_of, split_path

KINDS: dict[str, Callable[..., str]] = {
    "thread": paths.thread_path,
    "message": paths.message_path,
    "outbox": paths.outbox_path,
    "account": paths.account_path,
    "account-secrets": paths.account_secrets_path,
    "client": paths.client_path,
    "event": paths.event_path,
    "lease": paths.account_lease_path,
    "instance": paths.daemon_instance_path,
    "config": paths.config_path,
    "counter": paths.counter_path,
    "extraction": paths.extraction_path,
}
_SECRET_COLLECTIONS = {ACCOUNT_SECRETS}


def doc_path(kind_or_path: str, ids: list[str]) -> str:
    """Raises ValueError (with the reason) for an unknown kind, a wrong id count or a bad id."""
    builder = KINDS.get(kind_or_path)
    if builder is None:
        if ids:
            raise ValueError(f"unknown kind {kind_or_path!r}; kinds: {', '.join(KINDS)}")
        parts = split_path(kind_or_path)
        if len(parts) % 2:
            raise ValueError(f"{kind_or_path!r} names a collection, not a document")
        return "/".join(parts)
    need = builder.__code__.co_argcount
    if len(ids) != need:
        raise ValueError(f"{kind_or_path} takes {need} id(s), got {len(ids)}")
    return builder(*ids)


def shown(path: str, data: dict[str, Any], *, secrets: bool) -> dict[str, Any]:
    """The document as printed: values of the server-only secrets collection are masked unless
    asked for (a proxy password should not land in a terminal scroll-back by accident)."""
    if secrets or collection_of(path) not in _SECRET_COLLECTIONS:
        return data
    return {key: "***" for key in data}
