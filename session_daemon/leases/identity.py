"""The default `WHATSAPP_INSTANCE_ID`: stable per data folder, unique per process.

A daemon restarted on the same data folder must come back as itself (its leases, its outbox
orphans and its inbound journal carry its id), and two daemons started on one data folder must
not share an id. Ids live in slot files `<data>/instance-id`, `<data>/instance-id.1`, ...; a
process takes the lowest slot it can lock (`flock`, freed by the kernel when the process dies,
kill -9 included) and uses the id stored in it, generating one the first time. A restart
finds its own slot free again and gets its id back; a second process on the same folder gets
the next slot and its own id.
"""

from __future__ import annotations

import fcntl
import os
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from shared.paths import check_id, is_id

SLOT_FILE = "instance-id"
MAX_SLOTS = 64


class IdentityError(Exception):
    """No slot could be locked (or the folder is not usable)."""


@dataclass
class InstanceIdentity:
    """An instance id and, for a default id, the locked slot file that keeps it ours."""

    instance_id: str
    slot: int | None = None  # None: given explicitly (WHATSAPP_INSTANCE_ID)
    _fd: int | None = field(default=None, repr=False)

    @property
    def locked_locally(self) -> bool:
        return self._fd is not None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the lock
            self._fd = None


def _slot_path(data_dir: Path, slot: int) -> Path:
    return data_dir / (SLOT_FILE if slot == 0 else f"{SLOT_FILE}.{slot}")


def _new_id() -> str:
    host = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in socket.gethostname())
    return f"{host[:40] or 'daemon'}-{uuid.uuid4().hex[:8]}"


def claim_default_identity(data_dir: Path) -> InstanceIdentity:
    """Lock the lowest free slot of `data_dir` and return its id (generated on first use)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    for slot in range(MAX_SLOTS):
        path = _slot_path(data_dir, slot)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            text = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
            if not is_id(text):  # first use, or an unreadable file: a new id for this slot
                text = _new_id()
                os.ftruncate(fd, 0)
                os.pwrite(fd, (text + "\n").encode(), 0)
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            raise
        return InstanceIdentity(text, slot, fd)
    raise IdentityError(f"all {MAX_SLOTS} instance-id slots of {data_dir} are locked")


def resolve_identity(explicit: str | None, data_dir: Path) -> InstanceIdentity:
    """`WHATSAPP_INSTANCE_ID` when set (checked to be one path segment), else the data folder's."""
    if explicit:
        return InstanceIdentity(check_id(explicit, "WHATSAPP_INSTANCE_ID"))
    return claim_default_identity(data_dir)
