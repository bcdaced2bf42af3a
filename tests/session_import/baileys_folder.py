"""Baileys 7.0.0-rc.9 multi-file auth folders, built in Python exactly as Baileys writes them.

Node cannot install Baileys at that version here, so the tests build the files themselves:
`JSON.stringify(value, BufferJSON.replacer)` output (no spaces; Buffers as
`{"type":"Buffer","data":"<base64>"}`), real X25519 key pairs, and real ADV protobufs made with
neonize's WhatsApp protobuf classes. `creds.account` and app-state key data are protobufjs
messages in Baileys, whose `toJSON` (called before the replacer) writes bytes as base64 strings
and int64 as decimal strings: built that way too.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from neonize.proto.waAdv import WAAdv_pb2 as adv
from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as e2e


def key_pair() -> tuple[bytes, bytes]:
    private = X25519PrivateKey.generate()
    return private.private_bytes_raw(), private.public_key().public_bytes_raw()


def buf(data: bytes) -> dict[str, str]:
    return {"type": "Buffer", "data": base64.b64encode(data).decode()}


def numeric_keys(data: bytes) -> dict[str, int]:
    """The other form BufferJSON's reviver accepts: a serialised Uint8Array."""
    return {str(i): b for i, b in enumerate(data)}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def pair_json(private: bytes, public: bytes) -> dict[str, Any]:
    return {"private": buf(private), "public": buf(public)}


def stringify(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass
class AppKey:
    key_id: bytes
    key_data: bytes
    timestamp: int
    raw_id: int
    current_index: int
    device_indexes: list[int]

    def fingerprint(self) -> bytes:
        """What whatsmeow stores: the fingerprint protobuf, marshalled."""
        return e2e.AppStateSyncKeyFingerprint(
            rawID=self.raw_id, currentIndex=self.current_index, deviceIndexes=self.device_indexes
        ).SerializeToString()


@dataclass
class Folder:
    """One account's auth state: `files` as Baileys writes them, and the raw values behind."""

    phone: str
    device: int
    lid: str
    noise: tuple[bytes, bytes]
    identity: tuple[bytes, bytes]
    signed_pre_key: tuple[bytes, bytes]
    signed_pre_key_id: int
    signed_pre_key_sig: bytes
    registration_id: int
    adv_secret: bytes
    adv_details: bytes
    account_sig: bytes
    account_sig_key: bytes
    device_sig: bytes
    push_name: str
    platform: str
    first_unuploaded: int
    pre_keys: dict[int, tuple[bytes, bytes]] = field(default_factory=dict)
    app_keys: list[AppKey] = field(default_factory=list)
    lid_map: dict[str, str] = field(default_factory=dict)  # pn user -> lid user
    tc_tokens: dict[str, tuple[bytes, int]] = field(default_factory=dict)  # jid -> (token, t)
    signal_sessions: int = 3
    sender_keys: int = 2
    app_state_versions: int = 2

    @property
    def me_id(self) -> str:
        return f"{self.phone}:{self.device}@s.whatsapp.net"

    def creds(self) -> dict[str, Any]:
        ephemeral = key_pair()
        return {
            "noiseKey": pair_json(*self.noise),
            "pairingEphemeralKeyPair": pair_json(*ephemeral),
            "signedIdentityKey": pair_json(*self.identity),
            "signedPreKey": {
                "keyPair": pair_json(*self.signed_pre_key),
                "signature": buf(self.signed_pre_key_sig),
                "keyId": self.signed_pre_key_id,
            },
            "registrationId": self.registration_id,
            "advSecretKey": b64(self.adv_secret),
            "processedHistoryMessages": [],
            "nextPreKeyId": max(self.pre_keys, default=0) + 1,
            "firstUnuploadedPreKeyId": self.first_unuploaded,
            "accountSyncCounter": 1,
            "accountSettings": {"unarchiveChats": False},
            "registered": False,
            "account": {  # protobufjs toJSON: bytes as base64 strings
                "details": b64(self.adv_details),
                "accountSignatureKey": b64(self.account_sig_key),
                "accountSignature": b64(self.account_sig),
                "deviceSignature": b64(self.device_sig),
            },
            "me": {
                "id": self.me_id,
                "name": self.push_name,
                "lid": f"{self.lid}:{self.device}@lid",
            },
            "signalIdentities": [
                {
                    "identifier": {"name": f"{self.lid}:{self.device}@lid", "deviceId": 0},
                    "identifierKey": buf(b"\x05" + self.account_sig_key),
                }
            ],
            "platform": self.platform,
            "routingInfo": buf(os.urandom(12)),
            "lastAccountSyncTimestamp": 1764000000,
            "myAppStateKeyId": b64(self.app_keys[0].key_id) if self.app_keys else None,
            "lastPropHash": "2V77qU",
        }

    def files(self) -> dict[str, str]:
        out = {"creds.json": stringify(self.creds())}
        for key_id, pair in self.pre_keys.items():
            out[f"pre-key-{key_id}.json"] = stringify(pair_json(*pair))
        for k in self.app_keys:
            name = b64(k.key_id).replace("/", "__")
            out[f"app-state-sync-key-{name}.json"] = stringify(
                {
                    "keyData": b64(k.key_data),
                    "fingerprint": {
                        "rawId": k.raw_id,
                        "currentIndex": k.current_index,
                        "deviceIndexes": k.device_indexes,
                    },
                    "timestamp": str(k.timestamp),
                }
            )
        for pn, lid in self.lid_map.items():
            out[f"lid-mapping-{pn}.json"] = stringify(lid)
            out[f"lid-mapping-{lid}_reverse.json"] = stringify(pn)
        for jid, (token, ts) in self.tc_tokens.items():
            out[f"tctoken-{jid}.json"] = stringify({"token": buf(token), "timestamp": str(ts)})
        for i in range(self.signal_sessions):  # libsignal session records: left out on purpose
            out[f"session-4072{i:07d}.0.json"] = stringify({"_sessions": {}, "version": "v1"})
        for i in range(self.sender_keys):
            out[f"sender-key-1203630{i}@g.us--4072{i:07d}--0.json"] = stringify(buf(b"sk"))
        for i in range(self.app_state_versions):
            out[f"app-state-sync-version-regular_{i}.json"] = stringify(
                {"version": 3, "hash": buf(bytes(128)), "indexValueMap": {}}
            )
        out["device-list-40733111222.json"] = stringify(["0", "21"])
        return out

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in self.files().items():
            (folder / name).write_text(text, encoding="utf-8")
        return folder


def adv_details(device: int) -> bytes:
    """A real `ADVSignedDeviceIdentity.details`: a serialised ADVDeviceIdentity."""
    return adv.ADVDeviceIdentity(
        rawID=int.from_bytes(os.urandom(4), "big"),
        timestamp=1764000000,
        keyIndex=device,
        accountType=adv.ADVEncryptionType.E2EE,
        deviceType=adv.ADVEncryptionType.E2EE,
    ).SerializeToString()


def make_folder(phone: str = "40722000001", *, device: int = 12, n_pre_keys: int = 30) -> Folder:
    lid = str(100000000000000 + int(phone[-6:]))
    identity = key_pair()
    signed = adv.ADVSignedDeviceIdentity(
        details=adv_details(device),
        accountSignatureKey=os.urandom(32),
        accountSignature=os.urandom(64),
        deviceSignature=os.urandom(64),
    )
    folder = Folder(
        phone=phone,
        device=device,
        lid=lid,
        noise=key_pair(),
        identity=identity,
        signed_pre_key=key_pair(),
        signed_pre_key_id=1,
        signed_pre_key_sig=os.urandom(64),
        registration_id=int.from_bytes(os.urandom(2), "big") & 0x3FFF,
        adv_secret=os.urandom(32),
        adv_details=signed.details,
        account_sig=signed.accountSignature,
        account_sig_key=signed.accountSignatureKey,
        device_sig=signed.deviceSignature,
        push_name="Superparty Vânzări",
        platform="android",
        first_unuploaded=n_pre_keys - 4,
    )
    folder.pre_keys = {i: key_pair() for i in range(5, 5 + n_pre_keys)}  # 1..4 already used
    folder.app_keys = [
        AppKey(os.urandom(6), os.urandom(32), 1764000000000 + i, 7 + i, i, [0, 3]) for i in range(3)
    ]
    folder.lid_map = {"40733111222": "200000000000001", "40744333444": "200000000000002"}
    folder.tc_tokens = {
        "200000000000001@lid": (os.urandom(24), 1764100000),
        "40744333444@s.whatsapp.net": (os.urandom(24), 1764200000),
    }
    return folder
