"""The key files of a Baileys auth folder and their whatsmeow rows (pure).

`pre-key-{id}`, `app-state-sync-key-{base64 id}`, `lid-mapping-{pn}` / `-{lid}_reverse` and
`tctoken-{jid}`, each named as `useMultiFileAuthState` writes it (`/` as `__`, `:` as `-`), and
the key-pair check every private key goes through.
"""

from __future__ import annotations

import re
from typing import TypeVar

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from session_daemon.session_import.model import AppStateKey, PreKey, PrivacyToken
from session_daemon.session_import.protowire import fingerprint_bytes
from session_daemon.session_import.values import (
    SourceError,
    b64decode,
    sized_bytes,
    to_bytes,
    to_int,
    to_int64,
)

UINT24 = 2**24 - 1
_USER_JID = re.compile(r"^(\d{1,25})(?:[-:]\d{1,3})?@(s\.whatsapp\.net|lid)$")
_DIGITS = re.compile(r"^\d{1,25}$")
_Stamped = TypeVar("_Stamped", AppStateKey, PrivacyToken)


def file_id(name: str, prefix: str) -> str:
    """The key id in a file name, with `useMultiFileAuthState`'s `/` → `__` undone."""
    if not name.endswith(".json"):
        raise SourceError(name, "not a .json file")
    return name[len(prefix) : -len(".json")].replace("__", "/")


def check_key_pair(pair: object, field: str) -> bytes:
    """A Baileys `KeyPair` → its private key, after checking public == X25519(private)."""
    if not isinstance(pair, dict):
        raise SourceError(field, "missing" if pair is None else "expected a key pair object")
    private = sized_bytes(pair.get("private"), f"{field}.private", 32)
    public = sized_bytes(pair.get("public"), f"{field}.public", 32)
    derived = X25519PrivateKey.from_private_bytes(private).public_key().public_bytes_raw()
    if derived != public:
        raise SourceError(f"{field}.public", "does not match the private key")
    return private


def newest(items: list[_Stamped], key: str) -> dict[object, _Stamped]:
    """One item per table key, the newest: two file names can name one row (`123-4@lid` and
    `123@lid` are one privacy-token user), and the table's primary key allows one."""
    out: dict[object, _Stamped] = {}
    for item in items:
        k = getattr(item, key)
        if k not in out or item.timestamp > out[k].timestamp:
            out[k] = item
    return out


def pre_key(name: str, value: object, first_unuploaded: int) -> PreKey:
    raw_id = file_id(name, "pre-key-")
    if not _DIGITS.match(raw_id) or str(int(raw_id)) != raw_id or int(raw_id) > UINT24:
        raise SourceError(name, f"pre-key id {raw_id!r} is not an integer in 0..{UINT24}")
    key_id = int(raw_id)
    private = check_key_pair(value, name)
    return PreKey(key_id=key_id, private=private, uploaded=key_id < first_unuploaded)


def app_state_key(name: str, value: object) -> AppStateKey:
    key_id = b64decode(file_id(name, "app-state-sync-key-"), f"{name} (file name)")
    if not key_id:
        raise SourceError(name, "empty key id")
    if not isinstance(value, dict):
        raise SourceError(name, "expected an AppStateSyncKeyData object")
    key_data = sized_bytes(value.get("keyData"), f"{name}: keyData", 32, base64_string=True)
    fingerprint = value.get("fingerprint")
    if fingerprint is not None and not isinstance(fingerprint, dict):
        raise SourceError(f"{name}: fingerprint", "expected an object")
    fp = fingerprint or {}
    raw_id = fp.get("rawId")
    index = fp.get("currentIndex")
    devices = fp.get("deviceIndexes") or []
    if not isinstance(devices, list):
        raise SourceError(f"{name}: fingerprint.deviceIndexes", "expected a list")
    u32 = 2**32 - 1
    encoded = fingerprint_bytes(
        None if raw_id is None else to_int(raw_id, f"{name}: fingerprint.rawId", low=0, high=u32),
        None
        if index is None
        else to_int(index, f"{name}: fingerprint.currentIndex", low=0, high=u32),
        [to_int(d, f"{name}: fingerprint.deviceIndexes", low=0, high=u32) for d in devices],
    )
    stamp = value.get("timestamp")
    timestamp = 0 if stamp is None else to_int64(stamp, f"{name}: timestamp")
    return AppStateKey(key_id=key_id, key_data=key_data, timestamp=timestamp, fingerprint=encoded)


def lid_mapping(name: str, value: object, forward: dict[str, str], reverse: dict[str, str]) -> None:
    key = file_id(name, "lid-mapping-")
    if not isinstance(value, str) or not _DIGITS.match(value):
        raise SourceError(name, "expected a JSON string of digits (a user part)")
    if key.endswith("_reverse"):
        lid = key[: -len("_reverse")]
        if not _DIGITS.match(lid):
            raise SourceError(name, f"LID user {lid!r} is not digits")
        reverse[lid] = value
    else:
        if not _DIGITS.match(key):
            raise SourceError(name, f"phone user {key!r} is not digits")
        forward[key] = value


def lid_pairs(
    forward: dict[str, str], reverse: dict[str, str]
) -> tuple[list[tuple[str, str]], int]:
    """(lid, pn) pairs for a table where both columns are unique. Baileys writes both directions
    together; where they disagree, or two phone numbers claim one LID, the reverse file (what
    Baileys answers for "which number is this LID") decides and the others are counted."""
    candidates = sorted(reverse.items()) + sorted((lid, pn) for pn, lid in forward.items())
    accepted: set[tuple[str, str]] = set()
    seen_lid: set[str] = set()
    seen_pn: set[str] = set()
    conflicts = 0
    for lid, pn in candidates:
        if (lid, pn) in accepted:
            continue  # the other direction of a pair already taken
        if lid in seen_lid or pn in seen_pn:
            conflicts += 1
            continue
        accepted.add((lid, pn))
        seen_lid.add(lid)
        seen_pn.add(pn)
    pairs = sorted(accepted)
    return pairs, conflicts


def tc_token(name: str, value: object) -> PrivacyToken | None:
    raw = file_id(name, "tctoken-")
    match = _USER_JID.match(raw)
    if match is None:
        raise SourceError(name, f"not a user JID: {raw!r}")
    if not isinstance(value, dict):
        raise SourceError(name, "expected {token, timestamp}")
    token = to_bytes(value.get("token"), f"{name}: token")
    if not token:
        raise SourceError(f"{name}: token", "empty")
    stamp = value.get("timestamp")
    if stamp is None:
        return None  # whatsmeow treats a token without a time as expired: nothing to carry
    timestamp = to_int64(stamp, f"{name}: timestamp")
    return PrivacyToken(f"{match.group(1)}@{match.group(2)}", token, timestamp)
