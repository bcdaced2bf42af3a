"""Who is calling: the daemon's service token or a Firebase ID token of an employee.

- `Authorization: Bearer <token>`; the service token is compared in constant time and acts as a
  super-admin (it is what the `whatsappProxy*` functions send).
- Any other bearer token is verified as a Firebase ID token by `shared.identity.resolve_caller`
  (a network call: it runs in a worker thread), then classified employee / super-admin.
- ID tokens are checked for revocation: a disabled or signed-out employee is refused at once.
- Failed service-token and bad-signature attempts are throttled per client address (429
  `too_many_auth_failures`, throttle.py).
- Only a bad token is 401 `unauthorized` (the app signs the user out and does not retry). When
  the token cannot be checked (Google's signing keys unreachable, the store unreachable while
  reading the staff profile, firebase_admin not configured) the answer is 503 `auth_unavailable`:
  our outage, logged with the exception's class only (firebase_admin's messages can quote the
  token), at most once a minute per kind, never its text in the body.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from aiohttp import web

from session_daemon.http.errors import ApiError
from session_daemon.http.throttle import FailureThrottle, Network, client_address
from shared import identity
from shared.identity import bearer_token
from shared.store.port import DocumentStore

log = logging.getLogger(__name__)

Access = Literal["public", "employee", "super_admin"]
AUTH_EMULATOR_ENV = "FIREBASE_AUTH_EMULATOR_HOST"


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
    """The caller's token is bad: 401. `guess`: a failed attempt to throttle (see throttle.py)."""

    def __init__(self, reason: str, *, guess: bool = True) -> None:
        super().__init__(reason)
        self.guess = guess


class AuthUnavailable(Exception):
    """The token could not be checked (our outage or misconfiguration): 503."""


OUTAGE_LOG_INTERVAL = 60.0  # seconds between two log lines about the same kind of outage
_outage_lock = threading.Lock()
_outage_logged: dict[str, tuple[float, int]] = {}  # class name -> (last logged, suppressed since)


def _log_outage(exc: BaseException) -> None:
    """One warning line per kind of outage per minute: the exception's class (and its cause's),
    never its text (firebase_admin's messages can quote the token)."""
    cause = exc.__cause__ or exc.__context__
    kind = type(exc).__name__ + (f" (caused by {type(cause).__name__})" if cause else "")
    now = time.monotonic()
    with _outage_lock:
        last, suppressed = _outage_logged.get(kind, (float("-inf"), 0))
        if now - last < OUTAGE_LOG_INTERVAL:
            _outage_logged[kind] = (last, suppressed + 1)
            return
        _outage_logged[kind] = (now, 0)
    log.warning(
        "ID token could not be checked: %s; answering 503 auth_unavailable%s",
        kind,
        f" ({suppressed} more since the last report)" if suppressed else "",
    )


def firebase_resolver(store: DocumentStore) -> IdTokenResolver:
    """The production resolver: `shared.identity.resolve_caller` (firebase_admin is imported
    lazily by it, so the daemon starts, and serves the service token, where it is not set up).
    Raises InvalidCredentials for a bad token, AuthUnavailable for anything else."""
    if os.environ.get(AUTH_EMULATOR_ENV):
        log.warning(
            "%s is set: ID tokens are NOT signature-checked (Auth emulator mode), anyone can "
            "forge one; never set it outside development",
            AUTH_EMULATOR_ENV,
        )

    def resolve(token: str) -> Principal:
        try:
            caller = identity.resolve_caller(token, store)
        except identity.InvalidToken as exc:
            raise InvalidCredentials(str(exc), guess=exc.guess) from None
        except Exception as exc:  # key fetch, store, configuration: not the caller's fault
            _log_outage(exc)
            raise AuthUnavailable(type(exc).__name__) from None
        return Principal(
            "firebase",
            caller.uid,
            caller.email,
            is_employee=bool(caller.is_employee),
            is_super_admin=bool(caller.is_super_admin),
        )

    return resolve


class Authenticator:
    def __init__(
        self,
        service_token: str,
        resolve_id_token: IdTokenResolver | None,
        throttle: FailureThrottle | None = None,
        trusted_proxies: tuple[Network, ...] = (),
    ) -> None:
        if not service_token:
            raise ValueError("a service token is required")
        self._service = service_token.encode()
        self._resolve = resolve_id_token
        self._throttle = throttle
        self._proxies = trusted_proxies

    def is_service_token(self, token: str) -> bool:
        return hmac.compare_digest(token.encode(), self._service)

    async def principal(self, token: str) -> Principal:
        if self.is_service_token(token):
            return SERVICE
        if self._resolve is None:
            raise InvalidCredentials("only the service token is accepted")
        return await asyncio.to_thread(self._resolve, token)

    def check_throttle(self, request: web.Request) -> str:
        """The client's address; 429 when it failed too often lately."""
        address = client_address(request, self._proxies)
        wait = self._throttle.retry_after(address) if self._throttle else None
        if wait is not None:
            raise ApiError(
                429,
                "too_many_auth_failures",
                f"Too many failed sign-in attempts from this address; retry in {wait} s.",
                retryAfterSeconds=wait,
            )
        return address

    def note_failure(self, address: str) -> None:
        if self._throttle is not None:
            self._throttle.failed(address)

    async def authorize(self, request: web.Request, access: Access) -> Principal | None:
        """Raise the contract's 401/403/429 errors unless the caller may use a route of
        `access`."""
        if access == "public":
            return None
        token = bearer_token(request.headers.get("Authorization"))
        if token is None:
            raise ApiError(401, "missing_auth_token", "Send 'Authorization: Bearer <token>'.")
        address = self.check_throttle(request)
        try:
            who = await self.principal(token)
        except InvalidCredentials as exc:
            if exc.guess:
                self.note_failure(address)
            raise ApiError(401, "unauthorized", "The token is not valid.") from None
        except AuthUnavailable:
            raise ApiError(
                503,
                "auth_unavailable",
                "Sign-in cannot be checked right now; try again in a moment.",
            ) from None
        if not who.is_employee:
            raise ApiError(403, "employee_only", "Only employees may use this API.")
        if access == "super_admin" and not who.is_super_admin:
            raise ApiError(403, "super_admin_only", "Only super-admins may do this.")
        return who
