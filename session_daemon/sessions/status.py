"""Account status rules: which transport event moves an account to which status (pure).

The statuses are those of CONTRACT.md (`connecting`, `qr_ready`, `connected`, `disconnected`,
`logged_out`, `needs_qr`) plus ours: `temporarily_banned`, `stream_replaced`, `error`, and
`deleted` (the account document is kept, never removed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

from session_daemon.transport.port import (
    Connected,
    Disconnected,
    LoggedOut,
    Paired,
    PairFailed,
    PairingCode,
    QrCode,
    QrTimeout,
    StreamReplaced,
    TemporaryBan,
    TransportEvent,
)
from shared.schemas import AccountStatus

# Statuses after which the daemon never reconnects on its own: a person must act.
NO_AUTO_RETRY: Final[frozenset[str]] = frozenset(
    {"logged_out", "needs_qr", "temporarily_banned", "stream_replaced", "deleted"}
)

SecretsAction = Literal["keep", "set_qr", "set_pairing_code", "clear"]


@dataclass(frozen=True)
class Transition:
    """What to do with one status event. `fields` are extra account-document fields."""

    status: AccountStatus | None = None
    last_error: str | None = None
    set_last_error: bool = False
    stop_session: bool = False
    pairing_finished: bool = False
    secrets: SecretsAction = "keep"
    fields: dict[str, Any] = field(default_factory=dict)


def transition_for(event: TransportEvent) -> Transition | None:
    """The status change an event implies, or None for events that are not about status."""
    match event:
        case QrCode():
            return Transition(status="qr_ready", secrets="set_qr")
        case PairingCode():
            return Transition(secrets="set_pairing_code")
        case Paired(own_jid=own_jid, push_name=push_name):
            fields: dict[str, Any] = {"waJid": own_jid, "paired": True}
            if push_name:
                fields["pushName"] = push_name
            return Transition(
                status="connecting",
                last_error=None,
                set_last_error=True,
                pairing_finished=True,
                secrets="clear",
                fields=fields,
            )
        case PairFailed(error=error):
            return Transition(
                status="needs_qr",
                last_error=f"pairing failed: {error}",
                set_last_error=True,
                stop_session=True,
                pairing_finished=True,
                secrets="clear",
            )
        case Connected():
            return Transition(status="connected", last_error=None, set_last_error=True)
        case Disconnected(reason=reason):
            return Transition(
                status="disconnected", last_error=reason or "disconnected", set_last_error=True
            )
        case LoggedOut(reason=reason):
            return Transition(
                status="logged_out",
                last_error=f"logged out from the phone{': ' + reason if reason else ''}",
                set_last_error=True,
                stop_session=True,
                pairing_finished=True,
                secrets="clear",
                fields={"paired": False},
            )
        case StreamReplaced():
            return Transition(
                status="stream_replaced",
                last_error="another process opened this session (stream replaced); "
                "run only one daemon per account",
                set_last_error=True,
                stop_session=True,
            )
        case TemporaryBan(code=code, expires_at=expires_at):
            until = f" until {_iso(expires_at)}" if expires_at else ""
            return Transition(
                status="temporarily_banned",
                last_error=f"temporarily banned by WhatsApp (code {code}){until}",
                set_last_error=True,
                stop_session=True,
                fields={"banExpiresAt": expires_at},
            )
        case QrTimeout():
            return Transition(
                status="needs_qr",
                last_error="QR code expired before it was scanned; regenerate the QR",
                set_last_error=True,
                stop_session=True,
                pairing_finished=True,
                secrets="clear",
            )
    return None


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def should_restore(data: dict[str, Any], now: datetime, session_db_exists: bool) -> bool:
    """Whether start-up resumes this account's session (without a QR)."""
    if not session_db_exists or not data.get("paired"):
        return False
    status = data.get("status")
    if status == "temporarily_banned":
        expires = data.get("banExpiresAt")
        return isinstance(expires, datetime) and expires <= now
    return status not in NO_AUTO_RETRY
