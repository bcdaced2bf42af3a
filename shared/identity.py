"""The one definition of who a caller is (DESIGN.md, Identity).

- super-admin: a verified email (`email_verified: true`) in `SUPER_ADMIN_EMAILS` (comma-separated,
  case-insensitive) or the custom claim `admin: true` (the boolean, not a truthy string). An
  unverified address proves nothing: anyone can sign up with a password under an address that
  has no account yet;
- employee: a super-admin, or a user whose `staffProfiles/{uid}` document exists;
- admin-only accounts: `config/whatsapp_inbox.adminOnlyAccountIds` lists accounts staff never
  see (`admin_only_account_ids`, the one copy of that rule for the daemon, proxy and CRM).

`classify_caller` is pure; `verify_id_token` and `resolve_caller` do the I/O (firebase_admin,
imported lazily so importing this module stays cheap for Cloud Functions discovery).
"""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from shared import paths
from shared.store.port import DocumentStore

SUPER_ADMIN_EMAILS_ENV = "SUPER_ADMIN_EMAILS"
STAFF_PROFILES = paths.STAFF_PROFILES
ADMIN_ONLY_FIELD = "adminOnlyAccountIds"


class InvalidToken(Exception):
    """The ID token is missing, malformed, expired, revoked or not signed by Firebase.

    `guess` says whether it counts as a failed attempt to throttle (forged, malformed, wrong
    signature or audience); an expired or revoked token, or a disabled or deleted user, is what
    honest apps send too and does not count (staff behind one address must not lock each other
    out)."""

    def __init__(self, reason: str, *, guess: bool = True) -> None:
        super().__init__(reason)
        self.guess = guess


@dataclass(frozen=True)
class Caller:
    uid: str
    email: str | None
    is_super_admin: bool
    is_employee: bool
    staff_profile_exists: bool
    staff_profile_role: str | None
    # Why the caller is or is not admin / employee, for operators setting admins up
    # (`whatsappWhoAmI`'s additive `reasons`; the app ignores it).
    reasons: tuple[str, ...] = ()
    admin_by_claim: bool = False

    def who_am_i(self) -> dict[str, Any]:
        """The `whatsappWhoAmI` body (CONTRACT.md section 2, plus the additive `reasons`)."""
        return {
            "uid": self.uid,
            "email": self.email,
            "isAdmin": self.is_super_admin,
            "isEmployee": self.is_employee,
            "staffProfileExists": self.staff_profile_exists,
            "staffProfileRole": self.staff_profile_role,
            "reasons": list(self.reasons),
        }


def normalize_email(email: object) -> str | None:
    if not isinstance(email, str):
        return None
    cleaned = email.strip().lower()
    return cleaned or None


def parse_super_admin_emails(raw: str | None) -> frozenset[str]:
    return frozenset(
        e for e in (normalize_email(part) for part in (raw or "").split(",")) if e is not None
    )


def super_admin_emails_from_env() -> frozenset[str]:
    return parse_super_admin_emails(os.environ.get(SUPER_ADMIN_EMAILS_ENV))


def classify_caller(
    uid: str,
    email: str | None,
    claims: Mapping[str, Any] | None,
    staff_profile: Mapping[str, Any] | None,
    super_admin_emails: Iterable[str],
) -> Caller:
    """Classify a verified caller. `staff_profile` is the data of `staffProfiles/{uid}` or None
    when that document does not exist."""
    admins = {e for e in (normalize_email(x) for x in super_admin_emails) if e is not None}
    normalized = normalize_email(email)
    claims = claims or {}
    by_email = (
        normalized is not None and normalized in admins and claims.get("email_verified") is True
    )
    is_super_admin = claims.get("admin") is True or by_email
    profile_exists = staff_profile is not None
    role = staff_profile.get("role") if staff_profile is not None else None
    return Caller(
        uid=uid,
        email=email if isinstance(email, str) else None,
        is_super_admin=is_super_admin,
        is_employee=is_super_admin or profile_exists,
        staff_profile_exists=profile_exists,
        staff_profile_role=role if isinstance(role, str) else None,
        reasons=_reasons(uid, normalized, claims, admins, profile_exists, is_super_admin),
        admin_by_claim=claims.get("admin") is True,
    )


def _reasons(
    uid: str,
    email: str | None,
    claims: Mapping[str, Any],
    admins: set[str],
    profile_exists: bool,
    is_super_admin: bool,
) -> tuple[str, ...]:
    out = []
    admin_claim = claims.get("admin")
    if admin_claim is True:
        out.append("admin: the token has the custom claim admin=true")
    elif admin_claim is not None:
        out.append(f"not admin by claim: admin={admin_claim!r} is not the boolean true")
    else:
        out.append("not admin by claim: the token has no admin claim")
    if email is None:
        out.append("not admin by email: the token has no email")
    elif email not in admins:
        out.append(f"not admin by email: {email} is not in SUPER_ADMIN_EMAILS")
    elif claims.get("email_verified") is not True:
        out.append(f"not admin by email: {email} is in SUPER_ADMIN_EMAILS but not verified")
    else:
        out.append(f"admin: {email} is verified and in SUPER_ADMIN_EMAILS")
    if profile_exists:
        out.append(f"employee: staffProfiles/{uid} exists")
    elif is_super_admin:
        out.append(f"employee: a super-admin (no staffProfiles/{uid} needed)")
    else:
        out.append(f"not employee: no staffProfiles/{uid} and not a super-admin")
    return tuple(out)


_app_lock = threading.Lock()


def default_app() -> Any:
    """The default firebase_admin app, initialised on first use (no credentials needed with the
    Auth emulator; on Cloud Functions the runtime's service account)."""
    import firebase_admin

    with _app_lock:
        try:
            return firebase_admin.get_app()
        except ValueError:
            project = os.environ.get("GCLOUD_PROJECT") or os.environ.get("GOOGLE_CLOUD_PROJECT")
            # Application Default credentials load lazily; with FIREBASE_AUTH_EMULATOR_HOST
            # firebase_admin uses a fake credential and accepts the emulator's unsigned tokens.
            options = {"projectId": project} if project else None
            return firebase_admin.initialize_app(options=options)


def bearer_token(header: str | None) -> str | None:
    """The token of a well-formed `Authorization: Bearer <token>` header, else None (the
    caller answers 401 `missing_auth_token`)."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token or len(token) > 8192:
        return None
    return token


def _json_segment(segment: str) -> object:
    raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    return json.loads(raw)


def looks_like_jwt(token: str) -> bool:
    """True for `header.payload.signature` whose header and payload are base64url JSON objects
    and whose header names an algorithm. Says nothing about validity."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        return False
    try:
        header, payload = _json_segment(parts[0]), _json_segment(parts[1])
    except (ValueError, UnicodeDecodeError):
        return False
    return (
        isinstance(header, dict)
        and isinstance(header.get("alg"), str)
        and isinstance(payload, dict)
    )


def verify_id_token(token: str) -> dict[str, Any]:
    """The decoded claims of a Firebase ID token, checked for revocation: a disabled, deleted or
    signed-out (refresh tokens revoked) user is refused at once, not when the token expires. This
    costs one user lookup per call (`auth.verify_id_token(..., check_revoked=True)`).

    Raises InvalidToken (a 401) only when the token itself is bad (malformed, expired, revoked,
    wrong signature, audience or issuer, user disabled or deleted). Everything else is our outage
    or misconfiguration and propagates (a 503: signing the user out would be wrong):
    `firebase_admin.auth.CertificateFetchError` when Google's keys cannot be fetched, a
    `firebase_admin.exceptions.FirebaseError` when the user lookup fails, ValueError when no
    project id is configured, `google.auth.exceptions.DefaultCredentialsError` without
    credentials, ..."""
    if not isinstance(token, str) or not token.strip():
        raise InvalidToken("missing token")
    if not looks_like_jwt(token.strip()):
        # not even the shape of an ID token (say a mistyped service token): the caller's bad
        # token, whether or not firebase_admin is configured to check real ones
        raise InvalidToken("malformed token")
    from firebase_admin import auth

    app = default_app()
    try:
        claims = auth.verify_id_token(token.strip(), app=app, check_revoked=True)
    except (
        auth.ExpiredIdTokenError,
        auth.RevokedIdTokenError,
        auth.UserDisabledError,
        auth.UserNotFoundError,
    ) as exc:
        raise InvalidToken(type(exc).__name__, guess=False) from None
    except auth.InvalidIdTokenError as exc:  # forged, wrong signature, audience or issuer
        raise InvalidToken(type(exc).__name__) from None
    if not isinstance(claims, dict) or not isinstance(claims.get("uid"), str):
        raise InvalidToken("token has no uid")
    return claims


def caller_from_claims(claims: Mapping[str, Any], store: DocumentStore) -> Caller:
    uid = str(claims.get("uid") or claims.get("sub") or "")
    if not uid:
        raise InvalidToken("token has no uid")
    try:
        profile_path = paths.staff_profile_path(uid)
    except paths.InvalidId:
        raise InvalidToken("the token's uid cannot name a staff profile") from None
    profile = store.get(profile_path)
    email = claims.get("email")
    return classify_caller(
        uid,
        email if isinstance(email, str) else None,
        claims,
        profile.data if profile is not None else None,
        super_admin_emails_from_env(),
    )


def resolve_caller(id_token: str, store: DocumentStore) -> Caller:
    """Verify the token and classify its user; raises InvalidToken."""
    return caller_from_claims(verify_id_token(id_token), store)


def admin_only_account_ids(store: DocumentStore) -> frozenset[str]:
    """Accounts only super-admins see (`config/whatsapp_inbox.adminOnlyAccountIds`)."""
    snap = store.get(paths.WHATSAPP_INBOX_CONFIG)
    ids = snap.data.get(ADMIN_ONLY_FIELD) if snap is not None else None
    return frozenset(str(i) for i in ids) if isinstance(ids, list) else frozenset()


def may_see_account(store: DocumentStore, account_id: str, *, is_super_admin: bool) -> bool:
    """Whether a caller may see (and work in) an account: super-admins always, staff unless the
    account is admin-only. Reads the store only for staff."""
    return is_super_admin or account_id not in admin_only_account_ids(store)
