"""Which transport call an outbox item makes: a text (every account), an approved template
(`template: {name, language, components}`, Cloud API accounts only; broadcasts use it outside
the 24-hour window), or a file and/or a reply (`media: {url, mimeType, fileName?, kind}`,
`replyTo: {messageId, waMessageId}`, Cloud API accounts only: the linked-device port sends text).
Kept apart from the worker so the worker stays one send path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from session_daemon.transport.port import SendResult, TransportError, WhatsAppTransport

__all__ = [
    "REPLY_MEDIA_REQUIRES_CLOUD",
    "TEMPLATE_REQUIRES_CLOUD",
    "ReplyOrMediaNotSupported",
    "TemplateNotSupported",
    "send_item",
]

TEMPLATE_REQUIRES_CLOUD: Final = "template_requires_cloud_account"
REPLY_MEDIA_REQUIRES_CLOUD: Final = "media_or_reply_requires_cloud_account"


class TemplateNotSupported(TransportError):
    """A template item for a linked-device account: WhatsApp templates exist only on the Cloud
    API; never retried."""

    code = TEMPLATE_REQUIRES_CLOUD

    def __init__(self, account_id: str) -> None:
        super().__init__(
            f"{TEMPLATE_REQUIRES_CLOUD}: {account_id} is a linked device; templates are sent "
            "by Cloud API accounts only",
            retryable=False,
        )


class ReplyOrMediaNotSupported(TransportError):
    """A file or a quoted reply for a linked-device account, whose port sends text only; never
    retried (sending the bare text instead would lose what staff asked for)."""

    code = REPLY_MEDIA_REQUIRES_CLOUD

    def __init__(self, account_id: str) -> None:
        super().__init__(
            f"{REPLY_MEDIA_REQUIRES_CLOUD}: {account_id} is a linked device; files and quoted "
            "replies are sent by Cloud API accounts only",
            retryable=False,
        )


def _mapping(value: Any) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) else None


async def send_item(
    transport: WhatsAppTransport,
    account_id: str,
    to_jid: str,
    text: str,
    item: Mapping[str, Any],
) -> SendResult:
    """Send one outbox item (`item` is its document) through the port call its fields ask for."""
    template = _mapping(item.get("template"))
    if template is not None:
        send_template = getattr(transport, "send_template", None)
        if send_template is None:
            raise TemplateNotSupported(account_id)
        result: SendResult = await send_template(
            account_id,
            to_jid,
            str(template.get("name") or ""),
            str(template.get("language") or ""),
            components=list(template.get("components") or []),
        )
        return result
    media = _mapping(item.get("media"))
    reply = _mapping(item.get("replyTo"))
    if media is None and reply is None:
        return await transport.send_text(account_id, to_jid, text)
    send_message = getattr(transport, "send_message", None)
    if send_message is None:
        raise ReplyOrMediaNotSupported(account_id)
    sent: SendResult = await send_message(
        account_id,
        to_jid,
        text,
        reply_to=str(reply.get("waMessageId") or "") or None if reply else None,
        media=dict(media) if media else None,
    )
    return sent
