"""How the supervisor starts a session host: `ExecLauncher` runs a fresh interpreter per host;
`ZygoteLauncher` asks the zygote (`session_daemon/hosts/zygote.py`) to fork one, which shares the
imported libraries between hosts (about half the memory per session, and a faster start).

Both give back an object with `pid`, `returncode`, `await wait()` and `kill()`, as
`asyncio.subprocess.Process` has.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Mapping
from typing import Any, Protocol

log = logging.getLogger(__name__)

ZYGOTE_READY_TIMEOUT = 60.0  # the preload imports a lot; a loaded machine takes seconds


class HostProcess(Protocol):
    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...

    async def wait(self) -> int: ...

    def kill(self) -> None: ...


class Launcher(Protocol):
    async def spawn(self, child: socket.socket, engine: str) -> HostProcess: ...

    async def close(self) -> None: ...


class ExecLauncher:
    def __init__(self, python: str = sys.executable, env: Mapping[str, str] | None = None) -> None:
        self.python = python
        self.env = env

    async def spawn(self, child: socket.socket, engine: str) -> HostProcess:
        proc = await asyncio.create_subprocess_exec(
            self.python,
            "-m",
            "session_daemon.hosts.host",
            "--fd",
            str(child.fileno()),
            "--engine",
            engine,
            pass_fds=(child.fileno(),),
            stdin=asyncio.subprocess.DEVNULL,
            env={**os.environ, **(self.env or {})},
        )
        return proc

    async def close(self) -> None:
        return None


class ForkedHost:
    """A host forked by the zygote: not our child, so its end is reported by the zygote."""

    def __init__(self, pid: int, loop: asyncio.AbstractEventLoop) -> None:
        self._pid = pid
        self._returncode: int | None = None
        self._done: asyncio.Future[int] = loop.create_future()

    @property
    def pid(self) -> int:
        return self._pid

    @property
    def returncode(self) -> int | None:
        return self._returncode

    async def wait(self) -> int:
        return await asyncio.shield(self._done)

    def kill(self) -> None:
        if self._returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)

    def exited(self, returncode: int) -> None:
        if self._returncode is None:
            self._returncode = returncode
        if not self._done.done():
            self._done.set_result(returncode)


class ZygoteLauncher:
    def __init__(self, python: str = sys.executable, env: Mapping[str, str] | None = None) -> None:
        self.python = python
        self.env = env
        self._lock = asyncio.Lock()
        self._send_lock = threading.Lock()
        self._control: socket.socket | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready: asyncio.Future[int] | None = None
        self._waiting: dict[int, asyncio.Future[int]] = {}
        self._hosts: dict[int, ForkedHost] = {}
        self._early_exits: dict[int, int] = {}
        self._next_id = 0
        self.starts = 0  # zygotes started (1 unless one died)

    async def spawn(self, child: socket.socket, engine: str) -> HostProcess:
        control = await self._ensure()
        loop = asyncio.get_running_loop()
        self._next_id += 1
        request_id = self._next_id
        answer: asyncio.Future[int] = loop.create_future()
        self._waiting[request_id] = answer
        message = json.dumps({"op": "fork", "id": request_id, "engine": engine}).encode() + b"\n"
        try:
            await asyncio.to_thread(self._send, control, message, child.fileno())
            pid = await asyncio.wait_for(answer, 30.0)
        except TimeoutError as exc:
            raise OSError("the session-host zygote did not fork in time") from exc
        finally:
            self._waiting.pop(request_id, None)
        host = ForkedHost(pid, loop)
        self._hosts[pid] = host
        if pid in self._early_exits:
            host.exited(self._early_exits.pop(pid))
        return host

    async def close(self) -> None:
        control, proc = self._control, self._proc
        self._control = self._proc = None
        if control is not None:
            with contextlib.suppress(OSError):
                control.shutdown(socket.SHUT_RDWR)
            control.close()
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()

    def _send(self, control: socket.socket, message: bytes, fd: int) -> None:
        with self._send_lock:
            socket.send_fds(control, [message], [fd])

    async def _ensure(self) -> socket.socket:
        async with self._lock:
            proc = self._proc
            if self._control is not None and proc is not None and proc.returncode is None:
                return self._control
            return await self._start()

    async def _start(self) -> socket.socket:
        self._loop = asyncio.get_running_loop()
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._proc = await asyncio.create_subprocess_exec(
                self.python,
                "-m",
                "session_daemon.hosts.zygote",
                "--fd",
                str(child.fileno()),
                pass_fds=(child.fileno(),),
                stdin=asyncio.subprocess.DEVNULL,
                env={**os.environ, **(self.env or {})},
            )
        finally:
            child.close()
        self.starts += 1
        self._control = parent
        self._ready = self._loop.create_future()
        threading.Thread(
            target=self._read, args=(parent, self._loop), name="zygote-reader", daemon=True
        ).start()
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), ZYGOTE_READY_TIMEOUT)
        except TimeoutError as exc:
            await self.close()
            raise OSError("the session-host zygote did not start") from exc
        return parent

    def _read(self, control: socket.socket, loop: asyncio.AbstractEventLoop) -> None:
        buffer = b""
        while True:
            try:
                data = control.recv(65536)
            except OSError:
                data = b""
            if not data:
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(self._zygote_gone, control)
                return
            buffer += data
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                with contextlib.suppress(ValueError, RuntimeError):
                    loop.call_soon_threadsafe(self._on_message, json.loads(line))

    def _on_message(self, message: dict[str, Any]) -> None:
        op = message.get("op")
        if op == "ready" and self._ready is not None and not self._ready.done():
            self._ready.set_result(int(message.get("pid") or 0))
        elif op == "forked":
            answer = self._waiting.get(int(message.get("id") or 0))
            if answer is not None and not answer.done():
                answer.set_result(int(message["pid"]))
        elif op == "exited":
            pid, code = int(message["pid"]), int(message["returncode"])
            host = self._hosts.pop(pid, None)
            if host is None:
                self._early_exits[pid] = code
            else:
                host.exited(code)

    def _zygote_gone(self, control: socket.socket) -> None:
        """Its hosts died with it (PR_SET_PDEATHSIG delivers SIGKILL): report them so."""
        if self._control is control:
            self._control = None
        for host in self._hosts.values():
            host.exited(-signal.SIGKILL)
        self._hosts.clear()
        for answer in self._waiting.values():
            if not answer.done():
                answer.set_exception(OSError("the session-host zygote ended"))
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(OSError("the session-host zygote ended at start"))
            self._ready.exception()
