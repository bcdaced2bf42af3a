"""Account status rules: which transport event moves an account to which status (pure).

The statuses are those of CONTRACT.md (`connecting`, `qr_ready`, `connected`, `disconnected`,
`logged_out`, `needs_qr`) plus ours: `temporarily_banned`, `stream_replaced`, `error`,
`degraded`, `connect_failed`, `client_outdated`, `passkey_required`, and `deleted` (the account
document is kept, never removed). `STATUS_TABLE` below is the one description of each, used by
the README and the OpenAPI document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

from session_daemon.transport.port import (
    ClientOutdated,
    Connected,
    ConnectFailure,
    Disconnected,
    KeepAliveRestored,
    KeepAliveTimeout,
    LoggedOut,
    Paired,
    PairFailed,
    PairingCode,
    PasskeyRequired,
    QrCode,
    QrTimeout,
    SessionEnded,
    StreamReplaced,
    TemporaryBan,
    TransportEvent,
)
from shared.schemas import AccountStatus

# Statuses after which the daemon never reconnects on its own: a person must act.
NO_AUTO_RETRY: Final[frozenset[str]] = frozenset(
    {
        "logged_out",
        "needs_qr",
        "temporarily_banned",
        "stream_replaced",
        "deleted",
        "passkey_required",
    }
)

# ConnectFailure reasons that are WhatsApp's own trouble (HTTP 5xx-like): retried with backoff.
TRANSIENT_CONNECT_FAILURES: Final[frozenset[str]] = frozenset(
    {"service_unavailable", "internal_server_error", "experimental", "unknown"}
)

# name -> (meaning, what the operator does). The README table and the OpenAPI description of
# `status` are generated from this (tests check they agree).
STATUS_TABLE: Final[dict[str, tuple[str, str]]] = {
    "connecting": ("A session is starting or resuming.", "Wait."),
    "qr_ready": ("A QR code is waiting to be scanned.", "Scan it: Linked devices > Link a device."),
    "connected": ("Connected; messages flow both ways.", "Nothing."),
    "degraded": (
        "Connected, but WhatsApp stopped answering keep-alives: messages may be late until it "
        "recovers (the session retries by itself).",
        "Wait; if it lasts more than a few minutes, check the network or the proxy.",
    ),
    "disconnected": (
        "The connection dropped or the session host ended; `lastError` says why and when the "
        "automatic restart happens.",
        "Wait for the automatic reconnect; Reconnect (regenerate-qr) if it lasts.",
    ),
    "error": (
        "A start attempt failed; the daemon retries with backoff (`nextRetryAt`).",
        "Check `lastError` (network, proxy); nothing to do if it recovers.",
    ),
    "connect_failed": (
        "WhatsApp refused the connection with a reason the library does not retry.",
        "Read `lastError`; check the number on the phone, then Reconnect.",
    ),
    "client_outdated": (
        "WhatsApp refuses this version of the WhatsApp library.",
        "Update neonize (the library) and restart the daemon; the session is kept.",
    ),
    "temporarily_banned": (
        "WhatsApp banned the number for a while (`banExpiresAt`).",
        "Stop sending; the daemon reconnects by itself a minute after the expiry.",
    ),
    "logged_out": (
        "The device was unlinked (from the phone, or after ~14 days without the phone online).",
        "Pair again: Regenerate QR.",
    ),
    "needs_qr": ("No paired session (the QR expired or pairing failed).", "Regenerate QR."),
    "passkey_required": (
        "The phone scanned the code but the link never completed: WhatsApp asked for a passkey "
        "check that this library (neonize 0.5.2) cannot answer.",
        "Move the number to the official Cloud API account kind, or retry later.",
    ),
    "stream_replaced": (
        "Another process opened this same session.",
        "Run one daemon per account; then Reconnect.",
    ),
    "deleted": ("The account was deleted; its threads and messages are kept.", "Nothing."),
}

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
    restart: bool = False  # start the session again after a backoff


def status_table_markdown() -> str:
    """The README's status table (a test keeps the README equal to it)."""
    rows = ["| status | meaning | what the operator does |", "|---|---|---|"]
    rows += [
        f"| `{name}` | {meaning} | {action} |" for name, (meaning, action) in STATUS_TABLE.items()
    ]
    return "\n".join(rows)


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
        case SessionEnded(reason=reason):
            return Transition(
                status="disconnected",
                last_error=f"{reason or 'the session ended'}; restarting with backoff",
                set_last_error=True,
                restart=True,
            )
        case KeepAliveTimeout(error_count=count):
            return Transition(
                status="degraded",
                last_error=f"WhatsApp stopped answering keep-alives ({count} missed); "
                "messages may be delayed until the connection recovers",
                set_last_error=True,
            )
        case KeepAliveRestored():
            return Transition(status="connected", last_error=None, set_last_error=True)
        case ConnectFailure(reason=reason, message=message):
            detail = f"{reason}: {message}" if message else reason
            if reason in TRANSIENT_CONNECT_FAILURES:
                return Transition(
                    status="error",
                    last_error=f"WhatsApp refused the connection for now ({detail}); "
                    "retrying with backoff",
                    set_last_error=True,
                    stop_session=True,
                    restart=True,
                )
            return Transition(
                status="connect_failed",
                last_error=f"WhatsApp refused the connection ({detail}) and the library does not "
                "retry it; check the number on the phone, then reconnect",
                set_last_error=True,
                stop_session=True,
            )
        case ClientOutdated():
            return Transition(
                status="client_outdated",
                last_error="WhatsApp rejects this version of the WhatsApp library (client "
                "outdated); update neonize and restart the daemon (the session is kept)",
                set_last_error=True,
                stop_session=True,
            )
        case PasskeyRequired(detail=detail):
            return Transition(
                status="passkey_required",
                last_error="The phone scanned the code but WhatsApp asked for a passkey check to "
                "link this device, which this library (neonize 0.5.2) cannot answer; the phone "
                "shows 'continue on WhatsApp Web'. Use the official Cloud API account kind for "
                f"this number, or retry later.{' (' + detail + ')' if detail else ''}",
                set_last_error=True,
                stop_session=True,
                pairing_finished=True,
                secrets="clear",
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
