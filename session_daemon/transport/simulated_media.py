"""The simulated network's media server, group subjects and profile pictures (issue 12): what
the phones set (`set_group_subject`, `set_profile_picture`, a message's `dataBase64`,
`expire_media`) and what the daemon's port asks (`download_media`, `group_subject`,
`profile_picture`). `SimulatedTransport` (`simulated.py`) builds on this class; the state lives
in `SimulatedNetwork`, under its lock.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import secrets
from collections.abc import Mapping
from typing import Any

from session_daemon.transport.port import Media, TransportError
from session_daemon.transport.simulated_network import SimulatedNetwork
from session_daemon.transport.simulated_wire import SimulatorError, media_from, require_phone
from shared.jids import normalize_jid, phone_jid

_MAX_MEDIA_BYTES = 64 * 1024 * 1024


def group_of(group: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    """`{jid, subject}` of a group chat (None: a one-to-one chat)."""
    if group is None:
        return None, None
    jid = normalize_jid(str(group.get("jid") or ""))
    if jid is None or not jid.endswith("@g.us"):
        raise SimulatorError("invalid_argument", "group.jid must be a group JID (…@g.us)")
    subject = group.get("subject")
    if subject is not None and not isinstance(subject, str):
        raise SimulatorError("invalid_argument", "group.subject must be a string")
    return jid, subject


class SimulatedMediaServer(SimulatedNetwork):
    def _media_with_file(self, media: Media | Mapping[str, Any] | None) -> Media | None:
        """`media` with its file kept on the simulated media server when `dataBase64` is
        given (a handle in `download`, its size and SHA-256); without it, nothing to fetch."""
        if media is None or isinstance(media, Media):
            return media
        data_b64 = media.get("dataBase64")
        plain = {k: v for k, v in media.items() if k != "dataBase64"}
        base = media_from(plain)
        if base is None or data_b64 is None:
            return base
        if not isinstance(data_b64, str):
            raise SimulatorError("invalid_argument", "media.dataBase64 must be a string")
        try:
            data = base64.b64decode(data_b64, validate=True)
        except (ValueError, binascii.Error):
            raise SimulatorError("invalid_argument", "media.dataBase64 is not base64") from None
        if len(data) > _MAX_MEDIA_BYTES:
            raise SimulatorError("invalid_argument", "media.dataBase64 is too large")
        handle = "sim-" + secrets.token_hex(12)
        with self._lock:
            self._media_files[handle] = data
        return dataclasses.replace(
            base,
            size_bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            download=handle,
        )

    def set_group_subject(self, group_jid: str, subject: str | None) -> None:
        """A group is created or renamed (what `group_subject` answers from now on)."""
        jid, _ = group_of({"jid": group_jid})
        assert jid is not None
        with self._lock:
            if subject:
                self._group_subjects[jid] = subject
            else:
                self._group_subjects.pop(jid, None)

    async def group_subject(self, account_id: str, group_jid: str) -> str | None:
        """The group's subject from its group info (like neonize's `get_group_info`)."""
        with self._lock:
            self._connected_session(account_id)
            return self._group_subjects.get(normalize_jid(group_jid) or group_jid)

    def set_profile_picture(self, who: str, picture_base64: str | None) -> None:
        """A client (phone) or group (JID) sets or removes (None) its profile picture; base64,
        so the call crosses the shared simulator's wire."""
        try:
            picture = base64.b64decode(picture_base64, validate=True) if picture_base64 else None
        except (ValueError, binascii.Error):
            raise SimulatorError("invalid_argument", "the picture is not base64") from None
        chat = normalize_jid(who) if "@" in who else phone_jid(require_phone(who, "phone"))
        if chat is None:
            raise SimulatorError("invalid_argument", f"not a JID or phone: {who!r}")
        with self._lock:
            if picture is None:
                self._pictures.pop(chat, None)
            else:
                self._pictures[chat] = picture

    async def profile_picture(self, account_id: str, jid: str) -> bytes | None:
        """The picture of a chat as the account sees it (None: none, or hidden)."""
        with self._lock:
            self._connected_session(account_id)
            return self._pictures.get(normalize_jid(jid) or jid)

    def expire_media(self, handle: str) -> None:
        """WhatsApp's servers drop a file (as they do after some weeks)."""
        with self._lock:
            self._media_files.pop(handle, None)

    async def download_media(self, account_id: str, handle: str) -> bytes:
        """The file of a delivered media message, like neonize's `download_any`: a dropped file
        fails as whatsmeow does (status code 410)."""
        with self._lock:
            self._connected_session(account_id)
            data = self._media_files.get(handle)
        if data is None:
            raise TransportError("download failed with status code 410", retryable=False)
        return data
