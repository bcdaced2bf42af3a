"""The inbound pipeline's counters and the shape `/diag` and `/metrics` read (pure)."""

from __future__ import annotations

from typing import Any

__all__ = ["COUNTERS", "skipped_view"]

COUNTERS = (
    "eventsSubmitted",
    "messagesJournalled",
    "messagesStored",
    "duplicatesSkipped",
    "rehomed",
    "receiptsApplied",
    "pendingReceiptsApplied",
    "receiptErrors",
    "storeWrites",
    "threadWrites",
    "flushes",
    "storeErrors",
    "replayed",
    "lidMappings",
    "quarantined",
    "corruptJournalEntries",
    "changesApplied",
    "placeholdersUpgraded",
)

_NAMED_SKIPS = ("group", "status", "broadcast", "newsletter")


def skipped_view(skipped: dict[str, int]) -> dict[str, Any]:
    """Messages not mirrored (groups, status updates, broadcast lists, newsletters, others),
    from the reasons `convert.record_from_wire` gives."""
    return {
        "groupsSkipped": skipped.get("group", 0),
        "statusSkipped": skipped.get("status", 0),
        "broadcastSkipped": skipped.get("broadcast", 0),
        "newsletterSkipped": skipped.get("newsletter", 0),
        "otherSkipped": sum(v for k, v in skipped.items() if k not in _NAMED_SKIPS),
        "skippedByReason": dict(skipped),
    }
