"""The simulated transport's import path: an imported device resumes without a QR, so later
tests can start from imported sessions."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from session_daemon.session_import.baileys import decode_auth_state
from session_daemon.session_import.model import SessionConflict
from session_daemon.transport.port import (
    Connected,
    QrCode,
    SessionImporter,
    TransportError,
    TransportEvent,
)
from session_daemon.transport.simulated import SimulatedTransport
from tests.session_import.baileys_folder import make_folder

ACC = "account_prod_sim"


async def test_imported_session_connects_without_a_qr(tmp_path: Path) -> None:
    folder = make_folder("40722000005")
    session = decode_auth_state(ACC, folder.files())
    db = tmp_path / "sessions" / f"{ACC}.db"
    transport = SimulatedTransport(qr_interval=0.05)
    importer: SessionImporter = transport  # the port's import path
    assert await importer.import_session(ACC, db, session, dry_run=True) == "import"
    assert not db.exists()
    assert await transport.import_session(ACC, db, session) == "import"
    assert oct(db.stat().st_mode & 0o777) == "0o600"
    assert await transport.import_session(ACC, db, session) == "unchanged"

    events: list[TransportEvent] = []
    await transport.start_session(ACC, db, events.append)
    await asyncio.sleep(0.1)
    assert [type(e) for e in events] == [Connected]
    assert not any(isinstance(e, QrCode) for e in events)
    assert transport.own_jid(ACC) == "40722000005@s.whatsapp.net"
    pn = transport.pn_for_lid(ACC, "200000000000001@lid")
    assert pn == "40733111222@s.whatsapp.net"
    with pytest.raises(TransportError):  # never under a running session
        await transport.import_session(ACC, db, session)
    await transport.close()


async def test_another_device_needs_force(tmp_path: Path) -> None:
    db = tmp_path / f"{ACC}.db"
    transport = SimulatedTransport()
    first = decode_auth_state(ACC, make_folder("40722000005").files())
    other = decode_auth_state(ACC, make_folder("40722000006").files())
    await transport.import_session(ACC, db, first)
    with pytest.raises(SessionConflict):
        await transport.import_session(ACC, db, other)
    assert json.loads(db.read_text())["ownJid"] == "40722000005@s.whatsapp.net"
    assert await transport.import_session(ACC, db, other, force=True) == "replace"
    assert json.loads(db.read_text())["ownJid"] == "40722000006@s.whatsapp.net"
