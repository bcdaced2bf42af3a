"""One running session host as the supervisor sees it: the process, its socket, the calls in
flight (`HostConnection`), and how a host's end is told to a person (`describe_exit`).

The supervisor (`session_daemon/hosts/supervisor.py`) owns the hosts of every account; this
module knows one host only, and nothing about restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Any, Final

from session_daemon.hosts import wire
from session_daemon.hosts.launcher import HostProcess
from session_daemon.transport.port import NotConnected, TransportError

HELLO_TIMEOUT_SECONDS: Final = 30.0  # interpreter + neonize import on a loaded machine
STOP_GRACE_SECONDS: Final = 2.0
LOGOUT_GRACE_SECONDS: Final = 25.0
SEND_TIMEOUT_SECONDS: Final = 90.0  # whatsmeow's request timeout is 75 s
MEDIA_TIMEOUT_SECONDS: Final = 300.0  # a 100 MB file on a slow link
CALL_TIMEOUT_SECONDS: Final = 30.0
STABLE_AFTER_SECONDS: Final = 60.0  # connected this long: the next crash starts backoff afresh


class HostGone(TransportError):
    """The host process ended while a call was in flight: its outcome is unknown."""

    ambiguous = True  # the outbox never resends a send whose fate is unknown


class HostConnection:
    """One running host process and its socket."""

    def __init__(self, account_id: str, proc: HostProcess) -> None:
        self.account_id = account_id
        self.proc = proc
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.next_id = 0
        self.hello: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.read_task: asyncio.Task[None] | None = None
        self.loop_ended: str | None = None
        self.started = False  # its session started: from now on an exit means a restart

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.returncode is None

    async def call(self, method: str, args: dict[str, Any], timeout: float) -> Any:
        if self.writer is None or not self.alive():
            raise NotConnected(f"account {self.account_id}: its session host is not running")
        self.next_id += 1
        call_id = self.next_id
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[call_id] = fut
        try:
            self.writer.write(
                wire.encode_frame({"op": "call", "id": call_id, "method": method, "args": args})
            )
            await self.writer.drain()
            reply = await asyncio.wait_for(fut, timeout)
        except TimeoutError as exc:  # before OSError, of which it is a subclass
            raise HostGone(f"session host did not answer {method} within {timeout:.0f} s") from exc
        except (ConnectionError, OSError) as exc:
            raise HostGone(f"session host unreachable during {method}: {exc}") from exc
        finally:
            self.pending.pop(call_id, None)
        if reply.get("ok"):
            return wire.from_wire(reply.get("result"))
        error = str(reply.get("error") or "failed")
        if reply.get("notConnected"):
            raise NotConnected(error)
        raise TransportError(error, retryable=bool(reply.get("retryable", True)))

    def send_ack(self, seq: int) -> None:
        self.post({"op": "ack", "seq": seq})

    def post(self, message: dict[str, Any]) -> None:
        """A frame that needs no answer (written now, never waits for the socket)."""
        if self.writer is not None and not self.writer.is_closing():
            with contextlib.suppress(ConnectionError, OSError, RuntimeError):
                self.writer.write(wire.encode_frame(message))

    def fail_pending(self, reason: str) -> None:
        for fut in self.pending.values():
            if not fut.done():
                fut.set_exception(HostGone(reason))
        self.pending.clear()

    def kill(self) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()


def describe_exit(returncode: int | None, loop_ended: str | None) -> str:
    """A human reason for a host's end (pure)."""
    if loop_ended:
        return loop_ended
    if returncode is None:
        return "the session host stopped answering"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        if -returncode == signal.SIGABRT:
            return f"the session host aborted ({name}: a fatal error inside the WhatsApp library)"
        return f"the session host was killed ({name})"
    if returncode == 2:
        return "the session host could not start the session"
    if returncode == 5:  # host.EXIT_LEASE_LAPSED
        return "the session host ended its session: its daemon did not renew the lease in time"
    return f"the session host exited with code {returncode}"
