"""What travels through the inbound pipeline: a journalled entry (a message record or a receipt),
a group-commit request, the journal's text form of a receipt, and what the `on_created` hook hears
of the messages a flush created."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from session_daemon.inbound.convert import InboundRecord
from session_daemon.transport.port import ReceiptReceived
from shared.timeutil import from_ms, to_ms

if TYPE_CHECKING:
    from session_daemon.inbound.plan import Placed
    from shared.store.port import Snapshot

__all__ = [
    "Append",
    "CreatedHook",
    "CreatedMessage",
    "Entry",
    "Kind",
    "PipelineClosed",
    "account_of",
    "announce",
    "created_messages",
    "receipt_from_json",
    "receipt_json",
]

Kind = Literal["m", "r"]


class PipelineClosed(RuntimeError):
    """`submit` before `start()` or after `stop()`: the event was NOT acknowledged."""


@dataclass(slots=True)
class Entry:
    seq: int
    kind: Kind
    record: InboundRecord | None = None
    receipt: ReceiptReceived | None = None
    done: bool = False  # handled by a flush: written, a duplicate, applied, or parked
    replayed: bool = False  # read back from the journal at start (no push for it)


@dataclass(slots=True)
class Append:
    rows: list[tuple[Kind, str]]
    entries: list[Entry]
    mappings: list[tuple[str, str, str]]
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


def account_of(entry: Entry) -> str:
    if entry.record is not None:
        return entry.record.account_id
    assert entry.receipt is not None
    return entry.receipt.account_id


def receipt_json(event: ReceiptReceived) -> str:
    return json.dumps(
        {
            "a": event.account_id,
            "ids": list(event.message_ids),
            "c": event.chat_jid,
            "p": event.chat_pn_jid,
            "s": event.status,
            "t": to_ms(event.timestamp),
        },
        separators=(",", ":"),
    )


def receipt_from_json(text: str) -> ReceiptReceived:
    raw = json.loads(text)
    return ReceiptReceived(
        account_id=raw["a"],
        message_ids=tuple(raw["ids"]),
        chat_jid=raw["c"],
        status=raw["s"],
        timestamp=from_ms(raw["t"]),
        chat_pn_jid=raw["p"],
    )


@dataclass(frozen=True)
class CreatedMessage:
    """A message document the pipeline just created (for push notifications and media
    downloads): never a duplicate, a change, or an upgrade."""

    record: InboundRecord
    thread_id: str
    path: str
    thread: dict[str, Any]  # the thread as this flush left it (name, subject)
    replayed: bool


CreatedHook = Callable[[list[CreatedMessage]], None]


def created_messages(
    placed: Sequence[tuple[Entry, Placed]],
    won: Sequence[Placed],
    threads: Mapping[str, Snapshot | None],
) -> list[CreatedMessage]:
    """What the `on_created` hook hears of a flush: the messages it created (`won`, a subset of
    the `placed` items), each with its thread as the flush left it."""
    replayed = {id(item): entry.replayed for entry, item in placed}
    created = []
    for item in won:
        snap = threads.get(item.thread_id)
        created.append(
            CreatedMessage(
                item.record,
                item.thread_id,
                item.path,
                dict(snap.data) if snap else {},
                replayed.get(id(item), False),
            )
        )
    return created


def announce(hook: CreatedHook, created: list[CreatedMessage]) -> None:
    try:
        hook(created)
    except Exception:  # a listener never fails the write that already happened
        logging.getLogger(__name__).exception("inbound on_created listener failed")
