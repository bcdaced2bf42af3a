"""The webhook sink: routed Cloud API events → the inbound pipeline's `submit`, journalled
before the webhook answers 200.

`submit` (the pipeline's) blocks until the event is fsync'd in the journal, so it runs in a
worker thread; when every event of a delivery has returned, the delivery is durable and the
handler may answer 200. The journal's consumers deduplicate (message documents are created once
per `wamid`; receipts only move a status forward), so Meta's byte-identical retries store nothing
twice.

With a `store`, what the transport port cannot carry is written directly, still before the
200: messages of users known only by a BSUID (`bsuid_threads`), the merge of a BSUID thread
into the phone thread when a payload names both (or a `system` message moves the client to a new
phone or BSUID), statuses the pipeline cannot place (`failed`, and any status of a client with a
BSUID: `status_writer`). The rest (`system` changes, after their text is stored; contact-book
updates, account notices, `sent` statuses) goes to `on_other`.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from session_daemon.cloud_api.bsuid_threads import merge_bsuid_thread, store_bsuid_messages
from session_daemon.cloud_api.convert import receipt_event, to_transport_events
from session_daemon.cloud_api.identity import bsuid_jid
from session_daemon.cloud_api.model import CloudEvent, CloudMessage, CloudStatus
from session_daemon.cloud_api.status_writer import apply_status
from session_daemon.cloud_api.webhook import Delivery
from session_daemon.transport.port import TransportEvent
from shared.store.port import DocumentStore
from shared.timeutil import utc_now

__all__ = ["PipelineIntake", "split_events"]

Submit = Callable[[TransportEvent], None]
OnOther = Callable[[str, list[CloudEvent]], Awaitable[None]]


def split_events(
    events: list[CloudEvent],
) -> tuple[list[CloudMessage], list[CloudStatus], list[CloudEvent]]:
    """(messages the pipeline takes, receipts it takes, everything else).

    A receipt of a client with a BSUID is not the pipeline's: its message may sit in the BSUID
    thread or in the phone thread it was merged into, and the pipeline looks in one chat only."""
    messages: list[CloudMessage] = []
    statuses: list[CloudStatus] = []
    other: list[CloudEvent] = []
    for event in events:
        if isinstance(event, CloudMessage):
            if event.client.pn_jid is not None:
                messages.append(event)
                if event.system is not None:
                    other.append(event)  # its text is a message; its identity change is told
            else:
                other.append(event)
        elif (
            isinstance(event, CloudStatus)
            and event.status in ("delivered", "read", "played")
            and event.recipient.bsuid is None
        ):
            statuses.append(event)
        else:
            other.append(event)
    return messages, statuses, other


async def _nothing(account_id: str, events: list[CloudEvent]) -> None:
    return None


def identity_pairs(events: list[CloudEvent]) -> set[tuple[str, str]]:
    """(BSUID, phone JID) of every client a payload named both ways."""
    pairs: set[tuple[str, str]] = set()
    for event in events:
        client = (
            event.client
            if isinstance(event, CloudMessage)
            else (event.recipient if isinstance(event, CloudStatus) else None)
        )
        if client is not None and client.bsuid and client.pn_jid:
            pairs.add((client.bsuid, client.pn_jid))
    return pairs


def identity_changes(events: list[CloudEvent]) -> set[tuple[str, str]]:
    """(previous BSUID, the client's new address) from `system` messages: a new phone
    (`user_changed_number`, which also regenerates the BSUID) or a new BSUID alone
    (`user_changed_user_id`). The previous BSUID's thread follows the client there."""
    out: set[tuple[str, str]] = set()
    for event in events:
        change = event.system if isinstance(event, CloudMessage) else None
        if change is None or change.previous_bsuid is None:
            continue
        if change.new_pn_jid is not None:
            out.add((change.previous_bsuid, change.new_pn_jid))
        elif change.new_bsuid is not None and change.new_bsuid != change.previous_bsuid:
            out.add((change.previous_bsuid, bsuid_jid(change.new_bsuid)))
    return out


@dataclass
class PipelineIntake:
    submit: Submit
    on_other: OnOther = _nothing
    store: DocumentStore | None = None
    counters: Counter[str] = field(default_factory=Counter)
    _merged: set[tuple[str, str, str]] = field(default_factory=set)  # (account, bsuid, pn)

    async def __call__(self, delivery: Delivery) -> None:
        for account_id, events in delivery.routed.by_account.items():
            messages, statuses, other = split_events(events)
            transport_events = to_transport_events(account_id, messages, statuses)
            if transport_events:
                await asyncio.to_thread(self._submit_all, transport_events)
            self.counters["journalled"] += len(transport_events)
            if self.store is not None:
                other = await asyncio.to_thread(self._write_direct, account_id, events, other)
            if other:
                await self.on_other(account_id, other)
                self.counters["other"] += len(other)

    def _submit_all(self, events: list[TransportEvent]) -> None:
        for event in events:
            self.submit(event)

    def _write_direct(
        self, account_id: str, events: list[CloudEvent], other: list[CloudEvent]
    ) -> list[CloudEvent]:
        assert self.store is not None
        now = utc_now()
        for bsuid, target in sorted(identity_pairs(events) | identity_changes(events)):
            if (account_id, bsuid, target) not in self._merged:
                merge_bsuid_thread(self.store, account_id, bsuid, target, now)
                self._merged.add((account_id, bsuid, target))
                self.counters["identities_merged"] += 1
        bsuid_only = [e for e in other if isinstance(e, CloudMessage) and e.client.pn_jid is None]
        self.counters["bsuid_messages"] += store_bsuid_messages(
            self.store, account_id, bsuid_only, now
        )
        stored = {id(e) for e in bsuid_only}
        rest: list[CloudEvent] = []
        for event in other:
            if id(event) in stored:
                if isinstance(event, CloudMessage) and event.system is not None:
                    rest.append(event)  # stored as text; its identity change is told too
                continue
            if not isinstance(event, CloudStatus) or event.status == "sent":
                rest.append(event)
                continue
            found = apply_status(self.store, account_id, event)
            receipt = receipt_event(account_id, event) if found is None else None
            if receipt is not None:
                # not recorded yet (a send whose answer is still on its way): the pipeline keeps
                # it as a pending receipt for when the message is recorded
                self.submit(receipt)
            self.counters["statuses_unmatched" if found is None else "statuses_applied"] += 1
        return rest
