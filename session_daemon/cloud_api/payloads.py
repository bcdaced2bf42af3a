"""A webhook body → a `WebhookBatch` of typed events. Pure: bytes in, dataclasses out.

Envelope: `{"object": "whatsapp_business_account", "entry": [{"id": WABA, "changes": [{"field",
"value"}]}]}`; one POST may batch several entries and changes. Fields handled:

- `messages`: `value.messages[]` (client messages, `system` changes) and `value.statuses[]`;
- `smb_message_echoes`: `value.message_echoes[]`, typed in the Business app (coexistence) →
  outbound messages;
- `history`: `value.history[].threads[].messages[]` → past messages of both directions;
- `smb_app_state_sync`: `value.state_sync[]` contacts → names;
- `account_update`, `phone_number_quality_update`, `message_template_status_update` → notices.

A body that is not such an envelope raises `MalformedPayload` (the handler answers 400); an
unreadable item inside a valid envelope, or a field we do not handle, is counted in
`batch.skipped` and the rest proceeds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from session_daemon.cloud_api.content import MalformedItem, parse_content, parse_errors, text_of
from session_daemon.cloud_api.identity import ClientRef, is_bsuid, phone_jid_of_wa_id
from session_daemon.cloud_api.model import (
    AccountNotice,
    CloudMessage,
    CloudStatus,
    ContactUpdate,
    Origin,
    StatusName,
    WebhookBatch,
)

__all__ = ["MalformedPayload", "parse_webhook"]

OBJECT: Final = "whatsapp_business_account"
STATUSES: Final[tuple[StatusName, ...]] = ("sent", "delivered", "read", "played", "failed")
NOTICE_FIELDS: Final = frozenset(
    {"account_update", "phone_number_quality_update", "message_template_status_update"}
)


class MalformedPayload(ValueError):
    pass


def _ts_ms(raw: object) -> int:
    """Meta's timestamps are seconds since the epoch, as a string (sometimes a number)."""
    if isinstance(raw, bool):
        raise MalformedItem("timestamp is a bool")
    if isinstance(raw, str) and raw.isdigit():
        return int(raw) * 1000
    if isinstance(raw, int):
        return raw * 1000
    raise MalformedItem(f"timestamp {raw!r} is not seconds")


def _wamid(raw: object) -> str:
    if not isinstance(raw, str) or not raw or len(raw) > 512:
        raise MalformedItem("missing message id")
    return raw


def _opt(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


class _Change:
    """One `changes[]` item: its value, metadata and contacts, read once."""

    def __init__(self, waba_id: str, value: Mapping[str, Any]) -> None:
        self.waba_id = waba_id
        self.value = value
        metadata = value.get("metadata")
        metadata = metadata if isinstance(metadata, Mapping) else {}
        self.phone_number_id = text_of(metadata.get("phone_number_id"))
        self.display_phone = text_of(metadata.get("display_phone_number"))
        raw_contacts = value.get("contacts")
        self.contacts = [c for c in raw_contacts or [] if isinstance(c, Mapping)]

    def items(self, key: str) -> list[Any]:
        raw = self.value.get(key)
        return raw if isinstance(raw, list) else []

    def contact_for(self, wa_id: str | None, user_id: str | None) -> Mapping[str, Any]:
        """The `contacts[]` entry of a sender: by phone, else by BSUID, else the only one."""
        for contact in self.contacts:
            if wa_id and contact.get("wa_id") == wa_id:
                return contact
            if user_id and contact.get("user_id") == user_id:
                return contact
        return self.contacts[0] if len(self.contacts) == 1 and not (wa_id or user_id) else {}

    def client(self, wa_id: object, user_id: object, *, with_contact: bool = True) -> ClientRef:
        wa = wa_id if isinstance(wa_id, str) and wa_id else None
        uid = user_id if isinstance(user_id, str) and is_bsuid(user_id) else None
        contact = self.contact_for(wa, uid) if with_contact else {}
        listed = contact.get("user_id")
        if uid is None and isinstance(listed, str) and is_bsuid(listed):
            uid = listed
        if wa is None:
            wa = _opt(contact.get("wa_id"))
        profile = contact.get("profile")
        profile = profile if isinstance(profile, Mapping) else {}
        return ClientRef(
            pn_jid=phone_jid_of_wa_id(wa),
            bsuid=uid,
            profile_name=_opt(profile.get("name")),
            username=_opt(profile.get("username")),
        )


def _message(
    change: _Change, item: Mapping[str, Any], client: ClientRef, *, outbound: bool, origin: Origin
) -> CloudMessage:
    meta_type = text_of(item.get("type")) or "unsupported"
    content = parse_content(meta_type, item)
    context = item.get("context")
    context = context if isinstance(context, Mapping) else {}
    referral = item.get("referral")
    return CloudMessage(
        wamid=_wamid(item.get("id")),
        phone_number_id=change.phone_number_id,
        waba_id=change.waba_id,
        client=client,
        direction="outbound" if outbound else "inbound",
        origin=origin,
        ts_ms=_ts_ms(item.get("timestamp")),
        meta_type=meta_type,
        text=content.text,
        media=content.media,
        reply_to=_opt(context.get("id")),
        forwarded=bool(context.get("forwarded") or context.get("frequently_forwarded")),
        reaction=content.reaction,
        interactive=content.interactive,
        location=content.location,
        contacts=content.contacts,
        system=content.system,
        referral=dict(referral) if isinstance(referral, Mapping) else None,
        errors=parse_errors(item.get("errors")),
    )


def _messages(change: _Change, batch: WebhookBatch) -> None:
    for item in change.items("messages"):
        try:
            if not isinstance(item, Mapping):
                raise MalformedItem("message is not an object")
            # a system message has no contacts array and names the user by `from` only
            client = change.client(
                item.get("from"),
                item.get("from_user_id") or item.get("user_id"),
                with_contact=item.get("type") != "system",
            )
            if not client.known:
                raise MalformedItem("message without from or user id")
            batch.events.append(_message(change, item, client, outbound=False, origin="live"))
        except MalformedItem:
            batch.skipped["malformed_message"] += 1
    for item in change.items("statuses"):
        try:
            batch.events.append(_status(change, item))
        except MalformedItem:
            batch.skipped["malformed_status"] += 1


def _status(change: _Change, item: object) -> CloudStatus:
    if not isinstance(item, Mapping):
        raise MalformedItem("status is not an object")
    status = item.get("status")
    if status not in STATUSES:
        raise MalformedItem(f"unknown status {status!r}")
    recipient = change.client(item.get("recipient_id"), item.get("recipient_user_id"))
    # `conversation` and `pricing` are optional since per-message pricing: read defensively
    conversation = item.get("conversation")
    pricing = item.get("pricing")
    pricing = pricing if isinstance(pricing, Mapping) else {}
    billable = pricing.get("billable")
    return CloudStatus(
        message_id=_wamid(item.get("id")),
        status=status,
        ts_ms=_ts_ms(item.get("timestamp")),
        phone_number_id=change.phone_number_id,
        waba_id=change.waba_id,
        recipient=recipient,
        errors=parse_errors(item.get("errors")),
        conversation_id=_opt(conversation.get("id")) if isinstance(conversation, Mapping) else None,
        pricing_category=_opt(pricing.get("category")),
        billable=billable if isinstance(billable, bool) else None,
    )


def _echoes(change: _Change, batch: WebhookBatch) -> None:
    for item in change.items("message_echoes"):
        try:
            if not isinstance(item, Mapping):
                raise MalformedItem("echo is not an object")
            client = change.client(item.get("to"), item.get("to_user_id"))
            if not client.known:
                raise MalformedItem("echo without recipient")
            batch.events.append(_message(change, item, client, outbound=True, origin="echo"))
        except MalformedItem:
            batch.skipped["malformed_echo"] += 1


def _history(change: _Change, batch: WebhookBatch) -> None:
    for chunk in change.items("history"):
        if not isinstance(chunk, Mapping):
            batch.skipped["malformed_history"] += 1
            continue
        if chunk.get("errors"):  # the user declined to share history: nothing to mirror
            batch.skipped["history_declined"] += 1
        for thread in chunk.get("threads") or []:
            if not isinstance(thread, Mapping):
                batch.skipped["malformed_history"] += 1
                continue
            client = change.client(thread.get("id"), thread.get("user_id"), with_contact=False)
            for item in thread.get("messages") or []:
                try:
                    if not isinstance(item, Mapping) or not client.known:
                        raise MalformedItem("history item")
                    # the business's own messages carry its number as `from`
                    mine = bool(change.display_phone) and item.get("from") == change.display_phone
                    event = _message(change, item, client, outbound=mine, origin="history")
                    batch.events.append(event)
                except MalformedItem:
                    batch.skipped["malformed_history"] += 1


def _state_sync(change: _Change, batch: WebhookBatch) -> None:
    for item in change.items("state_sync"):
        contact = item.get("contact") if isinstance(item, Mapping) else None
        if not isinstance(contact, Mapping) or item.get("type") != "contact":
            batch.skipped["state_sync_other"] += 1
            continue
        wa_id = text_of(contact.get("phone_number")).lstrip("+")
        client = ClientRef(pn_jid=phone_jid_of_wa_id(wa_id), bsuid=None)
        if not client.known:
            batch.skipped["malformed_state_sync"] += 1
            continue
        meta = item.get("metadata")
        ts = meta.get("timestamp") if isinstance(meta, Mapping) else None
        try:
            ts_ms = _ts_ms(ts) if ts is not None else None
        except MalformedItem:
            ts_ms = None
        batch.events.append(
            ContactUpdate(
                phone_number_id=change.phone_number_id,
                client=client,
                name=_opt(contact.get("full_name")) or _opt(contact.get("first_name")),
                action=text_of(item.get("action")) or "add",
                ts_ms=ts_ms,
            )
        )


_HANDLERS = {
    "messages": _messages,
    "smb_message_echoes": _echoes,
    "history": _history,
    "smb_app_state_sync": _state_sync,
}


def parse_webhook(body: bytes | str | Mapping[str, Any]) -> WebhookBatch:
    """Parse a delivery. Raises MalformedPayload when it is not a Cloud API envelope."""
    if isinstance(body, bytes | str):
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise MalformedPayload("the body is not JSON") from exc
    else:
        doc = body
    if not isinstance(doc, Mapping) or doc.get("object") != OBJECT:
        raise MalformedPayload(f"object must be {OBJECT!r}")
    entries = doc.get("entry")
    if not isinstance(entries, list):
        raise MalformedPayload("entry must be a list")
    batch = WebhookBatch()
    for entry in entries:
        changes = entry.get("changes") if isinstance(entry, Mapping) else None
        if not isinstance(changes, list):
            batch.skipped["malformed_entry"] += 1
            continue
        waba_id = text_of(entry.get("id"))
        for raw in changes:
            if not isinstance(raw, Mapping) or not isinstance(raw.get("value"), Mapping):
                batch.skipped["malformed_change"] += 1
                continue
            field_name = text_of(raw.get("field"))
            change = _Change(waba_id, raw["value"])
            if field_name in NOTICE_FIELDS:
                batch.events.append(AccountNotice(field_name, waba_id, dict(raw["value"])))
                continue
            handler = _HANDLERS.get(field_name)
            if handler is None:
                batch.skipped[f"field:{field_name or '?'}"] += 1
                continue
            if change.phone_number_id:
                batch.phone_number_ids.add(change.phone_number_id)
            else:
                batch.skipped["no_phone_number_id"] += 1
                continue
            handler(change, batch)
    return batch
