"""One simulated session: its in-memory record and its session db marker (a small JSON file
written atomically, so a restarted daemon resumes a paired session without a QR).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from session_daemon.transport.port import EventSink, TransportEvent, WireMessage
from shared.timeutil import from_ms, to_ms

SESSION_FORMAT = "superparty-simulated-session/1"
SessionState = Literal["pairing", "connected", "disconnected", "logged_out", "banned", "stopped"]


@dataclass
class SimSession:
    account_id: str
    session_db: Path
    sink: EventSink
    state: SessionState = "stopped"
    paired: bool = False
    own_jid: str | None = None
    push_name: str | None = None
    lid_map: dict[str, str] = field(default_factory=dict)  # lid jid -> phone jid
    banned_until: datetime | None = None
    qr_stop: threading.Event | None = None
    pairing_code: str | None = None
    pairing_phone: str | None = None
    last_qr: str | None = None
    offline_queue: list[TransportEvent] = field(default_factory=list)
    history: list[WireMessage] = field(default_factory=list)  # what the linked phone holds


def _random_b64(n: int) -> str:
    return base64.b64encode(os.urandom(n)).decode()


def qr_payload() -> str:
    # Same shape as whatsmeow's: ref,noisePub,identityPub,advSecret
    return ",".join(("2@" + _random_b64(18), _random_b64(32), _random_b64(32), _random_b64(32)))


def default_own_phone(account_id: str) -> str:
    digest = int(hashlib.sha256(account_id.encode()).hexdigest()[:8], 16)
    return f"+407{digest % 10**8:08d}"


def load_session(session: SimSession) -> None:
    """Fill a session from its session db marker, if there is one of our format."""
    try:
        raw = json.loads(session.session_db.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return
    if not isinstance(raw, dict) or raw.get("format") != SESSION_FORMAT:
        return
    session.paired = bool(raw.get("paired"))
    session.own_jid = raw.get("ownJid") if session.paired else None
    session.push_name = raw.get("pushName")
    lid_map = raw.get("lidMap")
    session.lid_map = dict(lid_map) if isinstance(lid_map, dict) else {}
    until = raw.get("bannedUntilMs")
    session.banned_until = from_ms(until) if isinstance(until, int) else None


def save_session(session: SimSession, *, logged_out: bool = False) -> None:
    """Write the session db marker atomically (tmp file, fsync, rename)."""
    data = {
        "format": SESSION_FORMAT,
        "paired": session.paired,
        "ownJid": session.own_jid,
        "pushName": session.push_name,
        "lidMap": session.lid_map,
        "loggedOut": logged_out,
        "bannedUntilMs": to_ms(session.banned_until) if session.banned_until else None,
    }
    path = session.session_db
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
