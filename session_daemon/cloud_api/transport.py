"""`CloudTransport`: the Cloud API behind the daemon's `WhatsAppTransport` port (sending side).

Inbound does not pass through here: webhooks are journalled by whichever daemon receives them
(`webhook` + `intake`), whatever account they belong to, while only the lease owner of an account
sends for it. This class sends, checks the token and the number, and answers the linked-device
operations with a clear refusal (`not_linked_device`): a cloud number has no QR, no pairing code,
and no history to request from a phone.

Each send reads the account's secrets again, so a rotated token applies at once. A token Meta
refuses (190), a permission removed or a blocked number stops the account's sends: they raise
`NotConnected` (the outbox retries later) without calling Meta until the token changes.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from session_daemon.cloud_api.errors import GraphFailure, MappedError
from session_daemon.cloud_api.graph import MAX_MEDIA_BYTES, GraphClient, Template
from session_daemon.cloud_api.health import CloudHealth, cloud_account_status, sentence
from session_daemon.cloud_api.identity import ClientRef, bsuid_of_jid
from session_daemon.cloud_api.media_url import MediaUrlRules, classify_media_url
from session_daemon.cloud_api.outbound import (
    media_body,
    outbound_media,
    template_body,
    text_body,
)
from session_daemon.cloud_api.secrets_store import CloudSecrets
from session_daemon.cloud_api.window import window_state
from session_daemon.media.local import LocalMediaStore
from session_daemon.transport.port import (
    Connected,
    Disconnected,
    EventSink,
    LoggedOut,
    NotConnected,
    SendResult,
    SessionLocation,
    TransportError,
    TransportEvent,
)
from shared.jids import jid_to_e164, normalize_jid
from shared.timeutil import utc_now

__all__ = [
    "NOT_LINKED_DEVICE",
    "OUTSIDE_SERVICE_WINDOW",
    "AccountStopped",
    "CloudSendError",
    "CloudTransport",
    "NotLinkedDevice",
    "OutsideServiceWindow",
    "client_ref_of_jid",
]

NOT_LINKED_DEVICE = "not_linked_device"
OUTSIDE_SERVICE_WINDOW = "outside_service_window"

SecretsLookup = Callable[[str], Awaitable[CloudSecrets | None]]
LastInbound = Callable[[str, str], Awaitable[datetime | None]]  # (accountId, clientJid)


class CloudSendError(TransportError):
    def __init__(self, failure: GraphFailure) -> None:
        super().__init__(f"{failure.code}: {failure.message}", retryable=failure.retryable)
        self.code = failure.code
        self.meta_code = failure.meta_code
        self.ambiguous = failure.ambiguous  # read by the outbox: never resend


class AccountStopped(NotConnected):
    """Meta refused the token or the number: this send did not go out and waits (with the
    account's others) until a new token is saved."""

    def __init__(self, code: str) -> None:
        super().__init__(f"{code}: sends stopped until the token changes")
        self.code = code


class OutsideServiceWindow(TransportError):
    """Free-form text more than 24 h after the client's last message: a template is needed."""

    code = OUTSIDE_SERVICE_WINDOW

    def __init__(self, message: str) -> None:
        super().__init__(f"{OUTSIDE_SERVICE_WINDOW}: {message}", retryable=False)


class NotLinkedDevice(TransportError):
    code = NOT_LINKED_DEVICE

    def __init__(self, what: str) -> None:
        super().__init__(f"{NOT_LINKED_DEVICE}: a Cloud API number has no {what}", retryable=False)


def client_ref_of_jid(jid: str) -> ClientRef:
    bsuid = bsuid_of_jid(jid)
    if bsuid is not None:
        return ClientRef(pn_jid=None, bsuid=bsuid)
    pn = normalize_jid(jid)
    if pn is None or jid_to_e164(pn) is None:
        raise TransportError(f"not a Cloud API recipient: {jid!r}", retryable=False)
    return ClientRef(pn_jid=pn, bsuid=None)


def _fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]  # never keep the token itself


@dataclass
class _Account:
    sink: EventSink
    reported: TransportEvent | None = None  # the last status told (repeats are not told)

    def tell(self, event: TransportEvent) -> None:
        """Status events only when the status changes: a periodic check that finds nothing
        new writes nothing (and leaves a reason noted beside `connected` alone)."""
        if event != self.reported:
            self.reported = event
            self.sink(event)

    token_error: str | None = None
    blocked_token: str | None = None  # fingerprint of the token that was refused
    number_info: dict[str, Any] | None = None
    last_send_at: datetime | None = None
    last_webhook_at: datetime | None = None


class CloudTransport:
    def __init__(
        self,
        graph: GraphClient,
        secrets: SecretsLookup,
        last_inbound: LastInbound,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._graph = graph
        self._secrets = secrets
        self._last_inbound = last_inbound
        self._clock = clock
        self._accounts: dict[str, _Account] = {}
        # which file URLs a send may name, and the local store the daemon's own links name
        # (set by the daemon once its media service exists; media_url.py says why)
        self.media_rules = MediaUrlRules()
        self.local_media: LocalMediaStore | None = None

    # ---- lifecycle -------------------------------------------------------------------------

    async def start_session(
        self, account_id: str, session_db: SessionLocation, sink: EventSink
    ) -> None:
        """No session database: checks the token against the number and reports."""
        self._accounts[account_id] = _Account(sink)
        await self.check(account_id)

    async def check(self, account_id: str) -> CloudHealth:
        """`GET /{phone-number-id}` with the current token; emits Connected or Disconnected."""
        state = self._accounts.get(account_id)
        if state is None:
            raise NotConnected(f"{account_id} is not started")
        secrets = await self._secrets(account_id)
        if secrets is None:
            state.token_error = "no_cloud_credentials"
            state.tell(LoggedOut(account_id, sentence("no_cloud_credentials")))
            return self.health(account_id)
        try:
            state.number_info = await self._graph.phone_number_info(
                secrets.phone_number_id, secrets.access_token
            )
        except GraphFailure as exc:
            if exc.stops_account:
                state.token_error = exc.code
                state.blocked_token = _fingerprint(secrets.access_token)
            state.tell(Disconnected(account_id, sentence(exc.code)))
            return self.health(account_id)
        state.token_error = None
        state.blocked_token = None
        health = self.health(account_id)
        state.tell(
            Connected(account_id)
            if health.status == "connected"
            else Disconnected(account_id, sentence(health.reason or "error"))
        )
        return health

    async def stop_session(self, account_id: str, *, logout: bool = False) -> None:
        self._accounts.pop(account_id, None)  # nothing to unlink: Meta hosts the number

    def health(self, account_id: str) -> CloudHealth:
        state = self._accounts.get(account_id)
        if state is None:
            return CloudHealth("disconnected", "not_started")
        return cloud_account_status(
            now=self._clock(),
            token_error=state.token_error,
            number_info=state.number_info,
            last_webhook_at=state.last_webhook_at,
            last_send_at=state.last_send_at,
        )

    def note_webhook(self, account_id: str, at: datetime, *, keep_newer: bool = False) -> None:
        state = self._accounts.get(account_id)
        if state is None:
            return
        if keep_newer and state.last_webhook_at is not None and state.last_webhook_at >= at:
            return
        state.last_webhook_at = at

    def unanswered(self, account_id: str) -> bool:
        """Its last check got no answer from Meta (not a refusal): worth asking again soon."""
        state = self._accounts.get(account_id)
        return state is not None and state.token_error is None and state.number_info is None

    def running(self) -> list[str]:
        """The cloud accounts started here (this daemon holds their leases)."""
        return list(self._accounts)

    def number_info(self, account_id: str) -> dict[str, Any] | None:
        state = self._accounts.get(account_id)
        return state.number_info if state is not None else None

    @property
    def graph(self) -> GraphClient:
        return self._graph

    async def secrets_of(self, account_id: str) -> CloudSecrets | None:
        return await self._secrets(account_id)

    def is_connected(self, account_id: str) -> bool:
        state = self._accounts.get(account_id)
        return state is not None and state.token_error is None and state.number_info is not None

    # ---- sending ---------------------------------------------------------------------------

    async def _ready(self, account_id: str) -> tuple[_Account, CloudSecrets]:
        state = self._accounts.get(account_id)
        if state is None:
            raise NotConnected(f"{account_id} is not started")
        secrets = await self._secrets(account_id)
        if secrets is None:
            raise NotConnected("no_cloud_credentials")
        if state.blocked_token is not None:
            if state.blocked_token == _fingerprint(secrets.access_token):
                raise NotConnected(f"{state.token_error}: sends stopped until the token changes")
            state.blocked_token = None  # a new token: try it
            state.token_error = None
        return state, secrets

    def _failed(
        self, account_id: str, state: _Account, secrets: CloudSecrets, exc: GraphFailure
    ) -> TransportError:
        if exc.stops_account:
            state.token_error = exc.code
            state.blocked_token = _fingerprint(secrets.access_token)
            state.tell(Disconnected(account_id, sentence(exc.code)))
            if not exc.ambiguous:  # not sent: it waits in the outbox for a new token
                return AccountStopped(exc.code)
        return CloudSendError(exc)

    async def _file_to_send(self, url: str) -> bytes:
        """The bytes `media.url` names: read from disk for the daemon's own links, fetched for
        an allowed store, refused otherwise (the route refuses first; an outbox item written
        by another writer is checked here too)."""
        found = classify_media_url(url, self.media_rules)
        refused = GraphFailure(MappedError("media_error", False), "the file URL is not allowed")
        if found is None:
            raise refused
        if found == "remote":
            return await self._graph.fetch_file(url)
        local = self.local_media
        if local is None:
            raise refused
        path = local.resolve(found.account_id, found.file_name, found.sig)
        data = await asyncio.to_thread(path.read_bytes) if path is not None else b""
        if not data or len(data) > MAX_MEDIA_BYTES:
            raise GraphFailure(
                MappedError("media_error", False), "the linked file is missing, empty or too large"
            )
        return data

    async def _send(
        self, account_id: str, state: _Account, secrets: CloudSecrets, body: dict[str, Any]
    ) -> SendResult:
        try:
            answer = await self._graph.send(secrets.phone_number_id, secrets.access_token, body)
        except GraphFailure as exc:
            raise self._failed(account_id, state, secrets, exc) from exc
        now = self._clock()
        state.last_send_at = now
        if isinstance(state.reported, Disconnected):  # a new token works: say so at once
            state.tell(Connected(account_id))
        return SendResult(message_id=answer.message_id, timestamp=now)

    async def send_text(self, account_id: str, to_jid: str, text: str) -> SendResult:
        state, secrets = await self._ready(account_id)
        client = client_ref_of_jid(to_jid)
        window = window_state(await self._last_inbound(account_id, to_jid), self._clock())
        if not window.allows("free_form"):
            raise OutsideServiceWindow(
                "the client has not written in the last 24 hours; send an approved template"
            )
        try:
            body = text_body(client.send_target(), text)
        except ValueError as exc:
            raise TransportError(str(exc), retryable=False) from exc
        return await self._send(account_id, state, secrets, body)

    async def send_message(
        self,
        account_id: str,
        to_jid: str,
        text: str,
        *,
        reply_to: str | None = None,
        media: Mapping[str, Any] | None = None,
    ) -> SendResult:
        """A text or a file (`{url, mimeType, fileName?, kind}`, `text` its caption), quoting
        `reply_to` (a wamid) when given. A file is fetched, uploaded to `/{id}/media` and sent
        by the returned id; the 24-hour window applies as to any free-form message."""
        state, secrets = await self._ready(account_id)
        target = client_ref_of_jid(to_jid).send_target()
        window = window_state(await self._last_inbound(account_id, to_jid), self._clock())
        if not window.allows("free_form"):
            raise OutsideServiceWindow(
                "the client has not written in the last 24 hours; send an approved template"
            )
        if media is None:
            try:
                body = text_body(target, text, reply_to=reply_to)
            except ValueError as exc:
                raise TransportError(str(exc), retryable=False) from exc
            return await self._send(account_id, state, secrets, body)
        try:
            upload = outbound_media(media, text)
        except ValueError as exc:
            raise TransportError(str(exc), retryable=False) from exc
        try:
            data = await self._file_to_send(upload.url)
            media_id = await self._graph.upload_media(
                secrets.phone_number_id,
                secrets.access_token,
                data,
                upload.mime_type,
                upload.file_name,
            )
        except GraphFailure as exc:
            raise self._failed(account_id, state, secrets, exc) from exc
        body = media_body(
            target,
            upload.kind,
            media_id=media_id,
            caption=upload.caption,
            filename=upload.file_name if upload.kind == "document" else None,
            reply_to=reply_to,
        )
        return await self._send(account_id, state, secrets, body)

    async def send_template(
        self,
        account_id: str,
        to_jid: str,
        name: str,
        language: str,
        params: Sequence[str] = (),
        *,
        components: Sequence[Mapping[str, Any]] | None = None,
    ) -> SendResult:
        """Allowed outside the window (templates are billed; broadcasts use them). `params`
        fill the body's `{{n}}`; `components` is Meta's full list (the outbox item's)."""
        state, secrets = await self._ready(account_id)
        body = template_body(
            client_ref_of_jid(to_jid).send_target(),
            name,
            language,
            body_params=params,
            components=components or None,
        )
        return await self._send(account_id, state, secrets, body)

    async def mark_read(self, account_id: str, message_id: str) -> None:
        """Staff opened the thread: the client sees blue ticks."""
        _, secrets = await self._ready(account_id)
        try:
            await self._graph.mark_read(secrets.phone_number_id, secrets.access_token, message_id)
        except GraphFailure as exc:
            raise CloudSendError(exc) from exc

    async def list_templates(self, account_id: str) -> list[Template]:
        _, secrets = await self._ready(account_id)
        try:
            return await self._graph.list_templates(secrets.waba_id, secrets.access_token)
        except GraphFailure as exc:
            raise CloudSendError(exc) from exc

    async def send_presence(self, account_id: str, to_jid: str, composing: bool) -> None:
        return None  # best effort by contract; the Cloud API has no free-standing presence

    # ---- linked-device operations ----------------------------------------------------------

    async def request_pairing_code(self, account_id: str, phone_e164: str) -> str:
        raise NotLinkedDevice("pairing code")

    async def request_history(self, account_id: str, chat_jid: str, count: int) -> None:
        raise NotLinkedDevice("phone to request history from")

    def pn_for_lid(self, account_id: str, lid_jid: str) -> str | None:
        return None  # Cloud API payloads carry phones or BSUIDs, never LIDs

    async def close(self) -> None:
        self._accounts.clear()
