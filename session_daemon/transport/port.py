"""The WhatsApp transport port: what the daemon needs from a linked-device connection.

Two adapters implement it: `NeonizeTransport` (real WhatsApp through neonize/whatsmeow) and
`SimulatedTransport` (a phone network in memory, for tests and demos). Everything that crosses the
port is a plain dataclass below: no neonize types leak into the daemon.

Acknowledgement: a transport delivers every event by calling the session's `EventSink`. When that
call returns, the daemon has the event durably (journalled); the transport may then acknowledge it
to WhatsApp. The sink is thread-safe and may be called from any thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from session_daemon.session_import.model import ImportAction, ImportedSession

MessageType = Literal[
    "text",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "location",
    "contact",
    "reaction",
    "poll",
    "call",
    "undecryptable",
    "edit",
    "revoke",
    "other",
]
MediaType = Literal["image", "video", "audio", "document", "sticker"]
# Where a session is stored: a whatsmeow SQLite file, or (`SESSIONS_PATH=postgres://...`) the URL
# of the account's own PostgreSQL database (session_daemon/sessions/pg_sessions.py).
SessionLocation = Path | str


def is_database_url(location: SessionLocation) -> bool:
    """A `postgres://` session location (never a file: `Path()` would fold its '//')."""
    return isinstance(location, str) and location.split(":", 1)[0] in ("postgres", "postgresql")


IMPORT_NEEDS_FOLDER = (
    "importing sessions writes whatsmeow SQLite files: run import-sessions with a sessions folder, "
    "not a postgres:// location"
)


async def write_imported_session(
    session_db: SessionLocation, session: ImportedSession, *, force: bool, dry_run: bool
) -> ImportAction:
    """The import step both neonize transports share: whatsmeow SQLite files only, written off
    the event loop."""
    if is_database_url(session_db):
        raise TransportError(IMPORT_NEEDS_FOLDER, retryable=False)
    from session_daemon.session_import.whatsmeow_db import import_whatsmeow_db

    return await asyncio.to_thread(
        import_whatsmeow_db, Path(session_db), session, force=force, dry_run=dry_run
    )


SIMULATOR_NEEDS_FOLDER = (
    "the simulated transport keeps its device credentials in the sessions folder; "
    "a postgres:// sessions location needs WHATSAPP_TRANSPORT=neonize"
)


def as_location(value: str) -> SessionLocation:
    """A session location received as text (the session-host wire): a URL stays text."""
    return value if is_database_url(value) else Path(value)


ReceiptStatus = Literal["delivered", "read", "played"]


@dataclass(frozen=True)
class Media:
    type: MediaType
    mimetype: str | None = None
    filename: str | None = None
    url: str | None = None
    thumb_base64: str | None = None
    size_bytes: int | None = None
    sha256: str | None = None  # hex of the decrypted file, when the message says it
    voice: bool = False  # a voice note (push-to-talk audio)
    # What the transport's `download_media` needs to fetch the file again (opaque to the
    # daemon, kept in the journal so a download survives a restart); None: not downloadable.
    download: str | None = None


# ---- typed content of the message kinds that are not text or media (one class per kind) ----


@dataclass(frozen=True)
class PollContent:
    name: str | None  # None for v4 polls (a FutureProofMessage without a name)
    options: tuple[str, ...]
    selectable_count: int | None = None


@dataclass(frozen=True)
class CallContent:
    """A missed call."""

    video: bool = False
    group: bool = False


@dataclass(frozen=True)
class UndecryptableContent:
    """A message WhatsApp could not decrypt yet ("waiting for this message"): the same id
    arrives again with its content when the phone resends it."""


@dataclass(frozen=True)
class EditContent:
    target_id: str
    text: str


@dataclass(frozen=True)
class RevokeContent:
    """Deleted for everyone."""

    target_id: str


@dataclass(frozen=True)
class ReactionContent:
    target_id: str
    emoji: str  # "" removes the sender's reaction


Content = (
    PollContent | CallContent | UndecryptableContent | EditContent | RevokeContent | ReactionContent
)


@dataclass(frozen=True)
class WireMessage:
    """One WhatsApp message as the transport saw it, before any store mapping.

    `chat_jid` is the chat as addressed (may be `@lid`); `chat_pn_jid` is its phone-number JID when
    the transport knows it (SenderAlt/RecipientAlt, LID store, history-sync mapping), else None.
    `timestamp` is timezone-aware UTC whatever unit the wire used.
    """

    id: str
    chat_jid: str
    sender_jid: str
    from_me: bool
    timestamp: datetime
    text: str = ""
    message_type: MessageType = "text"
    chat_pn_jid: str | None = None
    sender_pn_jid: str | None = None
    is_group: bool = False
    push_name: str | None = None
    media: Media | None = None
    content: Content | None = None  # the kind's typed content, beside text and media
    group_subject: str | None = None  # a group chat's subject, when the transport knows it


# ---- events a session emits ------------------------------------------------------------------


@dataclass(frozen=True)
class QrCode:
    account_id: str
    code: str  # the raw QR payload to render


@dataclass(frozen=True)
class PairingCode:
    account_id: str
    code: str  # the 8-character phone pairing code


@dataclass(frozen=True)
class Paired:
    account_id: str
    own_jid: str  # the linked phone's JID (`4072...@s.whatsapp.net`)
    push_name: str | None = None


@dataclass(frozen=True)
class PairFailed:
    account_id: str
    error: str


@dataclass(frozen=True)
class Connected:
    account_id: str


@dataclass(frozen=True)
class Disconnected:
    account_id: str
    reason: str = ""


@dataclass(frozen=True)
class LoggedOut:
    account_id: str
    reason: str = ""


@dataclass(frozen=True)
class StreamReplaced:
    account_id: str


@dataclass(frozen=True)
class TemporaryBan:
    account_id: str
    code: int
    expires_at: datetime | None


@dataclass(frozen=True)
class QrTimeout:
    account_id: str


@dataclass(frozen=True)
class SessionEnded:
    """The session's event loop ended although nobody stopped it (for instance an event the Go
    encoder cannot map): nothing is received any more, so the session must be restarted."""

    account_id: str
    reason: str = ""


@dataclass(frozen=True)
class KeepAliveTimeout:
    """WhatsApp stopped answering keep-alives: the socket may be dead although "connected"."""

    account_id: str
    error_count: int = 0


@dataclass(frozen=True)
class KeepAliveRestored:
    account_id: str


@dataclass(frozen=True)
class ConnectFailure:
    """WhatsApp refused the connection (whatsmeow does not reconnect after this)."""

    account_id: str
    reason: str  # whatsmeow's ConnectFailureReason name, lower case, or the numeric code
    message: str = ""


@dataclass(frozen=True)
class ClientOutdated:
    """WhatsApp refuses this client version (whatsmeow does not reconnect after this)."""

    account_id: str


@dataclass(frozen=True)
class PasskeyRequired:
    """A QR was scanned (or a code entered) but the link never completed within the window:
    WhatsApp's passkey step for linking devices, which neonize 0.5.2 cannot answer."""

    account_id: str
    detail: str = ""


@dataclass(frozen=True)
class MessageReceived:
    account_id: str
    message: WireMessage


@dataclass(frozen=True)
class HistorySyncChunk:
    account_id: str
    messages: tuple[WireMessage, ...]
    lid_to_pn: dict[str, str] = field(default_factory=dict)  # "123@lid" -> "4072...@s.whatsapp.net"
    push_names: dict[str, str] = field(default_factory=dict)  # jid -> name
    chunk_order: int = 0
    progress: int | None = None


@dataclass(frozen=True)
class ReceiptReceived:
    account_id: str
    message_ids: tuple[str, ...]
    chat_jid: str
    status: ReceiptStatus
    timestamp: datetime
    chat_pn_jid: str | None = None


TransportEvent = (
    QrCode
    | PairingCode
    | Paired
    | PairFailed
    | Connected
    | Disconnected
    | LoggedOut
    | StreamReplaced
    | TemporaryBan
    | QrTimeout
    | SessionEnded
    | KeepAliveTimeout
    | KeepAliveRestored
    | ConnectFailure
    | ClientOutdated
    | PasskeyRequired
    | MessageReceived
    | HistorySyncChunk
    | ReceiptReceived
)

EventSink = Callable[[TransportEvent], None]


@dataclass(frozen=True)
class SendResult:
    message_id: str
    timestamp: datetime


class TransportError(Exception):
    """A send or session operation failed; `retryable` says whether trying later can help."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class NotConnected(TransportError):
    pass


class NotPairing(TransportError):
    """A pairing code was asked of a session that is not showing QR codes (banned, replaced,
    disconnected mid-pairing): the caller's timing, answered 409 `not_pairing`."""


class WhatsAppTransport(Protocol):
    """One object serves every account; sessions are started and stopped one at a time."""

    async def start_session(
        self, account_id: str, session_db: SessionLocation, sink: EventSink
    ) -> None:
        """Open (or resume) the session stored in `session_db` and connect. A paired session
        resumes without a QR; an unpaired one emits `QrCode` events until paired or timed out."""

    async def stop_session(self, account_id: str, *, logout: bool = False) -> None:
        """Disconnect; with `logout` also unlink the device (the session db is then useless)."""

    async def request_pairing_code(self, account_id: str, phone_e164: str) -> str:
        """Phone-code pairing for a session currently showing QR codes."""

    async def send_text(self, account_id: str, to_jid: str, text: str) -> SendResult:
        """Send; raises NotConnected / TransportError. The transport chooses the message id."""

    async def send_presence(self, account_id: str, to_jid: str, composing: bool) -> None:
        """Typing indicator (best effort)."""

    async def request_history(self, account_id: str, chat_jid: str, count: int) -> None:
        """Ask the phone for older messages of one chat (arrive as HistorySyncChunk)."""

    def is_connected(self, account_id: str) -> bool: ...

    def pn_for_lid(self, account_id: str, lid_jid: str) -> str | None:
        """The phone JID behind a LID, when this session knows it."""

    async def close(self) -> None: ...


class SessionImporter(Protocol):
    """The transport port's import path, implemented by both adapters (`NeonizeTransport`,
    `SimulatedTransport`). A protocol of its own, so transports that never import (test fakes)
    still satisfy `WhatsAppTransport`."""

    async def import_session(
        self,
        account_id: str,
        session_db: Path,
        session: ImportedSession,
        *,
        force: bool = False,
        dry_run: bool = False,
    ) -> ImportAction:
        """Store a linked device imported from another backend (`session_import`) as this
        transport's session at `session_db`, so `start_session` resumes it without a QR.
        Never while that session runs. Atomic; identical data is left alone; a store holding
        another device raises `SessionConflict` unless `force`. `dry_run` only says what it
        would do."""
