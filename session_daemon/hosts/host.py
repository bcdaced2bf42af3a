"""A session host: the child process that holds one account's WhatsApp session.

Run by the daemon's supervisor (`session_daemon/hosts/supervisor.py`) as
`python -m session_daemon.hosts.host --fd N --engine neonize|simulated`; `N` is its end of a
socketpair. Why a process: neonize's Go side leaks a handle per start attempt that only the end
of a process frees, can abort the whole process on a concurrent map access, can block a minute
in `Stop`, and can end a session's event loop silently (`../shared/notes/neonize.md`). In a host
each of those costs this one account a restart; the daemon and the other accounts go on.

The host keeps nothing durable: the journal and the store stay in the daemon. It streams events
and answers calls:

- daemon → host: `{"op": "call", "id", "method", "args"}` (`start`, `stop`, `pairing_code`,
  `send_text`, `send_presence`, `pn_for_lid`, `stats`, `sim`), `{"op": "ack", "seq"}`,
  `{"op": "lease", "seconds", "stopWithin"}` (when the host must end its session unless renewed,
  and how long it may take: `session_daemon/hosts/lease_watchdog.py`).
- host → daemon: `{"op": "hello", "pid"}`, `{"op": "reply", "id", "ok", "result" | "error",
  "retryable", "notConnected"}`, `{"op": "event", "seq", "event", "ack"}`,
  `{"op": "loop_ended", "reason"}`.

Inbound events (messages, history, receipts) wait for the daemon's `ack`, sent once the daemon
journalled them, before the Go delivery thread is released: so the only unjournalled events are
the ones still in neonize's 100-slot Go channel (see docs/inbound-guarantees.md).

One start per process: a failed start, an ended event loop or a `stop` ends the host (exit codes
below), and the supervisor starts a fresh one. That is what keeps handles and memory flat.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import ctypes
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from session_daemon.hosts import wire
from session_daemon.hosts.lease_watchdog import LeaseWatchdog
from session_daemon.logs import configure_logging
from session_daemon.transport.port import (
    HistorySyncChunk,
    MessageReceived,
    NotConnected,
    ReceiptReceived,
    TransportError,
    TransportEvent,
    WhatsAppTransport,
    as_location,
)

log = logging.getLogger("session_daemon.hosts.host")

EXIT_STOPPED: Final = 0
EXIT_START_FAILED: Final = 2
EXIT_LOOP_ENDED: Final = 3
EXIT_DAEMON_GONE: Final = 4
EXIT_LEASE_LAPSED: Final = 5
# at most this (or the daemon's `stopWithin`) for a clean stop; then the process ends, which
# closes the connection anyway
LAPSE_STOP_SECONDS: Final = 0.5
STOP_GRACE_SECONDS: Final = 1.5
LOGOUT_GRACE_SECONDS: Final = 20.0
_INBOUND = (MessageReceived, HistorySyncChunk, ReceiptReceived)
_PR_SET_PDEATHSIG: Final = 1


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when the daemon dies (kill -9 included): a session left
    running without its daemon would be the same device connected twice after the restart."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class Channel:
    """The host's end of the socketpair: blocking frame I/O, writes serialised by a lock (Go's
    delivery thread, the event loop and the reader thread all write)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._write_lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        frame = wire.encode_frame(message)
        with self._write_lock:
            self._sock.sendall(frame)

    def receive(self) -> dict[str, Any] | None:
        header = self._read_exact(wire.header_size())
        if header is None:
            return None
        body = self._read_exact(wire.frame_length(header))
        if body is None:
            return None
        messages = wire.FrameDecoder().feed(header + body)
        return messages[0]

    def _read_exact(self, size: int) -> bytes | None:
        chunks = bytearray()
        while len(chunks) < size:
            try:
                data = self._sock.recv(size - len(chunks))
            except OSError:
                return None
            if not data:
                return None
            chunks += data
        return bytes(chunks)


class Host:
    def __init__(self, channel: Channel, engine: str, *, exit: Callable[[int], None]) -> None:
        self.channel = channel
        self.engine = engine
        self._exit = exit
        self.transport: WhatsAppTransport | None = None
        self.account_id: str | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._seq = 0
        self._seq_lock = threading.Lock()
        self._acks: dict[int, threading.Event] = {}
        self._closing = threading.Event()
        self.watchdog = LeaseWatchdog(self.lease_lapsed)
        self.stop_within = LAPSE_STOP_SECONDS

    # ---- events to the daemon (any thread) -----------------------------------------------------

    def sink(self, event: TransportEvent) -> None:
        needs_ack = isinstance(event, _INBOUND)
        with self._seq_lock:
            self._seq += 1
            seq = self._seq
            done = threading.Event()
            if needs_ack:
                self._acks[seq] = done
        try:
            self.channel.send(
                {"op": "event", "seq": seq, "event": wire.to_wire(event), "ack": needs_ack}
            )
        except OSError:
            self.daemon_gone()
            return
        if needs_ack:
            # Hold Go's delivery thread until the daemon journalled it (our acknowledgement).
            while not done.wait(1.0):
                if self._closing.is_set():
                    return

    def acked(self, seq: int) -> None:
        with self._seq_lock:
            done = self._acks.pop(seq, None)
        if done is not None:
            done.set()

    def loop_ended(self, reason: str) -> None:
        """The session's event loop returned although nobody stopped it (an event Go could not
        encode, a socket error): report it and end the host so the supervisor restarts it."""
        log.warning("%s: session loop ended: %s", self.account_id, reason)
        text = f"the session's event loop ended ({reason})"
        with contextlib.suppress(OSError):
            self.channel.send({"op": "loop_ended", "reason": text})
        self._exit(EXIT_LOOP_ENDED)

    def lease_lapsed(self, reason: str) -> None:
        """The watchdog's thread: the daemon stopped vouching for the lease (paused, stuck,
        gone). Disconnect now, before another daemon may take the account, and end the host."""
        log.warning("%s: ending the session: %s", self.account_id, reason)
        self._closing.set()
        transport, account_id, loop = self.transport, self.account_id, self.loop
        if transport is not None and account_id is not None and loop is not None:
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(transport.stop_session(account_id), loop).result(
                    self.stop_within
                )
        self._exit(EXIT_LEASE_LAPSED)

    def daemon_gone(self) -> None:
        self._closing.set()
        self._exit(EXIT_DAEMON_GONE)

    # ---- calls from the daemon (on the event loop) ---------------------------------------------

    async def handle_call(self, call_id: int, method: str, args: dict[str, Any]) -> None:
        reply: dict[str, Any] = {"op": "reply", "id": call_id, "ok": True, "result": None}
        exit_code: int | None = None
        try:
            reply["result"] = wire.to_wire(await self._dispatch(method, args))
        except TransportError as exc:
            reply.update(ok=False, error=str(exc), retryable=exc.retryable)
            reply["notConnected"] = isinstance(exc, NotConnected)
            if method == "start":
                exit_code = EXIT_START_FAILED  # one start per process: a retry is a new host
        except Exception as exc:  # any other failure is the call's, not the host's
            log.exception("%s failed", method)
            reply.update(ok=False, error=f"{type(exc).__name__}: {exc}", retryable=True)
            if method == "start":
                exit_code = EXIT_START_FAILED
        with contextlib.suppress(OSError):
            self.channel.send(reply)
        if method == "stop":
            exit_code = EXIT_STOPPED
        if exit_code is not None:
            self._exit(exit_code)

    async def _dispatch(self, method: str, args: dict[str, Any]) -> Any:
        if method == "start":
            return await self._start(args)
        if method == "stats":
            return process_stats()
        transport = self.transport
        account_id = self.account_id
        if transport is None or account_id is None:
            raise NotConnected("the session has not started")
        if method == "stop":
            grace = LOGOUT_GRACE_SECONDS if args.get("logout") else STOP_GRACE_SECONDS
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    transport.stop_session(account_id, logout=bool(args.get("logout"))), grace
                )
            return None
        if method == "pairing_code":
            return await transport.request_pairing_code(account_id, str(args["phone"]))
        if method == "send_text":
            return await transport.send_text(account_id, str(args["to"]), str(args["text"]))
        if method == "send_presence":
            await transport.send_presence(account_id, str(args["to"]), bool(args["composing"]))
            return None
        if method == "request_history":
            await transport.request_history(account_id, str(args["chat"]), int(args["count"]))
            return None
        if method == "pn_for_lid":
            return await asyncio.to_thread(transport.pn_for_lid, account_id, str(args["lid"]))
        if method in ("download_media", "profile_picture", "group_subject"):
            return await self._media_call(transport, account_id, method, args)
        if method in ("go_event", "go_loop_returns") and _test_hooks():
            from session_daemon.hosts.neonize_engine import HostedNeonize

            assert isinstance(transport, HostedNeonize)
            if method == "go_event":
                raw = base64.b64decode(str(args["raw"]))
                await asyncio.to_thread(transport.deliver_raw, account_id, int(args["code"]), raw)
            else:
                transport.loop_returns(account_id, str(args["error"]))
            return None
        if method == "sim":
            return await self._simulate(str(args["action"]), dict(args.get("kwargs") or {}))
        raise TransportError(f"unknown call {method!r}", retryable=False)

    async def _media_call(
        self, transport: Any, account_id: str, method: str, args: dict[str, Any]
    ) -> Any:
        """Issue 12's reads through the session: a media file is handed over on disk (a
        100 MB file does not fit a frame), a picture (small) and a group subject in the reply."""
        fn = getattr(transport, method, None)
        if fn is None:
            raise TransportError(f"{method} is not available on this engine", retryable=False)
        if method == "download_media":
            data = await fn(account_id, str(args["handle"]))
            target = Path(str(args["path"]))
            await asyncio.to_thread(target.write_bytes, bytes(data))
            return len(data)
        if method == "profile_picture":
            picture = await fn(account_id, str(args["jid"]))
            return base64.b64encode(picture).decode("ascii") if picture else None
        return await fn(account_id, str(args["jid"]))

    async def _start(self, args: dict[str, Any]) -> None:
        if self.transport is not None:
            raise TransportError("this host already started a session", retryable=False)
        self.account_id = str(args["account_id"])
        self.transport = make_engine(self.engine, args, on_loop_ended=self.loop_ended)
        db = as_location(str(args["session_db"]))
        if args.get("offline_attach") and _test_hooks():
            from session_daemon.hosts.neonize_engine import HostedNeonize

            assert isinstance(self.transport, HostedNeonize)
            self.transport.attach_offline(self.account_id, db, self.sink)
            return
        await self.transport.start_session(self.account_id, db, self.sink)

    async def _simulate(self, action: str, kwargs: dict[str, Any]) -> Any:
        """Plays the phone side of a simulated session (tests and demos only)."""
        from session_daemon.transport.simulated import SimulatedTransport

        transport = self.transport
        if not isinstance(transport, SimulatedTransport) or self.account_id is None:
            raise TransportError("not a simulated session", retryable=False)
        if action == "end_loop":  # what an event Go cannot encode does to a real session
            assert self.loop is not None
            self.loop.call_later(0.05, self.loop_ended, "simulated: an event Go cannot encode")
            return None
        allowed = {
            "pair",
            "deliver_message",
            "disconnect",
            "reconnect",
            "logout",
            "ban",
            "keepalive_timeout",
            "keepalive_restored",
            "connect_failure",
        }
        if action not in allowed:
            raise TransportError(f"unknown simulator action {action!r}", retryable=False)
        method = getattr(transport, action)
        result = await asyncio.to_thread(method, self.account_id, **kwargs)
        return result if isinstance(result, str | None) else str(result)


def _test_hooks() -> bool:
    """Test-only calls (`neonize_engine.HostedNeonize.attach_offline` and friends)."""
    return os.environ.get("SESSION_HOST_TEST_HOOKS") == "1"


def make_engine(
    engine: str, args: dict[str, Any], *, on_loop_ended: Callable[[str], None]
) -> WhatsAppTransport:
    if engine == "simnet":  # the machine's shared simulated network
        from session_daemon.transport.simnet import SimnetTransport

        return SimnetTransport(Path(str(args["sessions_path"])))
    if engine == "simulated":
        from session_daemon.transport.simulated import SimulatedTransport

        return SimulatedTransport(
            qr_interval=float(args.get("qr_interval") or 20.0),
            qr_timeout=float(args.get("qr_timeout") or 160.0),
        )
    if engine != "neonize":
        raise TransportError(f"unknown engine {engine!r}", retryable=False)
    from session_daemon.hosts.neonize_engine import HostedNeonize

    return HostedNeonize(
        on_loop_ended=on_loop_ended,
        proxy=args.get("proxy") or None,
        full_history=bool(args.get("full_history")),
        register_timeout_seconds=float(args.get("register_timeout") or 45.0),
        qr_timeout_seconds=float(args.get("qr_timeout") or 160.0),
    )


def process_stats() -> dict[str, int]:
    """Threads and open handles of this process (for the daemon's diagnostics and the bench)."""
    fds = len(os.listdir("/proc/self/fd"))
    return {"pid": os.getpid(), "threads": threading.active_count(), "fds": fds}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="session-host")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--engine", choices=("neonize", "simulated", "simnet"), default="neonize")
    opts = parser.parse_args(argv)
    run_host(opts.fd, opts.engine)


def run_host(fd: int, engine: str) -> None:
    """Serve one session on the socket `fd` until the host ends (never returns). Also the entry
    of a host forked by the zygote (`session_daemon/hosts/zygote.py`)."""
    die_with_parent()
    # Go's fmt.Println writes to fd 1 ("Press Ctrl+C to exit"): keep fd 1 for logs only.
    os.dup2(2, 1)
    if os.environ.get("LOG_FORMAT", "").lower() == "json":  # inherited from the daemon
        configure_logging(os.environ.get("SESSION_HOST_LOG_LEVEL", "WARNING"), "json")
    else:
        logging.basicConfig(
            level=os.environ.get("SESSION_HOST_LOG_LEVEL", "WARNING"),
            stream=sys.stderr,
            format="session-host[%(process)d] %(levelname)s %(name)s: %(message)s",
        )
    logging.getLogger("neonize.utils.ffmpeg").setLevel(logging.ERROR)  # no media conversion here
    sock = socket.socket(fileno=fd)
    channel = Channel(sock)

    def hard_exit(code: int) -> None:
        # os._exit: the Go runtime's threads (a parked pairing, a Stop blocked on a dead socket)
        # must not hold the process; nothing durable lives here.
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os._exit(code)

    host = Host(channel, engine, exit=hard_exit)
    asyncio.run(_serve(host, channel))
    hard_exit(EXIT_STOPPED)


async def _serve(host: Host, channel: Channel) -> None:
    loop = asyncio.get_running_loop()
    host.loop = loop
    tasks: set[asyncio.Task[None]] = set()

    def read_forever() -> None:
        while True:
            message = channel.receive()
            if message is None:
                host.daemon_gone()
                return
            op = message.get("op")
            if op == "ack":
                host.acked(int(message["seq"]))
            elif op == "lease":
                host.stop_within = float(message.get("stopWithin") or LAPSE_STOP_SECONDS)
                host.watchdog.renew(float(message.get("seconds") or 0.0))
            elif op == "call":
                loop.call_soon_threadsafe(_spawn_call, message)

    def _spawn_call(message: dict[str, Any]) -> None:
        task = loop.create_task(
            host.handle_call(
                int(message["id"]), str(message["method"]), dict(message.get("args") or {})
            )
        )
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    threading.Thread(target=read_forever, name="host-reader", daemon=True).start()
    channel.send({"op": "hello", "pid": os.getpid()})
    await asyncio.Event().wait()  # the host ends by os._exit


if __name__ == "__main__":
    main()
