"""The zygote: a process that imports the session host's Python libraries once and forks hosts.

Why: a neonize session host is ~46 MB PSS when it imports everything itself, and most of that is
Python modules (neonize's protobuf descriptors, httpx, requests, bs4, linkpreview, segno, PIL)
that are identical in every host. Forked from one process that imported them, hosts share those
pages copy-on-write, so each host only pays for what it changes.

What it must not preload: the Go library. Go starts its runtime threads when the `.so` loads,
and threads do not survive `fork`. neonize loads the `.so` when the `neonize` package is imported
(`neonize/__init__` → `client` → `_binder`), so the zygote imports `neonize.proto.*` under a
stand-in `neonize` package and removes the stand-in afterwards: a host's real `import neonize`
then runs the package for real (loading Go in the child) and finds the protobuf modules ready.

Protocol on the control socket (AF_UNIX stream, from the daemon's supervisor): the daemon sends a
JSON line `{"op": "fork", "id", "engine"}` with the host's socket as SCM_RIGHTS; the zygote
answers `{"op": "forked", "id", "pid"}`, and `{"op": "exited", "pid", "returncode"}` (negative:
the signal, as `subprocess` reports it) when a host ends. The zygote dies with the daemon, and
its hosts die with it (`PR_SET_PDEATHSIG` at each level).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import importlib.util
import json
import logging
import os
import pkgutil
import select
import signal
import socket
import sys
import types
from typing import Any, Final

from session_daemon.hosts.host import die_with_parent, run_host

log = logging.getLogger("session_daemon.hosts.zygote")

# Imported once in the zygote, shared by every forked host. Missing ones are skipped.
SHARED_MODULES: Final = (
    "google.protobuf",
    "google.protobuf.message",
    "httpx",
    "requests",
    "bs4",
    "linkpreview",
    "segno",
    "PIL.Image",
    "PIL.ImageSequence",
    "magic",
    "session_daemon.hosts.wire",
    "session_daemon.transport.port",
    "session_daemon.transport.neonize_convert",
)


def preload() -> int:
    """Import what hosts share, without loading the Go library. Returns how many modules."""
    spec = importlib.util.find_spec("neonize")
    if spec is None or spec.submodule_search_locations is None:
        return 0
    standin = types.ModuleType("neonize")
    standin.__path__ = list(spec.submodule_search_locations)
    standin.__spec__ = spec
    sys.modules["neonize"] = standin
    try:
        proto = importlib.import_module("neonize.proto")
        for info in pkgutil.walk_packages(proto.__path__, "neonize.proto."):
            with contextlib.suppress(Exception):
                importlib.import_module(info.name)
        for name in SHARED_MODULES:
            with contextlib.suppress(Exception):
                importlib.import_module(name)
        if "neonize._binder" in sys.modules:  # something pulled the Go library in: unsafe
            raise RuntimeError("the Go library was loaded while preloading")
    finally:
        del sys.modules["neonize"]  # the real package runs in each host
    gc.collect()
    gc.freeze()  # keep the shared objects out of later collections (fewer pages copied)
    return len(sys.modules)


class Zygote:
    def __init__(self, control: socket.socket) -> None:
        self.control = control
        self.children: set[int] = set()
        self._buffer = b""
        self._fds: list[int] = []  # received with a request line not yet complete
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)

    def send(self, message: dict[str, Any]) -> None:
        self.control.sendall(json.dumps(message).encode() + b"\n")

    def serve(self) -> None:
        signal.set_wakeup_fd(self._wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes select through the pipe
        self.send({"op": "ready", "pid": os.getpid(), "modules": len(sys.modules)})
        while True:
            ready = select.select([self.control.fileno(), self._wake_r], [], [], 5.0)[0]
            if self._wake_r in ready:
                with contextlib.suppress(BlockingIOError):
                    os.read(self._wake_r, 4096)
            self.reap()
            if self.control.fileno() in ready and not self.receive():
                return  # the daemon is gone

    def receive(self) -> bool:
        data, fds, _flags, _addr = socket.recv_fds(self.control, 65536, 4)
        if not data:
            return False
        self._buffer += data
        self._fds.extend(fds)  # a descriptor can arrive before the end of its line
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            request = json.loads(line)
            fd = self._fds.pop(0) if self._fds else -1
            if request.get("op") == "fork" and fd >= 0:
                pid = self.fork(fd, str(request.get("engine") or "neonize"))
                self.send({"op": "forked", "id": request.get("id"), "pid": pid})
        return True

    def fork(self, fd: int, engine: str) -> int:
        pid = os.fork()
        if pid == 0:  # the host
            try:
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                gc.unfreeze()
                self.control.close()
                os.close(self._wake_r)
                os.close(self._wake_w)
                run_host(fd, engine)
            finally:
                os._exit(70)
        os.close(fd)
        self.children.add(pid)
        return pid

    def reap(self) -> None:
        for pid in list(self.children):
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                self.children.discard(pid)
                continue
            if done == 0:
                continue
            self.children.discard(pid)
            code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
            self.send({"op": "exited", "pid": pid, "returncode": code})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="session-zygote")
    parser.add_argument("--fd", type=int, required=True)
    opts = parser.parse_args(argv)
    die_with_parent()
    os.dup2(2, 1)
    preload()
    control = socket.socket(fileno=opts.fd)
    try:
        Zygote(control).serve()
    finally:
        os._exit(0)  # the hosts go with it (PR_SET_PDEATHSIG)


if __name__ == "__main__":
    main()
