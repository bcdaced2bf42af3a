"""The simulated transport's import path: an imported device becomes its session marker.

`SimulatedTransport` keeps a session as a small JSON marker in the session db file; an imported
device is written as a paired marker (own JID, push name, the LID map), so a later test or demo
starts from imported sessions exactly as the real daemon does: restored, no QR. The same
rules as the real writer apply: identical → unchanged, same device used since → kept, another
device → `SessionConflict` unless forced; the rename is atomic and the file is 0600.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from session_daemon.session_import.model import ImportAction, ImportedSession, SessionConflict
from session_daemon.transport.simulated_session import SESSION_FORMAT


def marker_for(session: ImportedSession) -> dict[str, Any]:
    """What `simulated_session.load_session` reads: a paired session of the imported device."""
    return {
        "format": SESSION_FORMAT,
        "paired": True,
        "ownJid": session.own_jid,
        "pushName": session.device.push_name or None,
        "lidMap": {f"{lid}@lid": f"{pn}@s.whatsapp.net" for lid, pn in session.lid_map},
        "loggedOut": False,
        "bannedUntilMs": None,
        "importedDevice": session.device.jid,
    }


def import_marker(
    target: Path, session: ImportedSession, *, force: bool, dry_run: bool
) -> ImportAction:
    wanted = marker_for(session)
    action: ImportAction = "import"
    if target.exists():
        try:
            current = json.loads(target.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            current = None
        if not isinstance(current, dict) or current.get("format") != SESSION_FORMAT:
            if not force:
                raise SessionConflict(f"{target} is not a simulated session; --force replaces it")
            action = "replace"
        elif current == wanted:
            return "unchanged"
        elif current.get("paired") and current.get("ownJid") == session.own_jid:
            if not force:
                return "keep"
            action = "replace"
        elif current.get("paired"):
            if not force:
                raise SessionConflict(
                    f"{target} holds another device ({current.get('ownJid')}); --force replaces it"
                )
            action = "replace"
        else:
            action = "replace"  # an unpaired or logged-out marker holds no device
    if not dry_run:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.import-{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(wanted, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    return action
