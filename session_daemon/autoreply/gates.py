"""Whether a new inbound message may get an automatic reply: every gate, pure.

`gate(...)` returns None when a reply may go out, else the reason it may not (a stable word,
counted in the engine's stats). The order is cheapest and most final first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from session_daemon.autoreply.settings import (
    AUTOMATIC_UIDS,
    AccountSettings,
    AutoReplyConfig,
    within_hours,
)
from shared.jids import is_phone_jid
from shared.timeutil import ensure_utc, to_ms

HOUR_MS: Final = 3_600_000

REASONS: Final = (
    "disabled",  # the account's autoReplyEnabled is off (or the engine is)
    "not_owner",  # this daemon does not hold the account's lease
    "thread_opt_out",  # threads.aiEnabled == false
    "group",  # groups, broadcast lists, newsletters, LIDs without a phone
    "own_message",  # typed by the account itself
    "history",  # history sync
    "replay",  # read back from the journal after a restart
    "too_old",  # older than max_age_s
    "outside_hours",  # business hours set and not now
    "staff_active",  # a staff message in the last staff_quiet_s
    "rate_limited",  # max_per_hour turns in the last hour
)


@dataclass(frozen=True)
class Incoming:
    """What the gates need of one new message."""

    account_id: str
    thread_id: str
    client_jid: str
    wa_id: str
    from_me: bool
    is_group: bool
    source: str  # live | history
    replayed: bool
    ts_ms: int
    text: str


def _ms(value: object) -> int | None:
    if isinstance(value, datetime):
        return to_ms(ensure_utc(value))
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    return None


def last_staff_ms(recent: Sequence[Mapping[str, Any]]) -> int | None:
    """The newest outbound message written by a person (the app, or typed on the phone)."""
    times = [
        t
        for m in recent
        if m.get("direction") == "outbound"
        and m.get("createdByUid") not in AUTOMATIC_UIDS
        and (t := _ms(m.get("tsClientMs")) or _ms(m.get("tsClient"))) is not None
    ]
    return max(times) if times else None


def turns_in_last_hour(state: Mapping[str, Any], now_ms: int) -> int:
    turns = state.get("turnsMs") or []
    return sum(1 for t in turns if isinstance(t, int) and now_ms - t < HOUR_MS)


def gate(
    msg: Incoming,
    *,
    config: AutoReplyConfig,
    account: AccountSettings,
    thread: Mapping[str, Any],
    recent: Sequence[Mapping[str, Any]],
    owns: bool,
    now: datetime,
) -> str | None:
    now_ms = to_ms(now)
    if not config.enabled or not account.enabled:
        return "disabled"
    if not owns:
        return "not_owner"
    if thread.get("aiEnabled") is False:
        return "thread_opt_out"
    if msg.is_group or not is_phone_jid(msg.client_jid):
        return "group"
    if msg.from_me:
        return "own_message"
    if msg.source != "live":
        return "history"
    if msg.replayed:
        return "replay"
    if now_ms - msg.ts_ms > config.max_age_s * 1000:
        return "too_old"
    if not within_hours(account.hours, now):
        return "outside_hours"
    staff = last_staff_ms(recent)
    if staff is not None and now_ms - staff < config.staff_quiet_s * 1000:
        return "staff_active"
    state = thread.get("autoReplyState") or {}
    if turns_in_last_hour(state, now_ms) >= config.max_per_hour:
        return "rate_limited"
    return None
