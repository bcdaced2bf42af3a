"""What travels through the inbound pipeline: a journalled entry (a message record or a receipt),
a group-commit request, and the journal's text form of a receipt."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Literal

from session_daemon.inbound.convert import InboundRecord
from session_daemon.transport.port import ReceiptReceived
from shared.timeutil import from_ms, to_ms

__all__ = [
    "Append",
    "Entry",
    "Kind",
    "PipelineClosed",
    "account_of",
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
