"""Meta's message statuses onto our forward-only receipt rules. Pure.

Our outbound statuses only move forward: `queued < sent < delivered < read` (`played`, a voice
note listened to, counts as `read`). Meta's statuses arrive out of order and may skip
`delivered` when `read` comes at once, so the patch fills every earlier step's time it has not
seen yet. `failed` is special:

- before the message reached the phone (no status yet, `queued`, `sent`) it is the message's
  fate: status `failed` with Meta's error;
- after `delivered` or `read` it cannot undo the delivery (Meta reports, for instance, a
  failed media re-download): the status stays, and the error is recorded on the message
  (`deliveryError`), never a step back;
- a `delivered`/`read` that arrives after `failed` (out of order) is evidence the message got
  there: the status moves to it and the error stays recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from session_daemon.cloud_api.errors import classify
from session_daemon.cloud_api.model import CloudStatus
from shared.timeutil import from_ms

__all__ = ["StatusPatch", "status_patch"]

_RANK: Final = {"queued": 0, "sent": 1, "delivered": 2, "read": 3}
_STEP_FIELD: Final = {"delivered": "deliveredAt", "read": "readAt"}


def _rank(status: object) -> int:
    return _RANK.get(status, -1) if isinstance(status, str) else -1


@dataclass(frozen=True)
class StatusPatch:
    patch: dict[str, Any]  # fields to update on the message document (empty: nothing to do)
    moved: bool  # the status itself changed


def _error_fields(status: CloudStatus) -> dict[str, Any]:
    first = status.errors[0] if status.errors else None
    mapped = classify(first.code if first else None, first.title if first else "")
    return {
        "code": mapped.code,
        "metaCode": first.code if first else None,
        "title": first.title if first else "",
        "at": from_ms(status.ts_ms),
    }


def status_patch(current: Mapping[str, Any], status: CloudStatus) -> StatusPatch:
    """The update for a message document (`current`) given one status from Meta."""
    now_status = current.get("status")
    at = from_ms(status.ts_ms)
    if status.status == "failed":
        error = _error_fields(status)
        if _rank(now_status) >= _RANK["delivered"]:
            if current.get("deliveryError") == error:
                return StatusPatch({}, moved=False)
            return StatusPatch({"deliveryError": error}, moved=False)
        if now_status == "failed":
            return StatusPatch({}, moved=False)
        return StatusPatch(
            {
                "status": "failed",
                "failedAt": at,
                "lastError": error["code"],
                "deliveryError": error,
            },
            moved=True,
        )
    target = "read" if status.status == "played" else status.status
    patch: dict[str, Any] = {}
    # fill every step up to this one whose time we do not have yet (read may skip delivered)
    for step, field in _STEP_FIELD.items():
        if _RANK[step] <= _RANK[target] and not current.get(field):
            patch[field] = at
            patch[field + "Ms"] = status.ts_ms
    if status.status == "played" and not current.get("playedAt"):
        patch["playedAt"] = at
    moved = now_status == "failed" or _rank(target) > _rank(now_status)
    if moved:
        patch["status"] = target
    return StatusPatch(patch, moved=moved)
