"""Which transport call an outbox item makes: a text (every account), or an approved template
(`template: {name, language, components}`, Cloud API accounts only; broadcasts use it outside
the 24-hour window). Kept apart from the worker so the worker stays one send path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from session_daemon.transport.port import SendResult, TransportError, WhatsAppTransport

__all__ = ["TEMPLATE_REQUIRES_CLOUD", "TemplateNotSupported", "send_item"]

TEMPLATE_REQUIRES_CLOUD: Final = "template_requires_cloud_account"


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


async def send_item(
    transport: WhatsAppTransport, account_id: str, to_jid: str, text: str, template: Any
) -> SendResult:
    if not isinstance(template, Mapping):
        return await transport.send_text(account_id, to_jid, text)
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
