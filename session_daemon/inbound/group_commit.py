"""The journal thread: group commit. Submitters queue an `Append` and wait; the thread takes
every request queued so far and journals them in one fsync'd transaction, then wakes them all
(that is the acknowledgement). If the disk refuses, every request of the group gets the error
and nothing of it is acknowledged."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable

from session_daemon.inbound.entries import Append, Entry, PipelineClosed
from session_daemon.inbound.journal import Journal

__all__ = ["GroupCommit"]

log = logging.getLogger(__name__)

Committed = Callable[[list[Entry], list[tuple[str, str, str]]], None]


class GroupCommit:
    def __init__(self, on_committed: Committed) -> None:
        """`on_committed(entries, mappings)` runs on the journal thread once they are on disk
        (entries carry their journal `seq`), before their submitters are woken."""
        self._on_committed = on_committed
        self._cv = threading.Condition()
        self._appends: deque[Append] = deque()
        self._stopping = False

    @property
    def busy(self) -> bool:
        """Whether requests wait to be journalled."""
        return bool(self._appends)

    def request(self, request: Append) -> None:
        """Queue `request` (the caller then waits on `request.done`)."""
        with self._cv:
            if self._stopping:
                raise PipelineClosed("the inbound pipeline is stopping")
            self._appends.append(request)
            self._cv.notify()

    def stop(self) -> None:
        """Refuse new requests; `run` returns once the queued ones are journalled."""
        with self._cv:
            self._stopping = True
            self._cv.notify_all()

    def run(self, journal: Journal) -> None:
        while True:
            with self._cv:
                while not self._appends and not self._stopping:
                    self._cv.wait()
                if not self._appends:
                    return
                group = list(self._appends)
                self._appends.clear()
            rows = [row for req in group for row in req.rows]
            mappings = [m for req in group for m in req.mappings]
            try:
                seqs = journal.append(rows, mappings)
            except BaseException as exc:  # the disk said no: nobody is acknowledged
                log.exception("inbound journal append failed")
                for req in group:
                    req.error = exc
                    req.done.set()
                continue
            entries = [e for req in group for e in req.entries]
            for entry, seq in zip(entries, seqs, strict=True):
                entry.seq = seq
            self._on_committed(entries, mappings)
            for req in group:
                req.done.set()
