"""The embedded store's media adapter: a local folder the daemon serves under signed links.

A link is `{publicBase}/media/{accountId}/{file}?sig={hmac}` where the signature is
HMAC-SHA256 of the account and the file name under a server key. The signature is the
credential (the app opens the URL with no header), it never expires (message documents live
forever), and rotating the key revokes every link at once. One object can be revoked alone by
moving its file aside (`revoke`): the bytes stay on disk, the link answers 404.

Why the account is signed separately from the name: a link minted for one account can never be
replayed against another account's folder, whatever the file names are.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import tempfile
from pathlib import Path
from typing import Final
from urllib.parse import quote

from session_daemon.media.port import (
    InvalidObjectName,
    MediaStoreError,
    StoredMedia,
    split_object_name,
)

__all__ = ["MEDIA_ROUTE_PREFIX", "LocalMediaStore", "load_or_create_key"]

MEDIA_ROUTE_PREFIX: Final = "/media"
_SIG_HEX_CHARS: Final = 64  # the full SHA-256: truncating would only weaken the credential
_MIN_KEY_BYTES: Final = 32
_REVOKED_DIR: Final = ".revoked"
_SIG: Final = re.compile(r"[0-9a-f]{64}")


def load_or_create_key(path: Path, env_value: str | None = None) -> bytes:
    """The signing key: `env_value` when given (an operator's `WHATSAPP_MEDIA_SIGNING_KEY`),
    else the key saved in `path`, else a new random key written there (mode 0600). Replacing
    the key (or deleting the file) revokes every link signed with the old one."""
    if env_value:
        key = env_value.encode("utf-8")
        if len(key) < _MIN_KEY_BYTES:
            raise ValueError(f"the media signing key must be at least {_MIN_KEY_BYTES} bytes")
        return key
    try:
        saved = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        saved = ""
    if saved:
        return saved.encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(fresh + "\n")
    return fresh.encode("utf-8")


class LocalMediaStore:
    """`MediaStore` on a folder: `{root}/{accountId}/{file}`."""

    def __init__(self, root: Path, key: bytes, public_base_url: str) -> None:
        if len(key) < _MIN_KEY_BYTES:
            raise ValueError(f"the media signing key must be at least {_MIN_KEY_BYTES} bytes")
        self._root = root
        self._key = key
        self._base = public_base_url.rstrip("/")

    @property
    def public_base_url(self) -> str:
        return self._base

    @property
    def root(self) -> Path:
        return self._root

    def signature(self, account_id: str, file_name: str) -> str:
        # Length-prefixed fields: no (account, name) pair signs the same bytes as another.
        message = f"{len(account_id)}:{account_id}|{len(file_name)}:{file_name}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:_SIG_HEX_CHARS]

    def url_for(self, name: str) -> str:
        account_id, file_name = split_object_name(name)
        sig = self.signature(account_id, file_name)
        return (
            f"{self._base}{MEDIA_ROUTE_PREFIX}/{quote(account_id, safe='')}/"
            f"{quote(file_name, safe='')}?sig={sig}"
        )

    def _file(self, account_id: str, file_name: str) -> Path:
        return self._root / account_id / file_name

    def put(self, name: str, data: bytes, mimetype: str) -> StoredMedia:
        account_id, file_name = split_object_name(name)
        folder = self._root / account_id
        try:
            folder.mkdir(parents=True, exist_ok=True)
            # Write then rename: a reader (or a crash) never sees half a file.
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".part-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, folder / file_name)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise MediaStoreError(f"cannot write media file: {type(exc).__name__}") from exc
        return StoredMedia(name, self.url_for(name), len(data), mimetype)

    def revoke(self, name: str) -> None:
        account_id, file_name = split_object_name(name)
        source = self._file(account_id, file_name)
        if not source.exists():
            return
        aside = self._root / _REVOKED_DIR / account_id
        aside.mkdir(parents=True, exist_ok=True)
        os.replace(source, aside / file_name)

    def resolve(self, account_id: str, file_name: str, sig: str | None) -> Path | None:
        """The file a link names when its signature is right and the file exists, else None.
        The signature is checked first, in constant time, so a bad link learns nothing about
        which files exist."""
        try:
            split_object_name(f"{account_id}/{file_name}")
        except InvalidObjectName:
            return None
        if not self.signature_is_valid(account_id, file_name, sig):
            return None
        path = self._file(account_id, file_name)
        return path if path.is_file() else None

    def signature_is_valid(self, account_id: str, file_name: str, sig: str | None) -> bool:
        # Only lowercase hex of the right length is compared: compare_digest refuses non-ASCII
        # text (a TypeError, so a 500 for any caller who sends one).
        if not sig or not _SIG.fullmatch(sig):
            return False
        return hmac.compare_digest(sig, self.signature(account_id, file_name))
