"""The webhook sink: routed Cloud API events → the inbound pipeline's `submit`, journalled
before the webhook answers 200.

`submit` (the pipeline's) blocks until the event is fsync'd in the journal, so it runs in a
worker thread; when every event of a delivery has returned, the delivery is durable and the
handler may answer 200. The journal's consumers deduplicate (message documents are created once
per `wamid`; receipts only move a status forward), so Meta's byte-identical retries store nothing
twice.

What the transport port cannot carry yet goes to `on_other` (called after the journal, also
before the 200): `failed` statuses (`statuses.status_patch`), identity changes (`system`),
contact-book updates, account notices, and messages of users known only by a BSUID, which the
pipeline's conversion does not address yet. Phase 2 of the Cloud API work journals those too.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from session_daemon.cloud_api.convert import to_transport_events
from session_daemon.cloud_api.model import CloudEvent, CloudMessage, CloudStatus
from session_daemon.cloud_api.webhook import Delivery
from session_daemon.transport.port import TransportEvent

__all__ = ["PipelineIntake", "split_events"]

Submit = Callable[[TransportEvent], None]
OnOther = Callable[[str, list[CloudEvent]], Awaitable[None]]


def split_events(
    events: list[CloudEvent],
) -> tuple[list[CloudMessage], list[CloudStatus], list[CloudEvent]]:
    """(messages the pipeline takes, receipts it takes, everything else)."""
    messages: list[CloudMessage] = []
    statuses: list[CloudStatus] = []
    other: list[CloudEvent] = []
    for event in events:
        if isinstance(event, CloudMessage):
            if event.system is None and event.client.pn_jid is not None:
                messages.append(event)
            else:
                other.append(event)
        elif isinstance(event, CloudStatus) and event.status in ("delivered", "read", "played"):
            statuses.append(event)
        else:
            other.append(event)
    return messages, statuses, other


async def _nothing(account_id: str, events: list[CloudEvent]) -> None:
    return None


@dataclass
class PipelineIntake:
    submit: Submit
    on_other: OnOther = _nothing
    counters: Counter[str] = field(default_factory=Counter)

    async def __call__(self, delivery: Delivery) -> None:
        for account_id, events in delivery.routed.by_account.items():
            messages, statuses, other = split_events(events)
            transport_events = to_transport_events(account_id, messages, statuses)
            if transport_events:
                await asyncio.to_thread(self._submit_all, transport_events)
            self.counters["journalled"] += len(transport_events)
            if other:
                await self.on_other(account_id, other)
                self.counters["other"] += len(other)

    def _submit_all(self, events: list[TransportEvent]) -> None:
        for event in events:
            self.submit(event)
