"""`X-Hub-Signature-256` and the verification handshake: pure checks."""

from __future__ import annotations

import hashlib
import hmac
import json

from hypothesis import given
from hypothesis import strategies as st

from session_daemon.cloud_api.handshake import check_subscription
from session_daemon.cloud_api.signature import sign, verify_signature

SECRET = "app-secret"


def test_signature_is_meta_hmac_of_the_raw_bytes() -> None:
    body = b'{"text":"Bun\\u0103"}'  # Meta escapes non-ASCII
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert sign(body, SECRET) == "sha256=" + expected
    assert verify_signature(body, "sha256=" + expected, SECRET)
    assert verify_signature(body, "SHA256=" + expected.upper(), SECRET)
    # re-serialising the parsed JSON gives other bytes: a check over it would fail
    reserialised = json.dumps(json.loads(body), ensure_ascii=False).encode()
    assert reserialised != body and not verify_signature(reserialised, sign(body, SECRET), SECRET)


def test_missing_wrong_or_foreign_signatures_fail() -> None:
    body = b"{}"
    good = sign(body, SECRET)
    for header in (None, "", "sha256=", good[:-1] + "0", "sha1=" + good[7:], "sha256=ă" * 3):
        assert not verify_signature(body, header, SECRET), header
    assert not verify_signature(body, sign(body, "other-app"), SECRET)
    assert not verify_signature(body, good, "")  # an account without a secret accepts nothing


@given(st.binary(max_size=300), st.text(min_size=1, max_size=30))
def test_signature_round_trips_and_one_flipped_byte_breaks_it(body: bytes, secret: str) -> None:
    header = sign(body, secret)
    assert verify_signature(body, header, secret)
    assert not verify_signature(body + b"x", header, secret)


def _params(mode: str = "subscribe", token: str = "T0k", challenge: str = "1158201444") -> dict:
    return {"hub.mode": mode, "hub.verify_token": token, "hub.challenge": challenge}


def test_handshake_answers_the_challenge_only_for_the_right_token() -> None:
    ok = check_subscription(_params(), "T0k")
    assert (ok.status, ok.challenge) == (200, "1158201444")
    assert check_subscription(_params(token="nope"), "T0k").status == 403
    assert check_subscription(_params(), "").status == 403  # no token configured: never
    assert check_subscription(_params(mode="unsubscribe"), "T0k").status == 400
    assert check_subscription({"hub.mode": "subscribe"}, "T0k").status == 400
    assert check_subscription(_params(challenge="x" * 1000), "T0k").status == 400
