"""Decoding Baileys rc.9 auth state (pure): every field lands where whatsmeow keeps it, in every
form Baileys' reviver accepts, and a wrong field is refused with its name."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from neonize.proto.waAdv import WAAdv_pb2 as adv

from session_daemon.session_import.baileys import decode_auth_state
from session_daemon.session_import.protowire import fingerprint_bytes, parse_fields
from session_daemon.session_import.values import SourceError, to_bytes, to_int64
from tests.session_import.baileys_folder import (
    Folder,
    buf,
    key_pair,
    make_folder,
    numeric_keys,
    pair_json,
    stringify,
)

ACC = "account_prod_7f3a"


@pytest.fixture(scope="module")
def folder() -> Folder:
    return make_folder()


def _with_creds(folder: Folder, change: Any) -> dict[str, str]:
    files = folder.files()
    creds = json.loads(files["creds.json"])
    change(creds)
    files["creds.json"] = stringify(creds)
    return files


def test_device_row_is_the_source_byte_for_byte(folder: Folder) -> None:
    session = decode_auth_state(ACC, folder.files())
    d = session.device
    assert d.jid == "40722000001:12@s.whatsapp.net"
    assert d.lid == f"{folder.lid}:12@lid"
    assert d.noise_key == folder.noise[0]
    assert d.identity_key == folder.identity[0]
    assert d.signed_pre_key == folder.signed_pre_key[0]
    assert d.signed_pre_key_id == folder.signed_pre_key_id
    assert d.signed_pre_key_sig == folder.signed_pre_key_sig
    assert d.registration_id == folder.registration_id
    assert d.adv_key == folder.adv_secret
    assert d.adv_details == folder.adv_details
    assert d.adv_account_sig == folder.account_sig
    assert d.adv_account_sig_key == folder.account_sig_key
    assert d.adv_device_sig == folder.device_sig
    assert (d.push_name, d.platform, d.business_name) == (folder.push_name, "android", "")
    assert session.own_jid == "40722000001@s.whatsapp.net"
    assert session.account_id == ACC
    assert session.warnings == ()


def test_keys_tokens_and_mappings(folder: Folder) -> None:
    session = decode_auth_state(ACC, folder.files())
    assert {p.key_id: p.private for p in session.pre_keys} == {
        i: pair[0] for i, pair in folder.pre_keys.items()
    }
    uploaded = {p.key_id for p in session.pre_keys if p.uploaded}
    assert uploaded == {i for i in folder.pre_keys if i < folder.first_unuploaded}
    assert 0 < len(uploaded) < len(folder.pre_keys)
    assert {(k.key_id, k.key_data, k.timestamp, k.fingerprint) for k in session.app_state_keys} == {
        (k.key_id, k.key_data, k.timestamp, k.fingerprint()) for k in folder.app_keys
    }
    expected_lids = {(lid, pn) for pn, lid in folder.lid_map.items()} | {(folder.lid, folder.phone)}
    assert set(session.lid_map) == expected_lids
    assert {(t.their_jid, t.token, t.timestamp) for t in session.privacy_tokens} == {
        (jid, token, ts) for jid, (token, ts) in folder.tc_tokens.items()
    }
    assert session.identities == ((f"{folder.lid}_1:0", folder.account_sig_key),)
    assert session.skipped == {
        "session": 3,
        "sender-key": 2,
        "app-state-sync-version": 2,
        "device-list": 1,
    }


def test_numeric_key_buffers_and_long_timestamps_are_read_like_the_reviver(folder: Folder) -> None:
    files = folder.files()
    creds = json.loads(files["creds.json"])
    creds["noiseKey"] = {
        "private": numeric_keys(folder.noise[0]),
        "public": numeric_keys(folder.noise[1]),
    }
    creds["account"]["details"] = buf(folder.adv_details)  # a Buffer where toJSON was skipped
    files["creds.json"] = stringify(creds)
    name = next(n for n in files if n.startswith("app-state-sync-key-"))
    data = json.loads(files[name])
    ts = 2**40 + 12345
    data["timestamp"] = {"low": ts & 0xFFFFFFFF, "high": ts >> 32, "unsigned": False}
    key_data = base64.b64decode(data["keyData"])
    data["keyData"] = numeric_keys(key_data)
    files[name] = stringify(data)
    session = decode_auth_state(ACC, files)
    assert session.device.noise_key == folder.noise[0]
    assert session.device.adv_details == folder.adv_details
    assert (ts, key_data) in {(k.timestamp, k.key_data) for k in session.app_state_keys}


def test_fingerprint_is_what_go_marshals() -> None:
    from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as e2e

    for raw, idx, devices in [(7, 0, [0, 3]), (2**32 - 1, 5, []), (0, 0, [1, 200, 70000])]:
        expected = e2e.AppStateSyncKeyFingerprint(
            rawID=raw, currentIndex=idx, deviceIndexes=devices
        ).SerializeToString()
        assert fingerprint_bytes(raw, idx, devices) == expected
    assert fingerprint_bytes(None, None, []) == b""


def test_adv_details_parse_with_the_wire_reader() -> None:
    details = adv.ADVDeviceIdentity(rawID=99, timestamp=5, keyIndex=12).SerializeToString()
    assert parse_fields(details)[3] == [12]
    with pytest.raises(ValueError):
        parse_fields(b"\x0a\x05ab")  # a length past the end


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1764000000000, 1764000000000),
        ("1764000000000", 1764000000000),
        ({"low": -1, "high": -1, "unsigned": False}, -1),
        ({"low": 5, "high": 1}, 2**32 + 5),
    ],
)
def test_int64_forms(value: object, expected: int) -> None:
    assert to_int64(value, "t") == expected


@pytest.mark.parametrize(
    "value", [{"0": 1, "2": 3}, {"0": 256}, {"0": 1.5}, {"type": "Buffer", "data": "!!"}, 5]
)
def test_malformed_buffers_are_refused(value: object) -> None:
    with pytest.raises(SourceError):
        to_bytes(value, "x")


# ---- bad input: refused with the file and field -------------------------------------------------


def _error(files: dict[str, str]) -> SourceError:
    with pytest.raises(SourceError) as info:
        decode_auth_state(ACC, files)
    return info.value


def test_missing_creds(folder: Folder) -> None:
    files = folder.files()
    del files["creds.json"]
    assert _error(files).field == "creds.json"


def test_key_of_the_wrong_length(folder: Folder) -> None:
    def shorten(creds: dict[str, Any]) -> None:
        creds["signedIdentityKey"]["private"] = buf(folder.identity[0][:31])

    err = _error(_with_creds(folder, shorten))
    assert err.field == "creds.json: signedIdentityKey.private"
    assert "32 bytes" in err.reason


def test_public_key_not_matching_its_private_key(folder: Folder) -> None:
    def swap(creds: dict[str, Any]) -> None:
        creds["noiseKey"] = pair_json(folder.noise[0], key_pair()[1])

    err = _error(_with_creds(folder, swap))
    assert err.field == "creds.json: noiseKey.public"
    assert "does not match" in err.reason


def test_a_pre_key_file_with_a_foreign_public_key(folder: Folder) -> None:
    files = folder.files()
    files["pre-key-7.json"] = stringify(pair_json(folder.pre_keys[7][0], folder.pre_keys[8][1]))
    assert _error(files).field == "pre-key-7.json.public"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda c: c.pop("me"), "creds.json: me.id"),
        (lambda c: c["me"].update(id="40722000001@s.whatsapp.net"), "creds.json: me.id"),
        (lambda c: c["me"].update(id="40722000001:0@s.whatsapp.net"), "creds.json: me.id"),
        (lambda c: c.pop("account"), "creds.json: account"),
        (lambda c: c["account"].update(details="AAAA"), "creds.json: account.details"),
        (
            lambda c: c["account"].update(deviceSignature="AAAA"),
            "creds.json: account.deviceSignature",
        ),
        (lambda c: c.update(advSecretKey="c2hvcnQ="), "creds.json: advSecretKey"),
        (lambda c: c.update(registrationId=-1), "creds.json: registrationId"),
        (lambda c: c["signedPreKey"].update(keyId=2**24), "creds.json: signedPreKey.keyId"),
    ],
)
def test_creds_field_errors_name_the_field(folder: Folder, change: Any, field: str) -> None:
    assert _error(_with_creds(folder, change)).field == field


def test_corrupt_json_names_the_file(folder: Folder) -> None:
    files = folder.files()
    name = next(n for n in files if n.startswith("tctoken-"))
    files[name] = files[name][:-5]
    assert _error(files).field == name


def test_a_lid_map_conflict_is_counted_not_imported(folder: Folder) -> None:
    files = folder.files()
    files["lid-mapping-40799999999.json"] = stringify("200000000000001")  # a second number
    session = decode_auth_state(ACC, files)
    assert session.skipped["lid-mapping-conflict"] == 1
    assert ("200000000000001", "40733111222") in session.lid_map
    assert all(pn != "40799999999" for _, pn in session.lid_map)


def test_two_file_names_of_one_row_keep_the_newest(folder: Folder) -> None:
    files = folder.files()
    older, newer = b"old-token", b"new-token"
    files["tctoken-200000000000009-3@lid.json"] = stringify({"token": buf(older), "timestamp": "5"})
    files["tctoken-200000000000009@lid.json"] = stringify({"token": buf(newer), "timestamp": "9"})
    tokens = {t.their_jid: t for t in decode_auth_state(ACC, files).privacy_tokens}
    assert (tokens["200000000000009@lid"].token, tokens["200000000000009@lid"].timestamp) == (
        newer,
        9,
    )


def test_a_pre_key_id_baileys_never_writes_is_refused(folder: Folder) -> None:
    files = folder.files()
    files["pre-key-007.json"] = files["pre-key-7.json"]
    assert _error(files).field == "pre-key-007.json"
