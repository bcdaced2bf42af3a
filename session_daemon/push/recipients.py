"""Who gets a push for an account's message: employees who may see that account and asked for
notifications (CONTRACT.md: `users/{uid}.fcmToken`, `notificationsEnabled`).

"May see" is the rule of `whatsappProxyGetAccountsStaff`: every employee sees every account
except those in `config/whatsapp_inbox.adminOnlyAccountIds`, which only super-admins see. The
old backend pushed to every user with a token; a user without a staff profile (a client of the
app, a former employee whose profile was removed) gets nothing, and staff never get a push from
an admin-only account.

Super-admins are known from Firebase Auth (a verified address in `SUPER_ADMIN_EMAILS`, or the
`admin` claim), not from `users/{uid}`, which its owner may write: `AdminDirectory` answers
that question (`FirebaseAdminDirectory` asks Auth). Without a directory, an admin-only account
notifies nobody rather than guess.

`notificationsEnabled` must be `true`: the app writes it with the token, and a user who never
turned notifications on is not pushed to.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from shared.identity import classify_caller, super_admin_emails_from_env

__all__ = [
    "AdminDirectory",
    "FirebaseAdminDirectory",
    "Recipient",
    "select_recipients",
]


@dataclass(frozen=True, order=True)
class Recipient:
    uid: str
    token: str


class AdminDirectory(Protocol):
    def super_admins(self, uids: Iterable[str]) -> frozenset[str]:
        """Which of these uids are super-admins (blocking)."""


def _token(user: Mapping[str, Any]) -> str | None:
    token = user.get("fcmToken")
    return token.strip() if isinstance(token, str) and token.strip() else None


def select_recipients(
    account_id: str,
    *,
    users: Mapping[str, Mapping[str, Any]],
    staff_uids: Iterable[str],
    super_admin_uids: Iterable[str],
    admin_only_account_ids: Iterable[str],
) -> list[Recipient]:
    """The pure rule. `users` are `users/{uid}` documents by uid; `staff_uids` those with a
    `staffProfiles/{uid}`; one push per distinct token (two users on one phone get one)."""
    admins = frozenset(super_admin_uids)
    staff = frozenset(staff_uids)
    admin_only = account_id in frozenset(admin_only_account_ids)
    chosen: dict[str, Recipient] = {}
    for uid in sorted(users):
        user = users[uid]
        token = _token(user)
        if token is None or user.get("notificationsEnabled") is not True:
            continue
        may_see = uid in admins if admin_only else (uid in admins or uid in staff)
        if may_see and token not in chosen:
            chosen[token] = Recipient(uid, token)
    return sorted(chosen.values())


class FirebaseAdminDirectory:
    """Super-admins by their Firebase Auth records (`firebase_admin.auth.get_users`), the same
    classification as every door (`shared.identity.classify_caller`)."""

    def __init__(self, app: Any = None) -> None:
        self._app = app

    def super_admins(self, uids: Iterable[str]) -> frozenset[str]:
        from firebase_admin import auth

        from shared.identity import default_app

        wanted = sorted(set(uids))
        app = self._app or default_app()
        emails = super_admin_emails_from_env()
        found: set[str] = set()
        for start in range(0, len(wanted), 100):  # get_users takes at most 100 identifiers
            result = auth.get_users(
                [auth.UidIdentifier(uid) for uid in wanted[start : start + 100]], app=app
            )
            for user in result.users:
                claims = dict(user.custom_claims or {})
                claims["email_verified"] = bool(user.email_verified)
                caller = classify_caller(user.uid, user.email, claims, None, emails)
                if caller.is_super_admin:
                    found.add(user.uid)
        return frozenset(found)
