"""The simulated phone network as a process of its own, shared by every daemon on the machine.

`SimulatedTransport` keeps its phone network in the memory of one process. With
`WHATSAPP_SIMULATOR=shared` the daemon uses `SimnetTransport` instead: a client of one *simnet
server* per sessions folder (`<SESSIONS_PATH>/.simnet/sock`), started by the first daemon that
needs it and shared by every daemon (and session host) that uses the same folder. So a message a
client "writes" through one daemon's `/api/simulator/*` reaches the account wherever it runs, what
a client phone received is one list for everybody, and messages sent to an account whose daemon
is down wait on the "server" and arrive when it reconnects: crash and failover tests on the
simulator see the network a real deployment sees.

Protocol: the session-host wire frames (`session_daemon/hosts/wire.py`) over a Unix socket.
`call` frames run a port operation or a control action (the same names as `SimulatedTransport`'s
methods) and get a `reply`; a session's events come back on the connection that started it as
`event` frames, and message/history/receipt events wait for the client's `ack` (sent after its
sink returned: the journal commit), as with the in-process simulator.

The server exits once no client has been connected for `IDLE_EXIT_SECONDS`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import fcntl
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from session_daemon.hosts import wire
from session_daemon.transport.port import (
    SIMULATOR_NEEDS_FOLDER,
    Connected,
    Disconnected,
    EventSink,
    HistorySyncChunk,
    LoggedOut,
    MessageReceived,
    NotConnected,
    ReceiptReceived,
    SendResult,
    SessionLocation,
    StreamReplaced,
    TemporaryBan,
    TransportError,
    TransportEvent,
    is_database_url,
)
from session_daemon.transport.simulated import SimulatedTransport
from session_daemon.transport.simulated_wire import ReceivedMessage, SimulatorError

log = logging.getLogger(__name__)

IDLE_EXIT_SECONDS: Final = 10.0
_INBOUND = (MessageReceived, HistorySyncChunk, ReceiptReceived)
_LOST = (Disconnected, LoggedOut, StreamReplaced, TemporaryBan)
CONTROL: Final = frozenset(
    {
        "pair",
        "pair_with_code",
        "deliver_message",
        "type_on_phone",
        "history_sync",
        "receipt",
        "read",
        "disconnect",
        "reconnect",
        "logout",
        "ban",
        "stream_replace",
        "fail_sends",
        "fail_connects",
        "learn_lid",
        "received_by",
        "accounts",
        "keepalive_timeout",
        "keepalive_restored",
        "end_loop",
        "connect_failure",
        "stall_connects",
        "sent_count",
        "double_sessions",
        "set_profile_picture",
        "set_group_subject",
        "expire_media",
    }
)


def socket_path(sessions_path: Path) -> Path:
    return Path(sessions_path) / ".simnet" / "sock"


def _result_to_wire(value: Any) -> Any:
    if isinstance(value, ReceivedMessage):
        return {"$received": [value.account_id, value.text, value.message_id]}
    if isinstance(value, list):
        return [_result_to_wire(v) for v in value]
    return wire.to_wire(value)


def _result_from_wire(value: Any) -> Any:
    if isinstance(value, list):
        return [_result_from_wire(v) for v in value]
    if isinstance(value, dict) and "$received" in value:
        account_id, text, message_id = value["$received"]
        return ReceivedMessage(str(account_id), str(text), str(message_id))
    return wire.from_wire(value)


async def _read_frame(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    try:
        header = await reader.readexactly(wire.header_size())
        body = await reader.readexactly(wire.frame_length(header))
    except (asyncio.IncompleteReadError, ConnectionError, OSError):
        return None
    return wire.FrameDecoder().feed(header + body)[0]


# ==== the server ================================================================================


class _Connection:
    def __init__(self, writer: asyncio.StreamWriter, loop: asyncio.AbstractEventLoop) -> None:
        self.writer = writer
        self.loop = loop
        self.accounts: set[str] = set()
        self._seq = 0
        self._lock = threading.Lock()
        self._acks: dict[int, threading.Event] = {}
        self.closed = False

    def send(self, message: dict[str, Any]) -> None:
        frame = wire.encode_frame(message)

        def write() -> None:
            if not self.writer.is_closing():
                self.writer.write(frame)

        if _on_loop(self.loop):
            write()
        else:
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(write)

    def sink(self, event: TransportEvent) -> None:
        if self.closed:  # the daemon is gone: the network keeps the message (ConnectionError)
            raise ConnectionResetError("the daemon of this session disconnected")
        needs_ack = isinstance(event, _INBOUND) and not _on_loop(self.loop)
        with self._lock:
            self._seq += 1
            seq = self._seq
            done = threading.Event()
            if needs_ack:
                self._acks[seq] = done
        self.send({"op": "event", "seq": seq, "event": wire.to_wire(event), "ack": needs_ack})
        if needs_ack:  # the phone's delivery returns once the daemon journalled it
            while not done.wait(1.0):
                if self.closed:  # never acknowledged: WhatsApp would deliver it again
                    raise ConnectionResetError("the daemon of this session disconnected")

    def acked(self, seq: int) -> None:
        with self._lock:
            done = self._acks.pop(seq, None)
        if done is not None:
            done.set()

    def close(self) -> None:
        # deliveries still waiting for an acknowledgement see `closed` within a second and keep
        # their message on the network (they are not woken as if acknowledged)
        self.closed = True


class SimnetServer:
    def __init__(self, path: Path, transport: SimulatedTransport | None = None) -> None:
        self.path = path
        self.transport = transport or SimulatedTransport()
        self.clients = 0
        self._idle_since = time.monotonic()
        # which connection runs each account's session: a start from another connection while
        # that session is live is two live sessions of one device (WhatsApp replaces the older
        # one); it is logged and counted, so failover tests can assert it never happens
        self.owner: dict[str, _Connection] = {}
        self.doubles: list[dict[str, Any]] = []

    async def serve(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        server = await asyncio.start_unix_server(self._client, path=str(self.path))
        async with server:
            while self.clients or time.monotonic() - self._idle_since < IDLE_EXIT_SECONDS:
                await asyncio.sleep(0.5)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        await self.transport.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.clients += 1
        conn = _Connection(writer, asyncio.get_running_loop())
        tasks: set[asyncio.Task[None]] = set()
        try:
            while (message := await _read_frame(reader)) is not None:
                if message.get("op") == "ack":
                    conn.acked(int(message["seq"]))
                elif message.get("op") == "call":
                    task = asyncio.create_task(self._call(conn, message))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
        finally:
            conn.close()
            # the daemon holding these sessions is gone: its devices go offline, and what is
            # sent to them now waits on the "server" until a daemon starts them again
            for account in conn.accounts:
                if self.owner.get(account) is not conn:
                    continue  # another daemon runs it now: leave its session alone
                del self.owner[account]
                with contextlib.suppress(Exception):
                    await self.transport.stop_session(account)
            writer.close()
            self.clients -= 1
            self._idle_since = time.monotonic()

    async def _call(self, conn: _Connection, message: dict[str, Any]) -> None:
        reply: dict[str, Any] = {"op": "reply", "id": message.get("id"), "ok": True}
        try:
            result = await self._dispatch(
                conn, str(message.get("method")), dict(message.get("args") or {})
            )
            reply["result"] = _result_to_wire(result)
        except SimulatorError as exc:
            reply.update(ok=False, error=str(exc), simError=exc.code)
        except TransportError as exc:
            reply.update(ok=False, error=str(exc), retryable=exc.retryable)
            reply["notConnected"] = isinstance(exc, NotConnected)
        except Exception as exc:
            log.exception("simnet call failed")
            reply.update(ok=False, error=f"{type(exc).__name__}: {exc}", retryable=True)
        conn.send(reply)

    async def _dispatch(self, conn: _Connection, method: str, args: dict[str, Any]) -> Any:
        t = self.transport
        account = str(args.get("account_id", ""))
        if method == "start_session":
            previous = self.owner.get(account)
            if (
                previous is not None
                and previous is not conn
                and not previous.closed
                and t.accounts().get(account) == "connected"
            ):
                self.doubles.append({"account": account, "at": time.time()})
                log.error("two live sessions of %s: the older one is replaced", account)
                previous.sink(StreamReplaced(account_id=account))
            conn.accounts.add(account)
            self.owner[account] = conn
            await t.start_session(account, Path(str(args["session_db"])), conn.sink)
            return None
        if method == "stop_session":
            conn.accounts.discard(account)
            if self.owner.get(account) not in (None, conn):
                return None  # replaced meanwhile: the account's session is another's now
            self.owner.pop(account, None)
            await t.stop_session(account, logout=bool(args.get("logout")))
            return None
        if method == "request_pairing_code":
            return await t.request_pairing_code(account, str(args["phone"]))
        if method == "send_text":
            return await t.send_text(account, str(args["to"]), str(args["text"]))
        if method == "send_presence":
            await t.send_presence(account, str(args["to"]), bool(args["composing"]))
            return None
        if method == "request_history":
            await t.request_history(account, str(args["chat"]), int(args["count"]))
            return None
        if method == "download_media":
            data = await t.download_media(account, str(args["handle"]))
            return base64.b64encode(data).decode("ascii")
        if method == "profile_picture":
            picture = await t.profile_picture(account, str(args["jid"]))
            return base64.b64encode(picture).decode("ascii") if picture else None
        if method == "group_subject":
            return await t.group_subject(account, str(args["jid"]))
        if method == "control":
            name = str(args["name"])
            if name not in CONTROL:
                raise SimulatorError("invalid_argument", f"unknown simulator action {name!r}")
            if name == "sent_count":
                return t.sent_count
            if name == "double_sessions":
                return list(self.doubles)
            fn: Callable[..., Any] = getattr(t, name)
            positional = [wire.from_wire(a) for a in args.get("args") or []]
            named = {k: wire.from_wire(v) for k, v in dict(args.get("kwargs") or {}).items()}
            return await asyncio.to_thread(fn, *positional, **named)
        raise TransportError(f"unknown call {method!r}", retryable=False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="simnet")
    parser.add_argument("--sessions-path", required=True)
    opts = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="simnet: %(levelname)s %(message)s")
    path = socket_path(Path(opts.sessions_path))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / "lock", "w") as lock:
        try:  # one server per sessions folder
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return
        asyncio.run(SimnetServer(path).serve())


# ==== the client ================================================================================


class SimnetTransport:
    """The `WhatsAppTransport` port and the simulator's control actions, served by the shared
    simnet server. Control actions are synchronous and thread-safe like `SimulatedTransport`'s;
    call them from a worker thread (the HTTP routes do)."""

    supports_history_requests = True

    def __init__(self, sessions_path: Path, *, python: str = sys.executable) -> None:
        self.sessions_path = Path(sessions_path)
        self.python = python
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        with contextlib.suppress(RuntimeError):  # made on the daemon's loop: control works at once
            self._loop = asyncio.get_running_loop()
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._next = 0
        self._sinks: dict[str, EventSink] = {}
        self._connected: set[str] = set()
        self._connect_lock = asyncio.Lock()
        self._read_task: asyncio.Task[None] | None = None

    # ---- the port ------------------------------------------------------------------------------

    async def start_session(
        self, account_id: str, session_db: SessionLocation, sink: EventSink
    ) -> None:
        if is_database_url(session_db):
            raise TransportError(SIMULATOR_NEEDS_FOLDER, retryable=False)
        self._sinks[account_id] = sink
        await self._call("start_session", {"account_id": account_id, "session_db": str(session_db)})

    async def stop_session(self, account_id: str, *, logout: bool = False) -> None:
        self._connected.discard(account_id)
        await self._call("stop_session", {"account_id": account_id, "logout": logout})
        self._sinks.pop(account_id, None)

    async def request_pairing_code(self, account_id: str, phone_e164: str) -> str:
        return str(
            await self._call(
                "request_pairing_code", {"account_id": account_id, "phone": phone_e164}
            )
        )

    async def send_text(self, account_id: str, to_jid: str, text: str) -> SendResult:
        result = await self._call(
            "send_text", {"account_id": account_id, "to": to_jid, "text": text}
        )
        assert isinstance(result, SendResult)
        return result

    async def send_presence(self, account_id: str, to_jid: str, composing: bool) -> None:
        await self._call(
            "send_presence", {"account_id": account_id, "to": to_jid, "composing": composing}
        )

    async def request_history(self, account_id: str, chat_jid: str, count: int) -> None:
        await self._call(
            "request_history", {"account_id": account_id, "chat": chat_jid, "count": count}
        )

    def is_connected(self, account_id: str) -> bool:
        return account_id in self._connected

    async def download_media(self, account_id: str, handle: str) -> bytes:
        result = await self._call("download_media", {"account_id": account_id, "handle": handle})
        return base64.b64decode(str(result))

    async def profile_picture(self, account_id: str, jid: str) -> bytes | None:
        result = await self._call("profile_picture", {"account_id": account_id, "jid": jid})
        return base64.b64decode(result) if isinstance(result, str) and result else None

    async def group_subject(self, account_id: str, group_jid: str) -> str | None:
        result = await self._call("group_subject", {"account_id": account_id, "jid": group_jid})
        return result if isinstance(result, str) and result else None

    def pn_for_lid(self, account_id: str, lid_jid: str) -> str | None:
        loop = self._loop
        if loop is None or _on_loop(loop):
            return None
        try:
            value = asyncio.run_coroutine_threadsafe(
                self._call("pn_for_lid", {"account_id": account_id, "lid": lid_jid}), loop
            ).result(5.0)
        except Exception:
            return None
        return value if isinstance(value, str) else None

    async def close(self) -> None:
        for account in list(self._sinks):
            with contextlib.suppress(Exception):
                await self.stop_session(account)
        if self._writer is not None:
            self._writer.close()
        if self._read_task is not None:
            self._read_task.cancel()
        self._writer = None

    # ---- control (the phones) -------------------------------------------------------------------

    def control(self, name: str, *args: Any, **kwargs: Any) -> Any:
        loop = self._loop
        if loop is None or _on_loop(loop):
            raise RuntimeError("simulator control runs in a worker thread of a started daemon")
        payload = {
            "name": name,
            "args": [wire.to_wire(a) for a in args],
            "kwargs": {k: wire.to_wire(v) for k, v in kwargs.items()},
        }
        return asyncio.run_coroutine_threadsafe(self._call("control", payload), loop).result(60)

    def __getattr__(self, name: str) -> Any:
        if name in CONTROL and name != "sent_count":
            return lambda *args, **kwargs: self.control(name, *args, **kwargs)
        raise AttributeError(name)

    @property
    def sent_count(self) -> int:
        return int(self.control("sent_count"))

    def double_sessions(self) -> list[dict[str, Any]]:
        """Every time two daemons ran one account's session at once (should be never)."""
        return list(self.control("double_sessions"))

    # ---- internals ------------------------------------------------------------------------------

    async def _call(self, method: str, args: dict[str, Any], timeout: float = 60.0) -> Any:
        writer = await self._ensure()
        self._next += 1
        call_id = self._next
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[call_id] = fut
        try:
            writer.write(
                wire.encode_frame({"op": "call", "id": call_id, "method": method, "args": args})
            )
            await writer.drain()
            reply = await asyncio.wait_for(fut, timeout)
        finally:
            self._pending.pop(call_id, None)
        if reply.get("ok"):
            return _result_from_wire(reply.get("result"))
        error = str(reply.get("error") or "failed")
        if reply.get("simError"):
            raise SimulatorError(str(reply["simError"]), error)
        if reply.get("notConnected"):
            raise NotConnected(error)
        raise TransportError(error, retryable=bool(reply.get("retryable", True)))

    async def _ensure(self) -> asyncio.StreamWriter:
        async with self._connect_lock:
            if self._writer is not None and not self._writer.is_closing():
                return self._writer
            self._loop = asyncio.get_running_loop()
            path = socket_path(self.sessions_path)
            deadline = time.monotonic() + 30
            spawned = False
            while True:
                try:
                    self._reader, self._writer = await asyncio.open_unix_connection(str(path))
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise TransportError("the simulated phone network did not start") from None
                    if not spawned:
                        self._spawn_server()
                        spawned = True
                    await asyncio.sleep(0.1)
            self._read_task = asyncio.create_task(self._read(self._reader))
            return self._writer

    def _spawn_server(self) -> None:
        # detached: the network outlives any one daemon (it exits when nobody uses it)
        import subprocess

        subprocess.Popen(
            [self.python, "-m", "session_daemon.transport.simnet",
             "--sessions-path", str(self.sessions_path)],
            stdin=subprocess.DEVNULL, start_new_session=True, env=dict(os.environ),
        )  # fmt: skip

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while (message := await _read_frame(reader)) is not None:
                op = message.get("op")
                if op == "reply":
                    fut = self._pending.get(int(message.get("id") or 0))
                    if fut is not None and not fut.done():
                        fut.set_result(message)
                elif op == "event":
                    event = wire.from_wire(message.get("event"))
                    if isinstance(event, Connected):
                        self._connected.add(event.account_id)
                    elif isinstance(event, _LOST):
                        self._connected.discard(event.account_id)
                    sink = self._sinks.get(event.account_id)
                    if sink is not None:
                        await asyncio.to_thread(sink, event)
                    if message.get("ack") and self._writer is not None:
                        self._writer.write(
                            wire.encode_frame({"op": "ack", "seq": int(message["seq"])})
                        )
        finally:
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(TransportError("the simulated phone network went away"))
            self._connected.clear()
            self._writer = None


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


if __name__ == "__main__":
    main()
