"""`HostedTransport`: the `WhatsAppTransport` port served by one session-host process per account.

The daemon keeps the journal, the store and every status decision; a host
(`session_daemon/hosts/host.py`) only holds the library session, streams its events and takes
calls. This module starts, watches and restarts hosts:

- **Containment.** A host that dies (SIGKILL, a Go `fatal error` abort, an ended event loop) costs
  its own account a restart: the supervisor reports `Disconnected` with the reason and starts a
  fresh host after a capped, jittered backoff, for as long as the account should run. Hosts of
  other accounts are separate processes and notice nothing.
- **No lock shared by accounts.** Every account has its own lock; nothing here waits on another
  account's host. A start, a stop or a send that hangs on the network blocks only its account.
- **Bounded stop.** A stop asks the host to stop and kills it after a short grace: neonize's Go
  `Stop` can block a minute on a stalled network, a dead process cannot.
- **Acknowledgement.** An inbound event is handed to the sink (the daemon's journal) and only then
  acknowledged to the host, which holds the Go delivery thread until then.
- **Terminal events** (logged out, stream replaced, ban, pairing over) end restarts: a person
  must act, and the session manager stops the account.

One host's process, socket and calls in flight are a `HostConnection`
(`session_daemon/hosts/host_connection.py`); this module keeps the per-account slots, their
locks and restarts.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import logging
import random
import secrets
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from session_daemon.hosts import wire
from session_daemon.hosts.host_connection import (
    HELLO_TIMEOUT_SECONDS,
    LOGOUT_GRACE_SECONDS,
    MEDIA_TIMEOUT_SECONDS,
    SEND_TIMEOUT_SECONDS,
    STABLE_AFTER_SECONDS,
    STOP_GRACE_SECONDS,
    HostConnection,
    HostGone,
    describe_exit,
)
from session_daemon.hosts.launcher import ExecLauncher, Launcher, ZygoteLauncher
from session_daemon.session_import.model import ImportAction, ImportedSession
from session_daemon.sessions.backoff import backoff_delay
from session_daemon.transport.port import (
    ClientOutdated,
    Connected,
    ConnectFailure,
    Disconnected,
    EventSink,
    LoggedOut,
    NotConnected,
    Paired,
    PairFailed,
    PasskeyRequired,
    QrTimeout,
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

log = logging.getLogger(__name__)

Engine = Literal["neonize", "simulated", "simnet"]
_CONNECTION_LOST = (
    Disconnected,
    LoggedOut,
    StreamReplaced,
    TemporaryBan,
    ConnectFailure,
    ClientOutdated,
)
# After these the session manager decides (stop, or restart after its own backoff): the
# supervisor restarts nothing by itself.
_TERMINAL = (
    LoggedOut,
    StreamReplaced,
    TemporaryBan,
    PairFailed,
    QrTimeout,
    ConnectFailure,
    ClientOutdated,
    PasskeyRequired,
    SessionEnded,
)


@dataclasses.dataclass(frozen=True)
class HostOptions:
    engine: Engine = "neonize"
    python: str = sys.executable
    env: Mapping[str, str] | None = None  # extra environment for the host
    start_args: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    start_timeout: float = 60.0
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    # "zygote": hosts forked from one process that preloaded their libraries (shared memory);
    # "exec": a fresh interpreter per host
    launcher: Literal["zygote", "exec"] = "zygote"


@dataclasses.dataclass(eq=False)
class _Slot:
    """Everything the supervisor knows about one account."""

    account_id: str
    lock: asyncio.Lock = dataclasses.field(default_factory=asyncio.Lock)
    session_db: SessionLocation | None = None
    sink: EventSink | None = None
    host: HostConnection | None = None
    want_running: bool = False
    connected: bool = False
    connected_at: float | None = None
    restarts: int = 0  # consecutive, for the backoff
    total_restarts: int = 0
    restart_task: asyncio.Task[None] | None = None
    last_exit: str | None = None
    lease_deadline: float | None = None  # monotonic: the daemon trusts the lease until then
    lease_stop_within: float = 0.5  # how long the host may take to disconnect after it


class HostedTransport:
    """One object serves every account; each account's calls touch only its own host."""

    def __init__(
        self,
        options: HostOptions | None = None,
        *,
        proxy_for: Callable[[str], str | None] | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.options = options or HostOptions()
        # neonize 0.5.2 cannot ask the phone for history (see NeonizeTransport); simulators can
        self.supports_history_requests = self.options.engine != "neonize"
        self._proxy_for = proxy_for
        self._rand = rand
        self._slots: dict[str, _Slot] = {}
        self.unknown_events: dict[str, int] = {}
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        opts = self.options
        self._launcher: Launcher = (
            ZygoteLauncher(opts.python, opts.env)
            if opts.launcher == "zygote"
            else ExecLauncher(opts.python, opts.env)
        )

    # ---- the port: lifecycle ---------------------------------------------------------------------

    async def start_session(
        self, account_id: str, session_db: SessionLocation, sink: EventSink
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._closed = False
        slot = self._slot(account_id)
        _cancel(slot.restart_task)
        async with slot.lock:
            await self._stop_host(slot, logout=False)
            slot.session_db = session_db
            slot.sink = sink
            slot.want_running = True
            slot.restarts = 0
            await self._launch(slot)

    async def stop_session(self, account_id: str, *, logout: bool = False) -> None:
        slot = self._slots.get(account_id)
        if slot is None:
            return
        slot.want_running = False
        _cancel(slot.restart_task)
        starting = slot.host
        if starting is not None and not starting.started:
            # A start hanging on the network holds the slot's lock: end it now (its start
            # raises), rather than wait for the connect to time out.
            starting.kill()
        async with slot.lock:
            await self._stop_host(slot, logout=logout)

    async def close(self) -> None:
        self._closed = True
        await asyncio.gather(
            *(self.stop_session(a) for a in list(self._slots)), return_exceptions=True
        )
        await self._launcher.close()

    async def import_session(
        self,
        account_id: str,
        session_db: SessionLocation,
        session: ImportedSession,
        *,
        force: bool = False,
        dry_run: bool = False,
    ) -> ImportAction:
        """The port's import path (`SessionImporter`): the same whatsmeow database the neonize
        transport writes, never while the account's host runs."""
        if self.options.engine != "neonize":
            raise TransportError("session import needs the neonize engine", retryable=False)
        slot = self._slots.get(account_id)
        if slot is not None and slot.host is not None and slot.host.alive():
            raise TransportError(f"{account_id} has a running session", retryable=False)
        return await write_imported_session(session_db, session, force=force, dry_run=dry_run)

    # ---- the port: operations --------------------------------------------------------------------

    async def request_pairing_code(self, account_id: str, phone_e164: str) -> str:
        return str(await self._call(account_id, "pairing_code", {"phone": phone_e164}))

    async def send_text(self, account_id: str, to_jid: str, text: str) -> SendResult:
        slot = self._slots.get(account_id)
        if slot is None or not slot.connected:
            raise NotConnected(f"account {account_id} is not connected")
        result = await self._call(
            account_id, "send_text", {"to": to_jid, "text": text}, timeout=SEND_TIMEOUT_SECONDS
        )
        if not isinstance(result, SendResult):
            raise HostGone("the session host answered a send without a result")
        return result

    async def send_presence(self, account_id: str, to_jid: str, composing: bool) -> None:
        with contextlib.suppress(TransportError):
            await self._call(
                account_id, "send_presence", {"to": to_jid, "composing": composing}, timeout=10
            )

    async def request_history(self, account_id: str, chat_jid: str, count: int) -> None:
        if not self.supports_history_requests:
            raise TransportError(
                "on-demand history sync is not available with neonize 0.5.2 (no peer messages)",
                retryable=False,
            )
        await self._call(account_id, "request_history", {"chat": chat_jid, "count": count})

    async def download_media(self, account_id: str, handle: str) -> bytes:
        """The host downloads into a file beside the session database; the daemon reads it
        and removes it (whatsmeow's error wording comes back as the TransportError's text)."""
        slot = self._slots.get(account_id)
        if slot is None or slot.session_db is None:
            raise NotConnected(f"account {account_id} has no running session")
        folder = (
            Path(tempfile.gettempdir()) / "superparty-media-download"
            if is_database_url(slot.session_db)  # a postgres:// session: no sessions folder
            else Path(slot.session_db).parent / ".media-download"
        )
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        target = folder / f"{account_id}-{secrets.token_hex(8)}.part"
        try:
            await self._call(
                account_id,
                "download_media",
                {"handle": handle, "path": str(target)},
                timeout=MEDIA_TIMEOUT_SECONDS,
            )
            return await asyncio.to_thread(target.read_bytes)
        finally:
            with contextlib.suppress(OSError):
                await asyncio.to_thread(target.unlink)

    async def profile_picture(self, account_id: str, jid: str) -> bytes | None:
        result = await self._call(account_id, "profile_picture", {"jid": jid}, timeout=60)
        return base64.b64decode(result) if isinstance(result, str) and result else None

    async def group_subject(self, account_id: str, group_jid: str) -> str | None:
        result = await self._call(account_id, "group_subject", {"jid": group_jid}, timeout=30)
        return result if isinstance(result, str) and result else None

    def is_connected(self, account_id: str) -> bool:
        slot = self._slots.get(account_id)
        return bool(slot and slot.connected and slot.host and slot.host.alive())

    def pn_for_lid(self, account_id: str, lid_jid: str) -> str | None:
        """Asked from the inbound pipeline's threads; on the event loop it cannot wait for the
        host and answers None (the message is then parked until the mapping is known)."""
        loop = self._loop
        if loop is None or _on_loop(loop):
            return None
        future = asyncio.run_coroutine_threadsafe(
            self._call(account_id, "pn_for_lid", {"lid": lid_jid}, timeout=2.0), loop
        )
        try:
            result = future.result(timeout=3.0)
        except Exception:
            return None
        return result if isinstance(result, str) else None

    def lease_valid_for(self, account_id: str, seconds: float, stop_within: float = 0.5) -> None:
        """The lease coordinator vouches for the account's lease `seconds` longer: tell its host,
        whose watchdog ends the session (within `stop_within`) when that passes unrenewed (the
        daemon paused or stuck)."""
        slot = self._slot(account_id)
        slot.lease_deadline = time.monotonic() + seconds
        slot.lease_stop_within = stop_within
        host = slot.host
        if host is not None and host.alive():
            host.post({"op": "lease", "seconds": seconds, "stopWithin": stop_within})

    # ---- diagnostics -----------------------------------------------------------------------------

    def host_pids(self) -> dict[str, int]:
        return {
            a: s.host.pid for a, s in self._slots.items() if s.host is not None and s.host.alive()
        }

    def diagnostics(self) -> dict[str, Any]:
        return {
            "hosts": len(self.host_pids()),
            "connected": sum(1 for s in self._slots.values() if s.connected),
            "connectedAccounts": sorted(a for a, s in self._slots.items() if s.connected),
            "restarts": {a: s.total_restarts for a, s in self._slots.items() if s.total_restarts},
            "lastExit": {a: s.last_exit for a, s in self._slots.items() if s.last_exit},
            "unknownEvents": dict(self.unknown_events),
        }

    async def host_stats(self, account_id: str) -> dict[str, int]:
        result = await self._call(account_id, "stats", {}, timeout=10)
        return dict(result) if isinstance(result, dict) else {}

    async def simulate(self, account_id: str, action: str, **kwargs: Any) -> Any:
        """Plays the phone of a simulated host (engine `simulated` only)."""
        return await self._call(account_id, "sim", {"action": action, "kwargs": kwargs})

    # ---- internals -------------------------------------------------------------------------------

    def _slot(self, account_id: str) -> _Slot:
        slot = self._slots.get(account_id)
        if slot is None:
            slot = self._slots[account_id] = _Slot(account_id)
        return slot

    async def _call(
        self, account_id: str, method: str, args: dict[str, Any], timeout: float = 30.0
    ) -> Any:
        slot = self._slots.get(account_id)
        host = slot.host if slot is not None else None
        if host is None or not host.alive():
            raise NotConnected(f"account {account_id} has no running session")
        return await host.call(method, args, timeout)

    async def _launch(self, slot: _Slot) -> None:
        """Start a host and its session (caller holds the slot's lock). Raises TransportError when
        the session cannot start; the host is gone then (one start per process)."""
        assert slot.session_db is not None
        host = await self._spawn(slot)
        slot.host = host  # before the start: a stop must find it to end a hanging start
        self._arm_watchdog(slot, host)
        args: dict[str, Any] = {
            **self.options.start_args,
            "account_id": slot.account_id,
            "session_db": str(slot.session_db),
        }
        if self._proxy_for is not None:  # may read the store: off the event loop
            args["proxy"] = await asyncio.to_thread(self._proxy_for, slot.account_id)
        try:
            await host.call("start", args, self.options.start_timeout)
        except BaseException:
            if slot.host is host:
                slot.host = None
            host.kill()
            with contextlib.suppress(Exception):
                await host.proc.wait()
            raise
        host.started = True

    def _arm_watchdog(self, slot: _Slot, host: HostConnection) -> None:
        """A new host of an account whose lease is trusted starts with the watchdog armed (an
        expired deadline is an older lease's: the coordinator's next renewal arms it)."""
        if slot.lease_deadline is not None:
            left = slot.lease_deadline - time.monotonic()
            if left > 0:
                host.post({"op": "lease", "seconds": left, "stopWithin": slot.lease_stop_within})

    async def _spawn(self, slot: _Slot) -> HostConnection:
        parent, child = socket.socketpair()
        try:
            proc = await self._launcher.spawn(child, self.options.engine)
        except OSError as exc:
            parent.close()
            raise TransportError(f"cannot start a session host: {exc}") from exc
        finally:
            child.close()
        host = HostConnection(slot.account_id, proc)
        host.reader, host.writer = await asyncio.open_connection(sock=parent)
        host.read_task = asyncio.create_task(
            self._read(slot, host), name=f"session-host-{slot.account_id}"
        )
        try:
            await asyncio.wait_for(asyncio.shield(host.hello), HELLO_TIMEOUT_SECONDS)
        except (TimeoutError, HostGone) as exc:
            host.kill()
            raise TransportError(f"the session host did not come up: {exc}") from exc
        return host

    async def _read(self, slot: _Slot, host: HostConnection) -> None:
        assert host.reader is not None
        try:
            while True:
                header = await host.reader.readexactly(wire.header_size())
                body = await host.reader.readexactly(wire.frame_length(header))
                for message in wire.FrameDecoder().feed(header + body):
                    await self._on_message(slot, host, message)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        except wire.WireError as exc:
            log.error("%s: session host spoke garbage (%s); killing it", slot.account_id, exc)
            host.kill()
        finally:
            if host.writer is not None:
                host.writer.close()
            returncode = await host.proc.wait()
            why = describe_exit(returncode, host.loop_ended)
            if not host.hello.done():
                host.hello.set_exception(HostGone(why))
                host.hello.exception()  # retrieved: nobody may be waiting any more
            host.fail_pending(why)
            self._host_ended(slot, host, why)

    async def _on_message(self, slot: _Slot, host: HostConnection, message: dict[str, Any]) -> None:
        op = message.get("op")
        if op == "hello":
            if not host.hello.done():
                host.hello.set_result(int(message.get("pid") or 0))
        elif op == "reply":
            fut = host.pending.get(int(message.get("id") or 0))
            if fut is not None and not fut.done():
                fut.set_result(message)
        elif op == "event":
            try:
                event = wire.from_wire(message.get("event"))
            except wire.WireError as exc:  # a newer host's event: count it, keep the session
                self._unknown(str(exc))
            else:
                self._track(slot, event)
                sink = slot.sink
                if sink is not None and slot.host is host:
                    # The sink may block (the journal's fsync, backpressure): never on the loop.
                    await asyncio.to_thread(sink, event)
            if message.get("ack"):
                host.send_ack(int(message["seq"]))
        elif op == "loop_ended":
            host.loop_ended = str(message.get("reason") or "the session's event loop ended")

    def _unknown(self, kind: str) -> None:
        count = self.unknown_events.get(kind, 0)
        self.unknown_events[kind] = count + 1
        if count == 0:
            log.warning("a session host sent an event this daemon does not know (%s)", kind)

    def _track(self, slot: _Slot, event: TransportEvent) -> None:
        if isinstance(event, Connected):
            slot.connected = True
            slot.connected_at = time.monotonic()
        elif isinstance(event, _CONNECTION_LOST):
            slot.connected = False
        if isinstance(event, _TERMINAL):
            slot.want_running = False  # a person must act: no automatic restart
        if isinstance(event, Paired):
            slot.restarts = 0

    def _host_ended(self, slot: _Slot, host: HostConnection, why: str) -> None:
        if slot.host is not host or not host.started:
            return  # a start that failed, or an older host: its caller handles it
        slot.host = None
        slot.connected = False
        slot.last_exit = why
        if not slot.want_running or self._closed:
            return
        if slot.connected_at is not None and time.monotonic() - slot.connected_at > (
            STABLE_AFTER_SECONDS
        ):
            slot.restarts = 0
        slot.connected_at = None
        slot.restarts += 1
        slot.total_restarts += 1
        delay = self._delay(slot.restarts)
        then = f"restarting in {delay:.1f} s"
        if slot.lease_deadline is not None and time.monotonic() >= slot.lease_deadline:
            then = "restarting once the lease is renewed"
        log.warning("%s: %s; %s", slot.account_id, why, then)
        self._emit(slot, Disconnected(slot.account_id, reason=f"{why}; {then}"))
        slot.restart_task = asyncio.create_task(self._restart_after(slot, delay))

    def _delay(self, attempt: int) -> float:
        return backoff_delay(
            attempt,
            initial=self.options.backoff_initial,
            maximum=self.options.backoff_max,
            rand=self._rand,
        )

    async def _restart_after(self, slot: _Slot, delay: float) -> None:
        while True:
            await asyncio.sleep(delay)
            async with slot.lock:
                if not slot.want_running or self._closed or slot.host is not None:
                    return
                if slot.lease_deadline is not None and time.monotonic() >= slot.lease_deadline:
                    # the lease is not trusted now (the host ended by its watchdog): the
                    # coordinator renews it (and we start next round) or stops the account
                    continue
                try:
                    await self._launch(slot)
                    return
                except Exception as exc:  # whatever failed, the account must come back
                    slot.restarts += 1
                    slot.total_restarts += 1
                    delay = self._delay(slot.restarts)
                    reason = f"restart attempt {slot.restarts} failed: {exc}"
                    slot.last_exit = reason
                    self._emit(
                        slot,
                        Disconnected(slot.account_id, reason=f"{reason}; next in {delay:.1f} s"),
                    )

    def _emit(self, slot: _Slot, event: TransportEvent) -> None:
        if slot.sink is not None:
            try:
                slot.sink(event)
            except Exception:
                log.exception("%s: sink failed", slot.account_id)

    async def _stop_host(self, slot: _Slot, *, logout: bool) -> None:
        """Ask the host to stop, kill it after the grace; returns once the process is gone."""
        host = slot.host
        slot.host = None
        slot.connected = False
        if host is None:
            return
        if host.alive():
            grace = LOGOUT_GRACE_SECONDS if logout else STOP_GRACE_SECONDS
            with contextlib.suppress(TransportError):
                await host.call("stop", {"logout": logout}, grace)
            try:
                await asyncio.wait_for(host.proc.wait(), 1.0)
            except TimeoutError:
                host.kill()
        await host.proc.wait()
        if host.read_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await host.read_task


def _cancel(task: asyncio.Task[Any] | None) -> None:
    if task is not None and not task.done() and task is not asyncio.current_task():
        task.cancel()


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
