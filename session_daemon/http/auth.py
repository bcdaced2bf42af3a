"""Who is calling: the daemon's service token or a Firebase ID token of an employee.

- `Authorization: Bearer <token>`; the service token is compared in constant time and acts as a
  super-admin (it is what the `whatsappProxy*` functions send).
- Any other bearer token is verified as a Firebase ID token by `shared.identity.resolve_caller`
  (a network call: it runs in a worker thread), then classified employee / super-admin.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from aiohttp import web

from session_daemon.http.errors import ApiError
from shared.store.port import DocumentStore

log = logging.getLogger(__name__)

Access = Literal["public", "employee", "super_admin"]


@dataclass(frozen=True)
class Principal:
    kind: Literal["service", "firebase"]
    uid: str | None
    email: str | None
    is_employee: bool
    is_super_admin: bool


SERVICE = Principal("service", None, None, is_employee=True, is_super_admin=True)

IdTokenResolver = Callable[[str], Principal]


class InvalidCredentials(Exception):
    pass


def firebase_resolver(store: DocumentStore) -> IdTokenResolver:
    """The production resolver: `shared.identity.resolve_caller` (imported lazily, so the daemon
    still starts, service-token only, where firebase_admin is not configured)."""

    def resolve(token: str) -> Principal:
        try:
            import shared.identity as identity  # type: ignore[import-not-found,unused-ignore]
        except ImportError as exc:  # pragma: no cover - deployment without the identity module
            raise InvalidCredentials("ID tokens are not supported by this build") from exc
        try:
            caller = identity.resolve_caller(token, store)
        except Exception as exc:  # InvalidToken, or firebase_admin not initialised
            raise InvalidCredentials(type(exc).__name__) from exc
        return Principal(
            "firebase",
            getattr(caller, "uid", None),
            getattr(caller, "email", None),
            is_employee=bool(caller.is_employee),
            is_super_admin=bool(caller.is_super_admin),
        )

    return resolve


def bearer_token(header: str | None) -> str | None:
    """The token of a well-formed `Bearer <token>` header, else None."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token or len(token) > 8192:
        return None
    return token


class Authenticator:
    def __init__(self, service_token: str, resolve_id_token: IdTokenResolver | None) -> None:
        if not service_token:
            raise ValueError("a service token is required")
        self._service = service_token.encode()
        self._resolve = resolve_id_token

    def is_service_token(self, token: str) -> bool:
        return hmac.compare_digest(token.encode(), self._service)

    async def principal(self, token: str) -> Principal:
        if self.is_service_token(token):
            return SERVICE
        if self._resolve is None:
            raise InvalidCredentials("only the service token is accepted")
        return await asyncio.to_thread(self._resolve, token)

    async def authorize(self, request: web.Request, access: Access) -> Principal | None:
        """Raise the contract's 401/403 errors unless the caller may use a route of `access`."""
        if access == "public":
            return None
        token = bearer_token(request.headers.get("Authorization"))
        if token is None:
            raise ApiError(401, "missing_auth_token", "Send 'Authorization: Bearer <token>'.")
        try:
            who = await self.principal(token)
        except InvalidCredentials:
            raise ApiError(401, "unauthorized", "The token is not valid.") from None
        if not who.is_employee:
            raise ApiError(403, "employee_only", "Only employees may use this API.")
        if access == "super_admin" and not who.is_super_admin:
            raise ApiError(403, "super_admin_only", "Only super-admins may do this.")
        return who
