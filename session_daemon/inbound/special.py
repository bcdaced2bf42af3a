"""Pure document contents for the message kinds that are not plain text or media: polls,
missed calls, and the "waiting for this message" placeholder of an undecryptable message.

The app hides a message whose body is empty and has no media (CONTRACT.md section 4), so each
of these gets a readable Romanian body; the structured fields beside it are for the CRM.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

__all__ = [
    "MAX_POLL_OPTIONS",
    "UNDECRYPTABLE_BODY",
    "missed_call_fields",
    "placeholder_fields",
    "poll_fields",
]

UNDECRYPTABLE_BODY: Final = "⏳ Se așteaptă acest mesaj. Poate dura ceva timp."
MAX_POLL_OPTIONS: Final = 12  # WhatsApp's own limit
_MAX_OPTION_CHARS: Final = 100


def placeholder_fields() -> dict[str, Any]:
    """An undecryptable message, stored at once so nothing is lost; `changes.upgrade_patch`
    replaces it in place when the phone resends the content."""
    return {"body": UNDECRYPTABLE_BODY, "messageType": "undecryptable", "undecryptable": True}


def poll_fields(
    name: str | None, options: Iterable[str], selectable_count: int | None = None
) -> dict[str, Any]:
    """A poll of any version. v4 polls come as a `FutureProofMessage` without a name
    (notes/neonize.md): the body then says "Sondaj" and still lists the options."""
    cleaned: list[str] = []
    for option in options:
        text = " ".join(str(option).split())[:_MAX_OPTION_CHARS]
        if text and text not in cleaned:
            cleaned.append(text)
    cleaned = cleaned[:MAX_POLL_OPTIONS]
    title = " ".join((name or "").split())
    lines = [f"📊 {title or 'Sondaj'}", *(f"• {o}" for o in cleaned)]
    count = selectable_count if isinstance(selectable_count, int) and selectable_count > 0 else None
    return {
        "body": "\n".join(lines),
        "messageType": "poll",
        "poll": {"name": title or None, "options": cleaned, "selectableCount": count},
    }


def missed_call_fields(*, video: bool, group: bool = False) -> dict[str, Any]:
    """A missed call, visible in the chat like on the phone."""
    kind = "video" if video else "vocal"
    body = f"{'📹' if video else '📞'} Apel {kind}{' de grup' if group else ''} pierdut"
    return {
        "body": body,
        "messageType": "call",
        "call": {"video": video, "group": group, "missed": True},
    }
