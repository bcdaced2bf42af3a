"""The single identity definition (CONTRACT section 6, holes 1 and 4)."""

from __future__ import annotations

import pytest

from shared.identity import (
    InvalidToken,
    classify_caller,
    parse_super_admin_emails,
    super_admin_emails_from_env,
    verify_id_token,
)


def test_super_admin_email_is_case_insensitive() -> None:
    admins = parse_super_admin_emails(" Boss@Example.com , other@x.ro,, ")
    assert admins == {"boss@example.com", "other@x.ro"}
    caller = classify_caller("u1", "BOSS@example.COM", {"email_verified": True}, None, admins)
    assert caller.is_super_admin and caller.is_employee
    assert not caller.staff_profile_exists


@pytest.mark.parametrize("verified", [None, False, "true", 1])
def test_an_unverified_admin_email_is_nobody(verified: object) -> None:
    """Anyone can sign up with a password under an address that has no account yet."""
    claims = {} if verified is None else {"email_verified": verified}
    caller = classify_caller("u1", "boss@example.com", claims, None, ["boss@example.com"])
    assert not caller.is_super_admin and not caller.is_employee


def test_admin_claim_must_be_boolean_true() -> None:
    assert classify_caller("u", None, {"admin": True}, None, []).is_super_admin
    for value in ("true", 1, "yes", None):
        caller = classify_caller("u", None, {"admin": value}, None, [])
        assert not caller.is_super_admin and not caller.is_employee


def test_staff_profile_makes_an_employee_not_an_admin() -> None:
    caller = classify_caller("u", "a@b.ro", {}, {"role": "staff"}, ["x@y.ro"])
    assert caller.is_employee and not caller.is_super_admin
    assert caller.staff_profile_role == "staff"
    assert caller.who_am_i() == {
        "uid": "u",
        "email": "a@b.ro",
        "isAdmin": False,
        "isEmployee": True,
        "staffProfileExists": True,
        "staffProfileRole": "staff",
        "reasons": [
            "not admin by claim: the token has no admin claim",
            "not admin by email: a@b.ro is not in SUPER_ADMIN_EMAILS",
            "employee: staffProfiles/u exists",
        ],
    }


@pytest.mark.parametrize(
    ("claims", "profile", "expected"),
    [
        ({"admin": True}, None, ["admin: the token has the custom claim admin=true",
                                 "employee: a super-admin (no staffProfiles/u needed)"]),
        ({"admin": "true"}, None, ["not admin by claim: admin='true' is not the boolean true",
                                   "not employee: no staffProfiles/u and not a super-admin"]),
        ({"email_verified": False}, None,
         ["not admin by email: boss@x.ro is in SUPER_ADMIN_EMAILS but not verified"]),
        ({"email_verified": True}, None,
         ["admin: boss@x.ro is verified and in SUPER_ADMIN_EMAILS"]),
    ],
)  # fmt: skip
def test_reasons_say_why(
    claims: dict[str, object], profile: dict[str, str] | None, expected: list[str]
) -> None:
    reasons = classify_caller("u", "Boss@x.ro", claims, profile, ["boss@x.ro"]).reasons
    for reason in expected:
        assert reason in reasons, reasons


def test_signed_in_stranger_is_nothing() -> None:
    caller = classify_caller("u", "a@b.ro", {"email_verified": True}, None, ["x@y.ro"])
    assert not caller.is_employee and not caller.is_super_admin


def test_env_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPER_ADMIN_EMAILS", "A@B.ro")
    assert super_admin_emails_from_env() == {"a@b.ro"}
    monkeypatch.delenv("SUPER_ADMIN_EMAILS")
    assert super_admin_emails_from_env() == frozenset()


@pytest.mark.parametrize("token", ["", "   ", "not-a-jwt", "a.b.c"])
def test_bad_tokens_raise_invalid_token(token: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GCLOUD_PROJECT", "demo-superparty")
    monkeypatch.setenv("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9")
    with pytest.raises(InvalidToken):
        verify_id_token(token)
