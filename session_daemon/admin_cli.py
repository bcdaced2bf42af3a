"""`superparty-daemon set-admin EMAIL --project ID`: make a user a super-admin everywhere.

A super-admin (DESIGN.md, Identity) is a user with the custom claim `admin: true`, or a verified
address in SUPER_ADMIN_EMAILS (the functions and the daemon) and in `config/super_admins.emails`
(the copy the Firestore rules read). This command sets the claim through firebase-admin and
writes the address into `config/super_admins`; it cannot change a deployed environment variable,
so it warns when SUPER_ADMIN_EMAILS (this shell's, and functions/.env[.PROJECT] of this checkout)
disagrees with `config/super_admins`. `--remove` takes both away.

Credentials: Application Default Credentials (`gcloud auth application-default login`, or
GOOGLE_APPLICATION_CREDENTIALS); with FIREBASE_AUTH_EMULATOR_HOST / FIRESTORE_EMULATOR_HOST the
emulators. A new claim reaches the user's ID token at its next refresh (sign out and in, or
within the hour).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from shared.identity import normalize_email, parse_super_admin_emails
from shared.paths import SUPER_ADMINS_CONFIG

SUPER_ADMINS_DOC = SUPER_ADMINS_CONFIG
FUNCTIONS_DIR = Path(__file__).resolve().parents[1] / "functions"
_APP_NAME = "superparty-set-admin"


class AdminSetupError(Exception):
    """Why the admin could not be set up."""


def _auth_app(project: str) -> Any:
    import firebase_admin

    try:
        return firebase_admin.get_app(_APP_NAME)
    except ValueError:
        return firebase_admin.initialize_app(options={"projectId": project}, name=_APP_NAME)


def set_admin_claim(project: str, email: str, admin: bool) -> tuple[str, bool]:
    """Set (or remove) the `admin` claim, keeping the user's other claims; returns the uid and
    whether the address is verified."""
    from firebase_admin import auth

    app = _auth_app(project)
    try:
        user = auth.get_user_by_email(email, app=app)
    except auth.UserNotFoundError:
        raise AdminSetupError(
            f"no user with the address {email}: they must sign up first"
        ) from None
    claims = dict(user.custom_claims or {})
    if admin:
        claims["admin"] = True
    else:
        claims.pop("admin", None)
    auth.set_custom_user_claims(user.uid, claims or None, app=app)
    return user.uid, bool(user.email_verified)


def update_super_admins_doc(project: str, email: str, admin: bool) -> list[str]:
    """Add (or remove) the address in config/super_admins.emails; returns the new list."""
    from shared.store.factory import open_store

    store = open_store(f"firestore://{project}")
    try:
        snap = store.get(SUPER_ADMINS_DOC)
        raw = snap.data.get("emails") if snap is not None else None
        emails = [e for e in (normalize_email(x) for x in (raw or [])) if e is not None]
        emails = [e for e in emails if e != email] + ([email] if admin else [])
        store.set(SUPER_ADMINS_DOC, {"emails": sorted(set(emails))}, merge=True)
        return sorted(set(emails))
    finally:
        close = getattr(store, "close", None)
        if callable(close):
            close()


def env_file_values(project: str) -> dict[str, str]:
    """SUPER_ADMIN_EMAILS as this checkout would deploy it: functions/.env, then .env.PROJECT."""
    found: dict[str, str] = {}
    for name in (".env", f".env.{project}"):
        path = FUNCTIONS_DIR / name
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.strip().partition("=")
            if sep and key.strip() == "SUPER_ADMIN_EMAILS":
                found[f"functions/{name}"] = value.strip().strip("'\"")
    return found


def disagreements(project: str, listed: list[str]) -> list[str]:
    """Warnings where SUPER_ADMIN_EMAILS and config/super_admins name different addresses."""
    sources = env_file_values(project)
    if os.environ.get("SUPER_ADMIN_EMAILS") is not None:
        sources["SUPER_ADMIN_EMAILS in this shell"] = os.environ["SUPER_ADMIN_EMAILS"]
    if not sources:
        return [
            "SUPER_ADMIN_EMAILS is set neither in this shell nor in functions/.env: check the "
            f"deployed value matches {SUPER_ADMINS_DOC} ({', '.join(listed) or 'empty'})"
        ]
    warnings = []
    rules_list = set(listed)
    for source, raw in sources.items():
        env_list = parse_super_admin_emails(raw)
        for email in sorted(rules_list - env_list):
            warnings.append(
                f"{email} is in {SUPER_ADMINS_DOC} but not in {source}: the functions and the "
                "daemon see an admin only through the claim"
            )
        for email in sorted(env_list - rules_list):
            warnings.append(
                f"{email} is in {source} but not in {SUPER_ADMINS_DOC}: the Firestore rules "
                "see an admin only through the claim"
            )
    return warnings


def set_admin(
    email: Annotated[str, typer.Argument(help="the user's address (they must have signed up)")],
    project: Annotated[str, typer.Option(envvar="FIREBASE_PROJECT", help="Firebase project id")],
    remove: Annotated[bool, typer.Option("--remove", help="take the admin rights away")] = False,
) -> None:
    """Set the `admin` claim and list the address in config/super_admins (or --remove both)."""
    address = normalize_email(email)
    if address is None or "@" not in address:
        typer.echo(f"not an email address: {email!r}", err=True)
        raise typer.Exit(2)
    if not project.strip():
        typer.echo("no project id: pass --project ID (or set FIREBASE_PROJECT)", err=True)
        raise typer.Exit(2)
    admin = not remove
    try:
        uid, verified = set_admin_claim(project, address, admin)
        listed = update_super_admins_doc(project, address, admin)
    except AdminSetupError as exc:
        typer.echo(f"set-admin: {exc}", err=True)
        raise typer.Exit(1) from None
    action = "set" if admin else "removed"
    typer.echo(f"admin claim {action} for {address} (uid {uid})")
    typer.echo(f"{SUPER_ADMINS_DOC}.emails = {listed}")
    if admin and not verified:
        typer.echo(
            f"warning: {address} is not verified: only the claim makes it an admin (an "
            "unverified address proves nothing)",
            err=True,
        )
    for warning in disagreements(project, listed):
        typer.echo(f"warning: {warning}", err=True)
    typer.echo("the claim reaches the user's token at its next refresh (sign out and in)")
