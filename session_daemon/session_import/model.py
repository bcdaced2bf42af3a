"""An imported linked device in whatsmeow's terms: the rows of its session database (pure).

Column lists follow whatsmeow's `store/sqlstore` (schema v15, the one the bundled neonize 0.5.2
library creates): `container.go` writes the device row, `store.go` the sibling tables. Values are
exactly what whatsmeow itself stores: private keys only (it derives public keys), JIDs as
`JID.String()` (`user:device@server`), booleans as 0/1, times as integers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

Row = tuple[object, ...]

# What an import does to an account's session store: write a new one, replace one (another
# device with --force, or a store without a device), leave an identical one alone, or keep one
# the daemon has used since (same device, other rows).
ImportAction = Literal["import", "replace", "unchanged", "keep"]


class SessionConflict(Exception):
    """The session store holds another device (or is unreadable) and --force was not given."""


# Tables the import fills, with the columns it writes (in this order).
TABLE_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "whatsmeow_device": (
        "jid", "lid", "registration_id", "noise_key", "identity_key",
        "signed_pre_key", "signed_pre_key_id", "signed_pre_key_sig",
        "adv_key", "adv_details", "adv_account_sig", "adv_account_sig_key", "adv_device_sig",
        "platform", "business_name", "push_name",
    ),
    "whatsmeow_identity_keys": ("our_jid", "their_id", "identity"),
    "whatsmeow_pre_keys": ("jid", "key_id", "key", "uploaded"),
    "whatsmeow_app_state_sync_keys": ("jid", "key_id", "key_data", "timestamp", "fingerprint"),
    "whatsmeow_lid_map": ("lid", "pn"),
    "whatsmeow_privacy_tokens": ("our_jid", "their_jid", "token", "timestamp", "sender_timestamp"),
}  # fmt: skip

# Tables left empty on purpose: whatsmeow rebuilds Signal sessions and sender keys through
# retry receipts, and re-syncs app state from version 0.
LEFT_EMPTY: Final[tuple[str, ...]] = (
    "whatsmeow_sessions",
    "whatsmeow_sender_keys",
    "whatsmeow_app_state_version",
    "whatsmeow_app_state_mutation_macs",
    "whatsmeow_contacts",
    "whatsmeow_chat_settings",
    "whatsmeow_message_secrets",
)


@dataclass(frozen=True)
class DeviceRow:
    jid: str  # `4072...:12@s.whatsapp.net`
    lid: str | None  # `1234...:12@lid`
    registration_id: int
    noise_key: bytes
    identity_key: bytes
    signed_pre_key: bytes
    signed_pre_key_id: int
    signed_pre_key_sig: bytes
    adv_key: bytes
    adv_details: bytes
    adv_account_sig: bytes
    adv_account_sig_key: bytes
    adv_device_sig: bytes
    platform: str = ""
    business_name: str = ""
    push_name: str = ""

    def row(self) -> Row:
        return tuple(getattr(self, name) for name in TABLE_COLUMNS["whatsmeow_device"])


@dataclass(frozen=True)
class PreKey:
    key_id: int
    private: bytes
    uploaded: bool


@dataclass(frozen=True)
class AppStateKey:
    key_id: bytes
    key_data: bytes
    timestamp: int  # milliseconds, as WhatsApp sends it
    fingerprint: bytes  # the AppStateSyncKeyFingerprint protobuf, as whatsmeow marshals it


@dataclass(frozen=True)
class PrivacyToken:
    their_jid: str  # non-AD `user@server`
    token: bytes
    timestamp: int  # seconds


@dataclass(frozen=True)
class ImportedSession:
    """One account's linked device, validated, ready to be written."""

    account_id: str
    device: DeviceRow
    phone_user: str  # the digits of the linked phone number
    pre_keys: tuple[PreKey, ...] = ()
    app_state_keys: tuple[AppStateKey, ...] = ()
    lid_map: tuple[tuple[str, str], ...] = ()  # (lid user, phone user)
    privacy_tokens: tuple[PrivacyToken, ...] = ()
    identities: tuple[tuple[str, bytes], ...] = ()  # (signal address, 32-byte identity key)
    skipped: dict[str, int] = field(default_factory=dict)  # what was left out, by kind
    warnings: tuple[str, ...] = ()

    @property
    def own_jid(self) -> str:
        """The phone JID without device (`4072...@s.whatsapp.net`), as the daemon records it."""
        return f"{self.phone_user}@s.whatsapp.net"

    def rows(self) -> dict[str, list[Row]]:
        """Every row to insert, by table, in a stable order."""
        jid = self.device.jid
        return {
            "whatsmeow_device": [self.device.row()],
            "whatsmeow_identity_keys": sorted((jid, a, k) for a, k in self.identities),
            "whatsmeow_pre_keys": sorted(
                (jid, p.key_id, p.private, int(p.uploaded)) for p in self.pre_keys
            ),
            "whatsmeow_app_state_sync_keys": sorted(
                (jid, k.key_id, k.key_data, k.timestamp, k.fingerprint) for k in self.app_state_keys
            ),
            "whatsmeow_lid_map": sorted(self.lid_map),
            "whatsmeow_privacy_tokens": sorted(
                (jid, t.their_jid, t.token, t.timestamp, None) for t in self.privacy_tokens
            ),
        }

    def counts(self) -> dict[str, int]:
        return {
            "preKeys": len(self.pre_keys),
            "preKeysUploaded": sum(1 for p in self.pre_keys if p.uploaded),
            "appStateSyncKeys": len(self.app_state_keys),
            "lidMappings": len(self.lid_map),
            "privacyTokens": len(self.privacy_tokens),
            "identityKeys": len(self.identities),
        }
