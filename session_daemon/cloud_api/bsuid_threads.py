"""Threads of clients known only by a business-scoped user id (BSUID), and their merge into the
phone thread once the phone is known. One client, one thread, nothing deleted.

- A message from a username-only client is stored in the thread `{accountId}__{BSUID}@bsuid`
  (see `identity`), with the same documents and summary rules as every other message
  (`inbound.convert.message_document` / `thread_patch`), created once per `wamid`.
- When a payload names the client by phone and BSUID together (Meta sends both while the phone
  may be shared), the BSUID thread, if there is one, is merged: its messages are copied into the
  phone thread under the same document ids (so a repeated merge creates nothing twice), the
  phone thread's summary takes them in, and the BSUID thread becomes an alias (`redirectTo`,
  `canonicalThreadId`, `hidden`) that the app hides, as with LIDs. Later BSUID-only messages of
  that client follow the alias into the phone thread.

Synchronous store calls (transactions): run them in a worker thread, before the webhook's 200.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from session_daemon.cloud_api.identity import bsuid_jid, client_thread_id, merge_plan
from session_daemon.cloud_api.model import CloudMessage
from session_daemon.inbound.convert import (
    InboundRecord,
    message_document,
    message_path,
    thread_patch,
    thread_path,
)
from shared import paths
from shared.ids import parse_thread_id
from shared.jids import jid_to_e164
from shared.store.port import DocumentStore, Transaction, query
from shared.store.sentinels import Increment
from shared.timeutil import to_ms

__all__ = ["MergeOutcome", "merge_bsuid_thread", "store_bsuid_messages"]

_MAX_HOPS = 5


def _record(account_id: str, msg: CloudMessage, addr: str, received_ms: int) -> InboundRecord:
    media = None
    if msg.media is not None:
        media = {
            "type": msg.media.kind,
            "url": None,
            "mimetype": msg.media.mime_type,
            "filename": msg.media.filename,
            "thumbBase64": None,
        }
    return InboundRecord(
        account_id=account_id,
        wa_id=msg.wamid,
        addr_jid=addr,
        pn_jid=None,
        from_me=msg.direction == "outbound",
        ts_ms=msg.ts_ms,
        text=msg.text,
        message_type=msg.meta_type,
        push_name=None
        if msg.direction == "outbound"
        else (msg.client.profile_name or msg.client.username),
        media=media,
        source="history" if msg.origin == "history" else "live",
        received_ms=received_ms,
    )


def _target(tx: Transaction, account_id: str, bsuid: str) -> tuple[str, str]:
    """(thread id, clientJid) a BSUID-only message goes to: the end of the alias chain (a BSUID
    merged into a newer BSUID, itself merged into the phone thread)."""
    tid, jid = client_thread_id(account_id, bsuid_jid(bsuid)), bsuid_jid(bsuid)
    for _ in range(_MAX_HOPS):
        snap = tx.get(thread_path(tid))
        target = snap.data.get("redirectTo") if snap is not None else None
        if not isinstance(target, str) or target == tid:
            break
        client = snap.data.get("canonicalClientJid") if snap is not None else None
        tid, jid = target, client if isinstance(client, str) else parse_thread_id(target)[1]
    return tid, jid


def store_bsuid_messages(
    store: DocumentStore, account_id: str, messages: Iterable[CloudMessage], now: datetime
) -> int:
    """Store messages of clients without a phone; returns how many were new."""
    by_bsuid: dict[str, list[CloudMessage]] = {}
    for msg in messages:
        if msg.client.pn_jid is None and msg.client.bsuid is not None:
            by_bsuid.setdefault(msg.client.bsuid, []).append(msg)
    created = 0
    for bsuid, msgs in by_bsuid.items():

        def run(tx: Transaction, bsuid: str = bsuid, msgs: list[CloudMessage] = msgs) -> int:
            tid, client_jid = _target(tx, account_id, bsuid)
            thread = tx.get(thread_path(tid))
            fresh: dict[str, InboundRecord] = {}
            for msg in msgs:
                path = message_path(tid, msg.wamid)
                if path not in fresh and tx.get(path) is None:
                    fresh[path] = _record(account_id, msg, bsuid_jid(bsuid), to_ms(now))
            for path, record in fresh.items():
                doc = message_document(record, client_jid)
                doc["bsuid"] = bsuid
                tx.create(path, doc)
            patch = thread_patch(
                thread.data if thread else None, account_id, client_jid, list(fresh.values()), now
            )
            if patch is not None:
                if thread is None:
                    patch["bsuid"] = bsuid
                tx.set(thread_path(tid), patch, merge=True)
            return len(fresh)

        created += store.transaction(run)
    return created


@dataclass(frozen=True)
class MergeOutcome:
    merged: bool  # the alias was set now
    copied: int  # messages created in the phone thread


def _as_record(account_id: str, target_jid: str, doc: dict[str, Any]) -> InboundRecord:
    return InboundRecord(
        account_id=account_id,
        wa_id=str(doc.get("waMessageId") or ""),
        addr_jid=target_jid,
        pn_jid=target_jid if jid_to_e164(target_jid) else None,
        from_me=doc.get("direction") == "outbound",
        ts_ms=int(doc.get("tsClientMs") or 0),
        text=str(doc.get("body") or ""),
        message_type=str(doc.get("messageType") or "text"),
        push_name=doc.get("senderName"),
        media=doc.get("media"),
        source="history",  # already counted as unread in the alias: carried over below
        received_ms=int(doc.get("tsClientMs") or 0),
    )


def merge_bsuid_thread(
    store: DocumentStore, account_id: str, bsuid: str, target_jid: str, now: datetime
) -> MergeOutcome:
    """Merge the BSUID thread (if any, and not merged yet) into the phone thread; without one,
    record the mapping as a bare alias."""
    for _ in range(5):
        outcome = _merge_once(store, account_id, bsuid, target_jid, now)
        if outcome is not None:
            return outcome
    raise RuntimeError(f"the thread of {bsuid} kept changing during its merge")


def _merge_once(
    store: DocumentStore, account_id: str, bsuid: str, target_jid: str, now: datetime
) -> MergeOutcome | None:
    plan = merge_plan(account_id, bsuid, target_jid)
    alias_path = thread_path(plan.alias_thread_id)
    # The messages are read by a query outside the transaction; the transaction then checks
    # that the alias did not change since (a message stored in between moves `updatedAt`),
    # else None: read again.
    existing = store.get(alias_path)
    if existing is not None and existing.data.get("redirectTo") == plan.canonical_thread_id:
        return MergeOutcome(False, 0)
    seen = existing.data.get("updatedAt") if existing is not None else None
    docs = (
        store.query(query(paths.messages_collection(plan.alias_thread_id)))
        if existing is not None
        else []
    )

    def run(tx: Transaction) -> MergeOutcome | None:
        alias = tx.get(alias_path)
        if alias is not None and alias.data.get("redirectTo") == plan.canonical_thread_id:
            return MergeOutcome(False, 0)
        if (alias is None) != (existing is None) or (
            alias is not None and alias.data.get("updatedAt") != seen
        ):
            return None
        if alias is None:
            # no BSUID thread yet: the alias alone records the mapping, so a later message
            # without the phone goes to the phone thread (no lastMessageAt: never listed)
            tx.set(
                alias_path,
                {
                    **plan.alias_patch,
                    "accountId": account_id,
                    "canonicalClientJid": target_jid,
                    "mergedAt": now,
                },
            )
            return MergeOutcome(True, 0)
        canonical = tx.get(thread_path(plan.canonical_thread_id))
        # same document ids (message_path keeps an id that is already a safe document id)
        targets = [(snap, message_path(plan.canonical_thread_id, snap.id)) for snap in docs]
        missing = [(snap, path) for snap, path in targets if tx.get(path) is None]
        records = []
        for snap, path in missing:
            copy = {**snap.data, "clientJid": target_jid, "mergedFrom": plan.alias_thread_id}
            tx.create(path, copy)
            records.append(_as_record(account_id, target_jid, copy))
        patch = (
            thread_patch(
                canonical.data if canonical else None, account_id, target_jid, records, now
            )
            or {}
        )
        unread = alias.data.get("unreadCount")
        if isinstance(unread, int) and unread > 0:
            patch["unreadCount"] = Increment(unread)
        name = alias.data.get("displayName")
        real_name = isinstance(name, str) and not name.endswith("@bsuid")
        if real_name and (canonical is None or not canonical.data.get("displayName")):
            patch["displayName"] = name
        if patch:
            patch["updatedAt"] = now
            tx.set(thread_path(plan.canonical_thread_id), patch, merge=True)
        tx.set(
            alias_path,
            {
                **plan.alias_patch,
                "canonicalClientJid": target_jid,
                "mergedAt": now,
                "unreadCount": 0,
            },
            merge=True,
        )
        return MergeOutcome(True, len(missing))

    return store.transaction(run)
