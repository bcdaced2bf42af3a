"""The inbound change writer: edits, deletions for everyone and reactions applied to the message
they target, and undecryptable placeholders upgraded to their real content (the one rewrite
create-once dedup allows). Each is one store transaction on the target message, plus the thread
summary when that message is the one the summary shows. The patches themselves are pure
(`inbound.changes`, `kinds`); this module reads, decides and writes."""

from __future__ import annotations

from typing import Any

from session_daemon.inbound.changes import upgrade_patch
from session_daemon.inbound.convert import (
    PREVIEW_CHARS,
    InboundRecord,
    message_document,
    thread_path,
)
from session_daemon.inbound.plan import Placed
from session_daemon.kinds import ChangeContext, kind_of
from shared.ids import parse_thread_id
from shared.paths import doc_id
from shared.store.port import DocumentStore, Snapshot
from shared.timeutil import from_ms, utc_now

__all__ = ["ChangeWriter", "change_target", "summary_patch"]


def change_target(record: InboundRecord) -> str | None:
    """The id of the message a change (edit, deletion, reaction) applies to; None otherwise."""
    if record.content is None:
        return None
    return str(record.content.target_id) if kind_of(record.content).role == "change" else None


def summary_patch(
    thread: Snapshot | None, message_path_: str, patch: dict[str, Any]
) -> dict[str, Any]:
    """The thread summary's text when the changed message is the one it shows."""
    body = patch.get("body")
    if thread is None or not isinstance(body, str) or not body:
        return {}
    if thread.data.get("lastMessageId") != doc_id(message_path_):
        return {}
    return {"lastMessageText": body[:PREVIEW_CHARS], "lastMessagePreview": body[:PREVIEW_CHARS]}


class ChangeWriter:
    def __init__(self, store: DocumentStore) -> None:
        self.store = store

    def apply(self, item: Placed) -> str:
        """Apply the change `item` carries to the message at `item.path` (its target). Returns
        "applied", or "<kind>:<reason>" when it was skipped (target unknown, another chat, ...)."""
        record = item.record
        kind = kind_of(record.content)
        change = kind.change
        assert change is not None
        tid, target = item.thread_id, item.path
        ctx = ChangeContext(
            client_jid=parse_thread_id(tid)[1],
            at=from_ms(record.ts_ms),
            from_me=record.from_me,
            sender_jid=record.sender_jid or (None if record.from_me else record.pn_jid),
        )

        def apply(tx: Any) -> str:
            snap = tx.get(target)
            thread = tx.get(thread_path(tid))
            patch = change(snap.data if snap else None, record.content, ctx)
            if not isinstance(patch, dict):
                return f"{kind.tag}:{patch.reason}"
            tx.update(target, patch)
            summary = summary_patch(thread, target, patch)
            if summary:
                tx.update(thread_path(tid), summary)
            return "applied"

        return str(self.store.transaction(apply))

    def upgrade(self, items: list[Placed]) -> int:
        """Undecryptable placeholders take their real content; returns how many were upgraded."""
        upgraded = 0
        for item in items:
            doc = message_document(item.record, parse_thread_id(item.thread_id)[1])

            def apply(
                tx: Any, path: str = item.path, tid: str = item.thread_id, doc: dict[str, Any] = doc
            ) -> bool:
                snap = tx.get(path)
                thread = tx.get(thread_path(tid))
                if snap is None:
                    return False
                patch = upgrade_patch(snap.data, doc, at=utc_now())
                if not isinstance(patch, dict):
                    return False
                tx.update(path, patch)
                summary = summary_patch(thread, path, patch)
                if summary:
                    tx.update(thread_path(tid), summary)
                return True

            if self.store.transaction(apply):
                upgraded += 1
        return upgraded
