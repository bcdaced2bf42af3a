"""`NeonizeTransport`: real WhatsApp linked-device sessions through neonize 0.5.2 (whatsmeow).

How it fits neonize's Go side (read from its source; each point is a crash or a leak otherwise):

- One `NewAClient(SESSIONS_PATH/<accountId>.db)` per account, `uuid=accountId`. The Go side keeps
  its clients in unlocked global maps: sessions start and stop one at a time (`_lock`), and no
  FFI call is made for a session Go does not hold (a nil client there kills the process).
- Event delivery: Go puts events on a 100-slot channel per session and one goroutine hands them
  to Python in order. We replace neonize's dispatcher (which schedules fire-and-forget
  coroutines, losing order) with a synchronous one: convert, then call the sink on that
  goroutine's thread. A slow sink therefore backs up the channel and then whatsmeow itself.
  **Acknowledgement window:** whatsmeow acknowledges a message to WhatsApp when the event enters
  that channel, so up to ~100 events per session are acknowledged before the sink has them.
- `Neonize()` blocks for the session's lifetime, and after a failed pairing it never returns
  (it polls for a device id forever). neonize runs it on the loop's default executor; we run it
  on a daemon thread of our own, so sessions never starve the executor (which serves all other
  FFI calls) and a stuck thread cannot hold up interpreter exit.
- QR: codes arrive through a separate callback (we override it: neonize's needs a global loop);
  whatsmeow's "timeout" login status is ignored by neonize, so we hook it and also keep our own
  timer (`qr_timeout_seconds` after the first code) that emits `QrTimeout` and stops the pairing.
- `NEONIZE_BOT_TAG=off` must be in the environment before neonize is first imported (Go reads
  the environment once, when the library loads); importing this module sets it.

Size (over 600 lines, on purpose): one class around neonize's global Go client map, whose lock,
threads and callbacks must be read together; the pure conversion already lives apart
(`neonize_convert`). The session-host work (issue 11) reshapes it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import ctypes
import dataclasses
import logging
import os
import re
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

os.environ["NEONIZE_BOT_TAG"] = "off"

import aiohttp
from google.protobuf.message import DecodeError
from neonize._binder import ProxySettings, gocode
from neonize.aioze.client import NewAClient
from neonize.aioze.events import Event
from neonize.events import EVENT_TO_INT, INT_TO_EVENT
from neonize.exc import NeonizeError
from neonize.proto import Neonize_pb2 as nz
from neonize.proto.waCompanionReg.WAWebProtobufsCompanionReg_pb2 import DeviceProps
from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as e2e
from neonize.utils.enum import ChatPresence, ChatPresenceMedia, ClientName, ClientType

from session_daemon.session_import.model import ImportAction, ImportedSession
from session_daemon.transport.neonize_convert import (
    convert_event,
    convert_qr,
    jid_proto,
    jid_str,
)
from session_daemon.transport.port import (
    ClientOutdated,
    Connected,
    ConnectFailure,
    Disconnected,
    EventSink,
    HistorySyncChunk,
    LoggedOut,
    MessageReceived,
    NotConnected,
    NotPairing,
    Paired,
    PairFailed,
    PairingCode,
    PasskeyRequired,
    QrTimeout,
    ReceiptReceived,
    SendResult,
    SessionEnded,
    SessionLocation,
    StreamReplaced,
    TemporaryBan,
    TransportError,
    TransportEvent,
    is_database_url,
    write_imported_session,
)
from shared.jids import LID_SERVER, PHONE_SERVER
from shared.timeutil import from_seconds, utc_now

__all__ = ["SUBSCRIBED_EVENTS", "NeonizeTransport"]

log = logging.getLogger(__name__)
_NEONIZE_LOG = logging.getLogger("neonize.utils.log")  # its level is what whatsmeow logs at

# Events the Go side forwards to us (the Device event, code 0, always comes first).
SUBSCRIBED_EVENTS: tuple[type[Any], ...] = (
    nz.PairStatus,
    nz.Connected,
    nz.Disconnected,
    nz.LoggedOut,
    nz.StreamReplaced,
    nz.TemporaryBan,
    nz.ConnectFailure,
    nz.ClientOutdated,
    nz.KeepAliveTimeout,
    nz.KeepAliveRestored,
    nz.HistorySync,
    nz.Message,
    nz.Receipt,
    nz.UndecryptableMessage,  # a "waiting for this message" placeholder (issue 12)
    nz.CallOffer,  # a missed call in the chat (issue 12)
)
_DEVICE_CODE = EVENT_TO_INT[nz.Device]
_INBOUND = (MessageReceived, HistorySyncChunk, ReceiptReceived)
_CONNECTION_LOST = (
    Disconnected,
    LoggedOut,
    StreamReplaced,
    TemporaryBan,
    ConnectFailure,
    ClientOutdated,
)
_PHONE_DIGITS = re.compile(r"^\d{8,15}$")

DEFAULT_DEVICE_NAME = "SuperParty CRM"
QR_TIMEOUT_SECONDS = 160.0  # whatsmeow: first code 60 s, then five of 20 s
REGISTER_TIMEOUT_SECONDS = 45.0  # connect until Go holds the session (first QR or device)
DRAIN_TIMEOUT_SECONDS = 80.0  # in-flight FFI calls at stop (whatsmeow's request timeout 75 s)
STOP_GRACE_SECONDS = 3.0
PASSKEY_WINDOW_SECONDS = 45.0  # scan accepted → Paired takes seconds; a passkey gate never ends


class _GoCalls:
    """Stands in for neonize's `async_gocode` on one client: the session loop (`Neonize`) runs
    on a daemon thread of its own; every other FFI call on the loop's default executor."""

    def __getattr__(self, name: str) -> Callable[..., Any]:
        func = getattr(gocode, name)
        if name == "Neonize":
            return lambda *args: _run_on_daemon_thread(func, args, f"neonize-{args[1]!r}")
        return lambda *args, **kwargs: asyncio.to_thread(func, *args, **kwargs)


async def _run_on_daemon_thread(func: Callable[..., Any], args: tuple[Any, ...], name: str) -> Any:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(ok: bool, value: Any) -> None:
        if future.done():
            return
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def run() -> None:
        try:
            result: tuple[bool, Any] = (True, func(*args))
        except BaseException as exc:
            result = (False, exc)
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting
            loop.call_soon_threadsafe(settle, *result)

    threading.Thread(target=run, name=name, daemon=True).start()
    return await future


class _SyncEvents(Event):
    """Replaces neonize's dispatcher: events are handled on the Go delivery thread, in order."""

    def __init__(self, client: NewAClient, handler: Callable[[int, bytes], None]) -> None:
        super().__init__(client)
        self._handler = handler
        # The keys tell Go which events to forward; the values are never called.
        self.list_func = {EVENT_TO_INT[ev]: _never_called for ev in SUBSCRIBED_EVENTS}

    def execute(self, uuid: int, binary: int, size: int, code: int) -> None:
        try:
            self._handler(code, ctypes.string_at(binary, size))
        except Exception:  # an exception must never unwind into Go
            log.exception("neonize event %d could not be handled", code)


async def _never_called(_client: Any, _event: Any) -> None:  # pragma: no cover
    raise AssertionError("neonize dispatcher replaced")


class _SessionClient(NewAClient):
    """A neonize client whose callbacks go straight to our handlers (no global event loop)."""

    def __init__(
        self,
        name: str,
        *,
        uuid: str,
        props: DeviceProps,
        on_event: Callable[[int, bytes], None],
        on_qr: Callable[[bytes], None],
        on_login_status: Callable[[str], None],
    ) -> None:
        super().__init__(name, props=props, uuid=uuid)
        self.event = _SyncEvents(self, on_event)
        self._NewAClient__client = _GoCalls()  # see _GoCalls
        self._on_qr_data = on_qr
        self._on_login_status = on_login_status

    # neonize builds its C callbacks from these name-mangled private methods.
    def _NewAClient__onQr(self, uuid: int, qr_protoaddr: int) -> None:  # noqa: N802
        try:
            self._on_qr_data(ctypes.string_at(qr_protoaddr))
        except Exception:
            log.exception("QR callback failed")

    def _NewAClient__onLoginStatus(self, uuid: int, status: int) -> None:  # noqa: N802
        try:
            text = ctypes.string_at(status).decode("utf-8", "replace") if status else ""
            self._on_login_status(text)
        except Exception:
            log.exception("login status callback failed")


@dataclasses.dataclass(eq=False)
class _Session:
    account_id: str
    sink: EventSink
    loop: asyncio.AbstractEventLoop
    client: _SessionClient | None = None
    connect_task: asyncio.Future[Any] | None = None
    registered: asyncio.Future[None] | None = None
    go_alive: bool = False  # Go holds this client in its maps: FFI calls are safe
    connected: bool = False
    stopping: bool = False
    own_jid: str | None = None
    push_name: str | None = None
    qr_seen: bool = False
    pairing_over: bool = False
    linked: bool = False  # a Paired event arrived (the passkey check watches for it)
    qr_timer: asyncio.TimerHandle | None = None
    inflight: int = 0
    idle: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    ffi_lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def signal_registered(self) -> None:
        """Thread-safe: the session reached Go's maps (first QR or device event)."""
        fut = self.registered
        if fut is None:
            return

        def settle() -> None:
            if not fut.done():
                fut.set_result(None)

        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(settle)

    def mark_stopped(self) -> None:
        with self.ffi_lock:
            self.go_alive = False


class NeonizeTransport:
    """The real `WhatsAppTransport` (see module docstring for the neonize specifics)."""

    supports_history_requests = False  # neonize 0.5.2 cannot send whatsmeow's peer request

    def __init__(
        self,
        executor_workers: int = 64,
        *,
        device_name: str = DEFAULT_DEVICE_NAME,
        full_history: bool = False,
        qr_timeout_seconds: float = QR_TIMEOUT_SECONDS,
        register_timeout_seconds: float = REGISTER_TIMEOUT_SECONDS,
        go_log_level: int = logging.INFO,
        proxy: str | None = None,
        passkey_window_seconds: float = PASSKEY_WINDOW_SECONDS,
    ) -> None:
        self._workers = executor_workers
        self._proxy = proxy  # http:// or socks5:// (checked by the caller), for every session
        self._executor: ThreadPoolExecutor | None = None
        self._executor_loop: asyncio.AbstractEventLoop | None = None
        # One DeviceProps for every session: the Go side merges it into a process-wide value.
        self._props = DeviceProps(
            os=device_name, platformType=DeviceProps.CHROME, requireFullSync=full_history
        )
        self._qr_timeout = qr_timeout_seconds
        self._passkey_window = passkey_window_seconds
        self._register_timeout = register_timeout_seconds
        self._sessions: dict[str, _Session] = {}
        self._lock = asyncio.Lock()
        self.stuck_threads = 0  # session loops that never returned after stop (diagnostics)
        self.unknown_events: dict[str, int] = {}
        # neonize passes its own logger's level to whatsmeow; unset means debug, which floods
        # the log callback with every socket frame of every session.
        if _NEONIZE_LOG.level == logging.NOTSET:
            _NEONIZE_LOG.setLevel(go_log_level)

    # ---- lifecycle -------------------------------------------------------------------------

    async def start_session(
        self, account_id: str, session_db: SessionLocation, sink: EventSink
    ) -> None:
        async with self._lock:
            old = self._sessions.pop(account_id, None)
            if old is not None:
                await self._shutdown(old, logout=False)
            loop = asyncio.get_running_loop()
            self._ensure_executor(loop)
            if not is_database_url(session_db):  # a postgres:// database exists already
                await asyncio.to_thread(Path(session_db).parent.mkdir, parents=True, exist_ok=True)
            session = _Session(account_id=account_id, sink=sink, loop=loop)
            session.registered = loop.create_future()
            session.client = self._new_client(session, session_db)
            self._sessions[account_id] = session
            try:
                proxy = ProxySettings(proxy_address=self._proxy) if self._proxy else None
                task = await session.client.connect(proxy)
                session.connect_task = task
                task.add_done_callback(lambda t: self._on_loop_ended(session, t))
                await self._await_registration(session, task)
            except asyncio.CancelledError:
                # The caller gave up (account deleted, daemon stopping): a session nobody
                # tracks must not stay connected in Go.
                await self._abandon_start(session)
                raise
            except NeonizeError as exc:
                await self._abandon_start(session)
                raise TransportError(f"connect failed: {exc}") from exc

    async def stop_session(self, account_id: str, *, logout: bool = False) -> None:
        async with self._lock:
            session = self._sessions.pop(account_id, None)
            if session is not None:
                await self._shutdown(session, logout=logout)

    async def close(self) -> None:
        async with self._lock:
            while self._sessions:
                _, session = self._sessions.popitem()
                await self._shutdown(session, logout=False)

    async def import_session(
        self,
        account_id: str,
        session_db: SessionLocation,
        session: ImportedSession,
        *,
        force: bool = False,
        dry_run: bool = False,
    ) -> ImportAction:
        """Write the imported device as a whatsmeow session database (`whatsmeow_db`)."""
        if account_id in self._sessions:
            raise TransportError(f"{account_id} has a running session", retryable=False)
        return await write_imported_session(session_db, session, force=force, dry_run=dry_run)

    # ---- operations --------------------------------------------------------------------------

    async def request_pairing_code(self, account_id: str, phone_e164: str) -> str:
        digits = phone_e164.strip().lstrip("+").replace(" ", "")
        if not _PHONE_DIGITS.fullmatch(digits):
            raise TransportError(f"not a phone number: {phone_e164!r}", retryable=False)
        async with self._use(account_id, need_connected=False) as session:
            if not session.qr_seen or session.pairing_over or session.own_jid:
                raise NotPairing("the session is not showing QR codes", retryable=True)
            assert session.client is not None
            try:
                code = str(
                    await session.client.PairPhone(
                        digits, True, client_name=ClientName.LINUX, client_type=ClientType.CHROME
                    )
                )
            except NeonizeError as exc:
                raise TransportError(f"pairing code failed: {exc}") from exc
            session.sink(PairingCode(account_id, code))
            return code

    async def send_text(self, account_id: str, to_jid: str, text: str) -> SendResult:
        to = jid_proto(to_jid)
        if to is None:
            raise TransportError(f"not a JID: {to_jid!r}", retryable=False)
        async with self._use(account_id) as session:
            assert session.client is not None
            try:
                resp = await session.client.send_message(to, e2e.Message(conversation=text))
            except NeonizeError as exc:
                raise TransportError(f"send failed: {exc}") from exc
        if not resp.ID:
            raise TransportError("WhatsApp returned no message id")
        sent_at = from_seconds(resp.Timestamp) if resp.Timestamp > 0 else utc_now()
        return SendResult(message_id=resp.ID, timestamp=sent_at)

    async def send_presence(self, account_id: str, to_jid: str, composing: bool) -> None:
        to = jid_proto(to_jid)
        if to is None:
            return
        state = (
            ChatPresence.CHAT_PRESENCE_COMPOSING if composing else ChatPresence.CHAT_PRESENCE_PAUSED
        )
        try:
            async with self._use(account_id) as session:
                assert session.client is not None
                await session.client.send_chat_presence(
                    to, state, ChatPresenceMedia.CHAT_PRESENCE_MEDIA_TEXT
                )
        except (TransportError, NeonizeError) as exc:  # typing indicators are best effort
            log.debug("%s: presence to %s not sent: %s", account_id, to_jid, exc)

    async def download_media(self, account_id: str, handle: str) -> bytes:
        """The file of a media message: `handle` is the serialized attachment conversion kept
        (`Media.download`). whatsmeow's error text is kept: the media job reads from it whether
        the file is gone for good (404/410: neonize 0.5.2 cannot ask for a re-upload)."""
        try:
            message = e2e.Message.FromString(base64.b64decode(handle, validate=True))
        except (ValueError, binascii.Error, DecodeError) as exc:
            raise TransportError(
                "no url present: unreadable download handle", retryable=False
            ) from exc
        async with self._use(account_id) as session:
            assert session.client is not None
            try:
                data = await session.client.download_any(message)
            except NeonizeError as exc:
                raise TransportError(str(exc)) from exc
        if not isinstance(data, bytes | bytearray):
            raise TransportError("download returned no bytes")
        return bytes(data)

    async def group_subject(self, account_id: str, group_jid: str) -> str | None:
        """A group's subject from its group info."""
        target = jid_proto(group_jid)
        if target is None:
            return None
        async with self._use(account_id) as session:
            assert session.client is not None
            try:
                info = await session.client.get_group_info(target)
            except NeonizeError as exc:
                raise TransportError(f"group info: {exc}") from exc
        name = getattr(getattr(info, "GroupName", None), "Name", "")
        return str(name) or None

    async def profile_picture(self, account_id: str, jid: str) -> bytes | None:
        """The chat's current profile picture (None: none, or hidden from us)."""
        target = jid_proto(jid)
        if target is None:
            return None
        async with self._use(account_id) as session:
            assert session.client is not None
            try:
                info = await session.client.get_profile_picture(target)
            except NeonizeError as exc:
                text = str(exc).lower()
                if "does not have a profile picture" in text or "hidden" in text:
                    return None
                raise TransportError(f"profile picture: {exc}") from exc
        url = getattr(info, "URL", "") or getattr(info, "url", "")
        if not url:
            return None
        # WhatsApp's picture URLs are signed and short-lived: fetch the bytes now.
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(timeout=timeout) as http, http.get(url) as resp:
            if resp.status != 200:
                raise TransportError(f"profile picture download: HTTP {resp.status}")
            return await resp.read()

    async def request_history(self, account_id: str, chat_jid: str, count: int) -> None:
        # whatsmeow sends on-demand history requests as *peer* messages; neonize 0.5.2's
        # send_message cannot set SendRequestExtra.Peer, so the request cannot be made.
        raise TransportError(
            "on-demand history sync is not available with neonize 0.5.2 (no peer messages)",
            retryable=False,
        )

    def is_connected(self, account_id: str) -> bool:
        session = self._sessions.get(account_id)
        return bool(session and session.connected and not session.stopping)

    def pn_for_lid(self, account_id: str, lid_jid: str) -> str | None:
        session = self._sessions.get(account_id)
        jid = jid_proto(lid_jid)
        if session is None or jid is None or jid.Server != LID_SERVER:
            return None
        return self._lookup_pn(session, jid)

    def session_ids(self) -> list[str]:
        return sorted(self._sessions)

    def diagnostics(self) -> dict[str, Any]:
        """For /diag: sessions by state and session threads Go never released."""
        sessions = list(self._sessions.values())
        return {
            "sessions": len(sessions),
            "connected": sum(1 for s in sessions if s.connected),
            "pairing": sum(1 for s in sessions if s.qr_seen and not s.pairing_over),
            "stuckSessionThreads": self.stuck_threads,
            "unknownEvents": dict(self.unknown_events),
        }

    def _unknown(self, kind: str) -> None:
        """Unknown events are logged once per kind and counted (`/diag`), never fatal."""
        count = self.unknown_events.get(kind, 0)
        self.unknown_events[kind] = count + 1
        if count == 0:
            log.warning("neonize delivered %s, which this daemon does not know; ignored", kind)

    # ---- Go callbacks (run on Go's threads) -----------------------------------------------------

    def _handle_event(self, session: _Session, code: int, raw: bytes) -> None:
        ev_type = INT_TO_EVENT.get(code)
        if ev_type is None:
            self._unknown(f"event code {code}")
            return
        try:
            ev = ev_type.FromString(raw)
        except Exception:  # bytes this neonize cannot parse: count it, never end the session
            self._unknown(f"unparsable {ev_type.__name__}")
            return
        if code == _DEVICE_CODE:  # Go's first word on every connect: the session is live
            if session.client is not None:
                session.client.me = ev
            session.own_jid = jid_str(ev.JID)
            session.push_name = ev.PushName or None
            session.go_alive = True
            session.signal_registered()
            return
        event = convert_event(session.account_id, ev, now=utc_now(), own_jid=session.own_jid)
        if event is None:
            return
        event = self._with_phone_jid(session, event)
        if isinstance(event, Paired) and event.push_name is None and session.push_name:
            event = dataclasses.replace(event, push_name=session.push_name)
        self._track(session, event)
        if session.stopping and not isinstance(event, _INBOUND):
            return
        session.sink(event)  # returns once the daemon has it: our acknowledgement

    def _handle_qr(self, session: _Session, data: bytes) -> None:
        session.go_alive = True
        if session.stopping or session.pairing_over:
            return
        if not session.qr_seen:
            session.qr_seen = True
            with contextlib.suppress(RuntimeError):
                session.loop.call_soon_threadsafe(self._arm_qr_timer, session)
            session.signal_registered()
        session.sink(convert_qr(session.account_id, data))

    def _handle_login_status(self, session: _Session, status: str) -> None:
        """whatsmeow's QR channel outcome: success, timeout, or err-*."""
        if status in ("", "code") or session.stopping:
            return
        if status == "success":  # the device events follow; no QR timeout from now on
            with contextlib.suppress(RuntimeError):
                session.loop.call_soon_threadsafe(self._pairing_succeeded, session)
            return
        event: TransportEvent
        if status == "timeout":
            event = QrTimeout(session.account_id)
        elif "passkey" in status.lower():
            event = PasskeyRequired(session.account_id, detail=status)
        else:
            event = PairFailed(session.account_id, status)
        with contextlib.suppress(RuntimeError):
            session.loop.call_soon_threadsafe(self._end_pairing, session, event)

    # ---- internals ---------------------------------------------------------------------------

    def _new_client(self, session: _Session, session_db: SessionLocation) -> _SessionClient:
        return _SessionClient(
            str(session_db),
            uuid=session.account_id,
            props=self._props,
            on_event=lambda code, raw: self._handle_event(session, code, raw),
            on_qr=lambda data: self._handle_qr(session, data),
            on_login_status=lambda status: self._handle_login_status(session, status),
        )

    def _ensure_executor(self, loop: asyncio.AbstractEventLoop) -> None:
        """A default executor large enough for every session's concurrent FFI calls (neonize
        runs each of them through `asyncio.to_thread`). One the application already installed
        is kept when it is at least as large."""
        if self._executor_loop is loop:
            return
        self._executor_loop = loop
        current = getattr(loop, "_default_executor", None)  # CPython's attribute
        if isinstance(current, ThreadPoolExecutor) and current._max_workers >= self._workers:
            return
        self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix="neonize-ffi")
        loop.set_default_executor(self._executor)

    async def _await_registration(self, session: _Session, task: asyncio.Future[Any]) -> None:
        assert session.registered is not None
        await asyncio.wait(
            {session.registered, task},
            timeout=self._register_timeout,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if session.registered.done():
            return
        if task.done():
            reason = "the session loop ended" if task.cancelled() else task.exception()
            message = f"connect failed: {reason or 'the session loop ended'}"
        else:
            message = f"connect timed out after {self._register_timeout:.0f} s"
        self._sessions.pop(session.account_id, None)
        await self._abandon_start(session)
        raise TransportError(message)

    async def _abandon_start(self, session: _Session) -> None:
        if self._sessions.get(session.account_id) is session:
            del self._sessions[session.account_id]
        await self._shutdown(session, logout=False)

    async def _shutdown(self, session: _Session, *, logout: bool) -> None:
        session.stopping = True
        if session.qr_timer is not None:
            session.qr_timer.cancel()
        client = session.client
        if client is None:
            return
        if session.inflight:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(session.idle.wait(), timeout=DRAIN_TIMEOUT_SECONDS)
        if logout and session.go_alive:
            try:
                await asyncio.wait_for(client.logout(), timeout=20)
            except Exception as exc:
                log.warning("%s: logout failed: %s", session.account_id, exc)
        await asyncio.to_thread(session.mark_stopped)
        try:
            await client.stop()  # Go: disconnect, cancel the loop, forget the client
        except Exception as exc:
            log.warning("%s: stop failed: %s", session.account_id, exc)
        session.connected = False
        task = session.connect_task
        if task is not None and not task.done():
            await asyncio.wait({task}, timeout=STOP_GRACE_SECONDS)
            if not task.done():
                # Go never returns after a failed pairing: leave its daemon thread parked and
                # let go of the task (its cancellation re-sends Stop for this uuid: harmless).
                self.stuck_threads += 1
                log.info("%s: session loop did not return (daemon thread)", session.account_id)
                task.cancel()
        # neonize stops a client's uuid when the Python object is collected; a later session of
        # the same account reuses that uuid, so the collector must not stop it.
        client._stop_finalizer.detach()

    def _on_loop_ended(self, session: _Session, task: asyncio.Future[Any]) -> None:
        exc = None if task.cancelled() else task.exception()
        session.connected = False
        if session.stopping or self._sessions.get(session.account_id) is not session:
            return
        if session.registered is None or not session.registered.done():
            return  # start_session reports it
        log.warning("%s: session loop ended: %s", session.account_id, exc)
        reason = f"the session's event loop ended ({exc or 'the Go loop returned'})"
        session.sink(SessionEnded(session.account_id, reason=reason))

    def _pairing_succeeded(self, session: _Session) -> None:
        """On the loop: the phone scanned and WhatsApp accepted it. A link normally completes
        (Paired) within seconds; one that does not is the passkey step neonize 0.5.2 cannot
        answer (the phone shows "continue on WhatsApp Web"): the best signal the library gives."""
        session.pairing_over = True
        _cancel_timer(session)
        session.qr_timer = session.loop.call_later(
            self._passkey_window, self._link_never_completed, session
        )

    def _link_never_completed(self, session: _Session) -> None:
        if session.linked or session.stopping:
            return
        detail = f"the scan was accepted but no link followed within {self._passkey_window:.0f} s"
        session.sink(PasskeyRequired(session.account_id, detail=detail))
        task = session.loop.create_task(self._stop_if_current(session))
        task.add_done_callback(_log_task_failure)

    def _arm_qr_timer(self, session: _Session) -> None:
        if session.stopping or session.pairing_over or session.qr_timer is not None:
            return
        session.qr_timer = session.loop.call_later(
            self._qr_timeout, self._end_pairing, session, QrTimeout(session.account_id)
        )

    def _end_pairing(self, session: _Session, event: TransportEvent) -> None:
        """On the loop: the QR window closed without pairing; report it once, stop the client."""
        if session.pairing_over or session.own_jid or session.stopping:
            return
        session.pairing_over = True
        if session.qr_timer is not None:
            session.qr_timer.cancel()
        session.sink(event)
        task = session.loop.create_task(self._stop_if_current(session))
        task.add_done_callback(_log_task_failure)

    async def _stop_if_current(self, session: _Session) -> None:
        async with self._lock:
            if self._sessions.get(session.account_id) is session:
                del self._sessions[session.account_id]
                await self._shutdown(session, logout=False)

    def _track(self, session: _Session, event: TransportEvent) -> None:
        if isinstance(event, Connected):
            session.connected = True
        elif isinstance(event, _CONNECTION_LOST):
            session.connected = False
        if isinstance(event, Paired):
            session.linked = True
            session.own_jid = session.own_jid or event.own_jid
            session.pairing_over = True
            with contextlib.suppress(RuntimeError):
                session.loop.call_soon_threadsafe(_cancel_timer, session)

    def _with_phone_jid(self, session: _Session, event: TransportEvent) -> TransportEvent:
        """Fill in the phone JID of a LID chat from whatsmeow's LID store when the event lacks
        it (live messages and receipts only; history chunks carry their own mappings)."""
        if isinstance(event, MessageReceived):
            msg = event.message
            if msg.chat_pn_jid or msg.is_group or not msg.chat_jid.endswith("@" + LID_SERVER):
                return event
            pn = self._lookup_pn(session, jid_proto(msg.chat_jid))
            if pn is None:
                return event
            sender_pn = msg.sender_pn_jid or (pn if not msg.from_me else None)
            wire = dataclasses.replace(msg, chat_pn_jid=pn, sender_pn_jid=sender_pn)
            return dataclasses.replace(event, message=wire)
        if (
            isinstance(event, ReceiptReceived)
            and event.chat_pn_jid is None
            and event.chat_jid.endswith("@" + LID_SERVER)
        ):
            pn = self._lookup_pn(session, jid_proto(event.chat_jid))
            if pn is not None:
                return dataclasses.replace(event, chat_pn_jid=pn)
        return event

    def _lookup_pn(self, session: _Session, jid: nz.JID | None) -> str | None:
        if jid is None or session.client is None:
            return None
        buf = jid.SerializeToString()
        with session.ffi_lock:
            if not session.go_alive or session.stopping:
                return None
            try:
                raw = gocode.GetPNFromLID(session.client.uuid, buf, len(buf))
            except Exception as exc:
                log.debug("%s: LID lookup failed: %s", session.account_id, exc)
                return None
        if not isinstance(raw, bytes | bytearray) or not raw:
            return None
        result = nz.GetJIDFromStoreReturnFunction.FromString(bytes(raw))
        if result.Error:
            return None
        pn = jid_str(result.Jid)
        return pn if pn is not None and pn.endswith("@" + PHONE_SERVER) else None

    @contextlib.asynccontextmanager
    async def _use(
        self, account_id: str, *, need_connected: bool = True
    ) -> AsyncIterator[_Session]:
        """A live session for one FFI call; stop waits for these to finish before Go forgets
        the client (a call reaching Go after that would crash the process)."""
        session = self._sessions.get(account_id)
        if session is None or session.stopping or not session.go_alive:
            raise NotConnected(f"account {account_id} has no running session")
        if need_connected and not session.connected:
            raise NotConnected(f"account {account_id} is not connected")
        session.inflight += 1
        session.idle.clear()
        try:
            yield session
        finally:
            session.inflight -= 1
            if session.inflight == 0:
                session.idle.set()


def _cancel_timer(session: _Session) -> None:
    if session.qr_timer is not None:
        session.qr_timer.cancel()


def _log_task_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("neonize background task failed", exc_info=task.exception())
