"""Decode one account's Baileys 7.0.0-rc.9 multi-file auth state into whatsmeow rows (pure).

The folder (or the `files` map of `wa_sessions/{accountId}`) holds `creds.json` and one file per
key, named `${type}-${id}.json` with `/` written as `__` and `:` as `-`
(`useMultiFileAuthState`). Field correspondence (Baileys `AuthenticationCreds` → whatsmeow):

- `noiseKey.private` → `whatsmeow_device.noise_key`; `signedIdentityKey.private` → `identity_key`
- `signedPreKey.keyPair.private`, `.keyId`, `.signature` → `signed_pre_key`, `_id`, `_sig`
- `registrationId` → `registration_id`; `advSecretKey` (base64) → `adv_key` (raw bytes)
- `account.details`, `.accountSignature`, `.accountSignatureKey`, `.deviceSignature` →
  `adv_details`, `adv_account_sig`, `adv_account_sig_key`, `adv_device_sig`
- `me.id`, `me.lid` → `jid`, `lid`; `me.name`, `platform` → `push_name`, `platform`
  (`business_name` stays empty: Baileys keeps the pairing's business name only until the push
  name overwrites `me.name`)
- `pre-key-{id}` → `whatsmeow_pre_keys` (`uploaded` when `id < firstUnuploadedPreKeyId`)
- `app-state-sync-key-{base64 id}` → `whatsmeow_app_state_sync_keys`
- `lid-mapping-{pn}` and `lid-mapping-{lid}_reverse` → `whatsmeow_lid_map`
- `tctoken-{jid}` → `whatsmeow_privacy_tokens`
- `account.accountSignatureKey` (the phone's identity) → `whatsmeow_identity_keys` under the
  main-device LID address `{lid}_1:0`, as whatsmeow's pairing writes it

Signal sessions, sender keys and app-state versions are counted and left out (whatsmeow rebuilds
them). Every key pair is checked: the stored public key must be X25519(private).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from session_daemon.session_import.baileys_keys import (
    UINT24,
    app_state_key,
    check_key_pair,
    lid_mapping,
    lid_pairs,
    newest,
    pre_key,
    tc_token,
)
from session_daemon.session_import.model import (
    AppStateKey,
    DeviceRow,
    ImportedSession,
    PreKey,
    PrivacyToken,
)
from session_daemon.session_import.protowire import parse_fields
from session_daemon.session_import.values import (
    SourceError,
    b64decode,
    sized_bytes,
    to_bytes,
    to_int,
    to_str,
)

CREDS = "creds.json"
_ME_ID = re.compile(r"^([1-9]\d{4,19})(?:\.\d+)?:(\d{1,3})@s\.whatsapp\.net$")
_ME_LID = re.compile(r"^(\d{1,25})(?:\.\d+)?(?::(\d{1,3}))?@lid$")

# File-name prefixes, most specific first (`sender-key-memory-` before `sender-key-`).
_LEFT_OUT = (
    ("sender-key-memory-", "sender-key-memory"),
    ("sender-key-", "sender-key"),
    ("session-", "session"),
    ("app-state-sync-version-", "app-state-sync-version"),
    ("device-list-", "device-list"),
)


def decode_auth_state(account_id: str, files: Mapping[str, str | bytes]) -> ImportedSession:
    """Every file of one account → the validated session, or `SourceError` naming the field."""
    if CREDS not in files:
        raise SourceError(
            CREDS, "missing: not a Baileys auth folder, or the account was never linked"
        )
    creds = _load(CREDS, files[CREDS])
    if not isinstance(creds, dict):
        raise SourceError(CREDS, "not a JSON object")
    device, first_unuploaded, key_index = _device(creds)
    phone_user = device.jid.split(":", 1)[0]
    warnings: list[str] = []
    device_number = int(device.jid.split(":", 1)[1].split("@", 1)[0])
    if key_index is not None and key_index != device_number:
        warnings.append(
            f"account.details keyIndex {key_index} differs from me.id device {device_number}"
        )

    skipped: dict[str, int] = {}
    pre_keys: list[PreKey] = []
    app_keys: list[AppStateKey] = []
    lid_forward: dict[str, str] = {}
    lid_reverse: dict[str, str] = {}
    tokens: list[PrivacyToken] = []
    for name in sorted(files):
        if name == CREDS:
            continue
        kind = _left_out_kind(name)
        if kind is not None:
            skipped[kind] = skipped.get(kind, 0) + 1
        elif name.startswith("pre-key-"):
            pre_keys.append(pre_key(name, _load(name, files[name]), first_unuploaded))
        elif name.startswith("app-state-sync-key-"):
            app_keys.append(app_state_key(name, _load(name, files[name])))
        elif name.startswith("lid-mapping-"):
            lid_mapping(name, _load(name, files[name]), lid_forward, lid_reverse)
        elif name.startswith("tctoken-"):
            token = tc_token(name, _load(name, files[name]))
            if token is None:
                skipped["tctoken-without-timestamp"] = (
                    skipped.get("tctoken-without-timestamp", 0) + 1
                )
            else:
                tokens.append(token)
        else:
            skipped["other"] = skipped.get("other", 0) + 1

    lid_map, conflicts = lid_pairs(lid_forward, lid_reverse)
    own_lid = device.lid.split("@")[0].split(":")[0] if device.lid else None
    if own_lid is not None and own_lid not in {lid for lid, _ in lid_map}:
        if phone_user in {pn for _, pn in lid_map}:
            conflicts += 1
        else:
            lid_map.append((own_lid, phone_user))  # whatsmeow stores its own pair when pairing
    if conflicts:
        skipped["lid-mapping-conflict"] = conflicts
    identities: list[tuple[str, bytes]] = []
    if own_lid is not None:
        # Pairing stores the phone's identity under its main-device LID signal address.
        identities.append((f"{own_lid}_1:0", device.adv_account_sig_key))
    return ImportedSession(
        account_id=account_id,
        device=device,
        phone_user=phone_user,
        pre_keys=tuple(sorted(pre_keys, key=lambda p: p.key_id)),
        app_state_keys=tuple(sorted(newest(app_keys, "key_id").values(), key=lambda k: k.key_id)),
        lid_map=tuple(sorted(lid_map)),
        privacy_tokens=tuple(
            sorted(newest(tokens, "their_jid").values(), key=lambda t: t.their_jid)
        ),
        identities=tuple(identities),
        skipped=skipped,
        warnings=tuple(warnings),
    )


def _load(name: str, raw: str | bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SourceError(name, f"not valid JSON ({exc})") from None


def _left_out_kind(name: str) -> str | None:
    for prefix, kind in _LEFT_OUT:
        if name.startswith(prefix):
            return kind
    return None


def _device(creds: dict[str, Any]) -> tuple[DeviceRow, int, int | None]:
    f = CREDS + ": "
    me = creds.get("me")
    if not isinstance(me, dict) or not me.get("id"):
        raise SourceError(f + "me.id", "missing: this auth state was never linked to a phone")
    me_id = to_str(me.get("id"), f + "me.id")
    assert me_id is not None
    match = _ME_ID.match(me_id)
    if match is None:
        raise SourceError(
            f + "me.id", f"not a linked-device JID (user:device@s.whatsapp.net): {me_id!r}"
        )
    user, device = match.group(1), int(match.group(2))
    if device == 0:
        raise SourceError(f + "me.id", "device 0 is the phone itself, not a linked device")
    lid = None
    raw_lid = to_str(me.get("lid"), f + "me.lid", optional=True)
    if raw_lid:
        lid_match = _ME_LID.match(raw_lid)
        if lid_match is None:
            raise SourceError(f + "me.lid", f"not a LID JID: {raw_lid!r}")
        lid_device = int(lid_match.group(2) or 0)
        lid = (
            f"{lid_match.group(1)}:{lid_device}@lid" if lid_device else f"{lid_match.group(1)}@lid"
        )

    signed = creds.get("signedPreKey")
    if not isinstance(signed, dict):
        raise SourceError(f + "signedPreKey", "missing")
    account = creds.get("account")
    if not isinstance(account, dict):
        raise SourceError(f + "account", "missing: the signed device identity (ADV) is required")
    details = to_bytes(account.get("details"), f + "account.details", base64_string=True)
    try:
        fields = parse_fields(details)
    except ValueError as exc:
        raise SourceError(
            f + "account.details", f"not an ADVDeviceIdentity protobuf ({exc})"
        ) from None
    key_index = fields.get(3, [None])[0]
    adv_secret = to_str(creds.get("advSecretKey"), f + "advSecretKey")
    assert adv_secret is not None
    adv_key = b64decode(adv_secret, f + "advSecretKey")
    if len(adv_key) != 32:
        raise SourceError(f + "advSecretKey", f"expected 32 bytes, got {len(adv_key)}")

    row = DeviceRow(
        jid=f"{user}:{device}@s.whatsapp.net",
        lid=lid,
        registration_id=to_int(
            creds.get("registrationId"), f + "registrationId", low=0, high=2**32 - 1
        ),
        noise_key=check_key_pair(creds.get("noiseKey"), f + "noiseKey"),
        identity_key=check_key_pair(creds.get("signedIdentityKey"), f + "signedIdentityKey"),
        signed_pre_key=check_key_pair(signed.get("keyPair"), f + "signedPreKey.keyPair"),
        signed_pre_key_id=to_int(signed.get("keyId"), f + "signedPreKey.keyId", low=0, high=UINT24),
        signed_pre_key_sig=sized_bytes(signed.get("signature"), f + "signedPreKey.signature", 64),
        adv_key=adv_key,
        adv_details=details,
        adv_account_sig=sized_bytes(
            account.get("accountSignature"), f + "account.accountSignature", 64, base64_string=True
        ),
        adv_account_sig_key=sized_bytes(
            account.get("accountSignatureKey"),
            f + "account.accountSignatureKey",
            32,
            base64_string=True,
        ),
        adv_device_sig=sized_bytes(
            account.get("deviceSignature"), f + "account.deviceSignature", 64, base64_string=True
        ),
        platform=to_str(creds.get("platform"), f + "platform", optional=True) or "",
        push_name=to_str(me.get("name"), f + "me.name", optional=True) or "",
    )
    first_unuploaded = to_int(
        creds.get("firstUnuploadedPreKeyId", 1), f + "firstUnuploadedPreKeyId", low=0, high=2**31
    )
    return row, first_unuploaded, key_index if isinstance(key_index, int) else None
