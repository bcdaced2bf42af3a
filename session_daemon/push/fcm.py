"""FCM HTTP v1 adapter: `POST {base}/v1/projects/{project}/messages:send`.

firebase-admin's `messaging` module hard-codes `https://fcm.googleapis.com` and FCM has no
emulator, so this adapter takes the base URL and the credentials from its caller: production
passes Google credentials with the `firebase.messaging` scope, tests a local stand-in server
and a fixed token, and assert the exact request.

Outcomes, from FCM's documented error codes (`google.firebase.fcm.v1.FcmError.errorCode`):
- `UNREGISTERED` (the app was uninstalled or the token expired) and `SENDER_ID_MISMATCH` (the
  token belongs to another project) mean the token is dead: the caller drops it. Nothing else
  does: `INVALID_ARGUMENT` may be our payload, and dropping every user's token for our own bug
  would silence the whole team.
- 429 `QUOTA_EXCEEDED`, 500 `INTERNAL`, 503 `UNAVAILABLE`: retried with backoff, honouring
  `Retry-After`.
- 401: the access token is refreshed once, then the send fails.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol

import aiohttp

__all__ = [
    "DEAD_TOKEN_CODES",
    "FCM_BASE_URL",
    "FCM_SCOPE",
    "AccessTokenSource",
    "FcmV1Client",
    "GoogleAccessToken",
    "SendOutcome",
    "StaticAccessToken",
]

log = logging.getLogger(__name__)

FCM_BASE_URL: Final = "https://fcm.googleapis.com"
FCM_SCOPE: Final = "https://www.googleapis.com/auth/firebase.messaging"
DEAD_TOKEN_CODES: Final = frozenset({"UNREGISTERED", "SENDER_ID_MISMATCH"})
_RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
_MAX_RETRY_AFTER: Final = 60.0


class AccessTokenSource(Protocol):
    def token(self) -> str:
        """A valid OAuth2 access token (blocking: may refresh)."""

    def invalidate(self) -> None:
        """Forget the current token (FCM answered 401)."""


class StaticAccessToken:
    def __init__(self, value: str) -> None:
        self._value = value

    def token(self) -> str:
        return self._value

    def invalidate(self) -> None:
        return None


class GoogleAccessToken:
    """Wraps `google.auth` credentials (a service account key, or Application Default
    Credentials on the VM) scoped to FCM; refreshes when expired."""

    def __init__(self, credentials: Any = None) -> None:
        # None: Application Default Credentials, looked up at the first send (a daemon without
        # them still starts; its pushes fail and are counted)
        self._credentials = credentials
        self._lock = threading.Lock()

    @classmethod
    def application_default(cls) -> GoogleAccessToken:
        return cls(None)

    def token(self) -> str:
        from google.auth.transport.requests import Request

        with self._lock:
            if self._credentials is None:
                import google.auth

                self._credentials, _ = google.auth.default(scopes=[FCM_SCOPE])
            if not self._credentials.valid:
                self._credentials.refresh(Request())
            return str(self._credentials.token)

    def invalidate(self) -> None:
        with self._lock:
            if self._credentials is not None:
                self._credentials.token = None


@dataclass(frozen=True)
class SendOutcome:
    status: Literal["sent", "dead_token", "failed"]
    detail: str = ""  # FCM's errorCode (or HTTP status) when not sent; the message name when sent
    attempts: int = 1


def _error_code(body: Any, status: int) -> str:
    """FCM's `errorCode` from the error details, else the canonical `status`, else HTTP."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        for detail in error.get("details") or []:
            if isinstance(detail, dict) and isinstance(detail.get("errorCode"), str):
                return str(detail["errorCode"])
        if isinstance(error.get("status"), str):
            return str(error["status"])
    return f"HTTP_{status}"


def _retry_after(headers: Any, fallback: float) -> float:
    raw = headers.get("Retry-After") if headers is not None else None
    try:
        return min(_MAX_RETRY_AFTER, max(0.0, float(raw))) if raw else fallback
    except ValueError:
        return fallback


class FcmV1Client:
    def __init__(
        self,
        project_id: str,
        tokens: AccessTokenSource,
        *,
        base_url: str = FCM_BASE_URL,
        timeout_seconds: float = 10.0,
        backoff: tuple[float, ...] = (1.0, 4.0),
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        if not project_id:
            raise ValueError("an FCM project id is required")
        self._url = f"{base_url.rstrip('/')}/v1/projects/{project_id}/messages:send"
        self._tokens = tokens
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._backoff = backoff
        self._sleep = sleep
        self._session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return self._url

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def _post(self, message: dict[str, Any]) -> tuple[int, Any, Any]:
        access = await asyncio.to_thread(self._tokens.token)
        async with self._client().post(
            self._url,
            json={"message": message},
            headers={"Authorization": f"Bearer {access}"},
        ) as resp:
            try:
                body = await resp.json(content_type=None)
            except (ValueError, aiohttp.ContentTypeError):
                body = None
            return resp.status, body, resp.headers

    async def send(self, message: dict[str, Any]) -> SendOutcome:
        """Send one message to one device, retrying what FCM says is temporary."""
        attempts = 0
        refreshed = False
        while True:
            attempts += 1
            try:
                status, body, headers = await self._post(message)
            except (aiohttp.ClientError, TimeoutError) as exc:
                status, body, headers, code = 0, None, None, type(exc).__name__
            except Exception as exc:  # no credentials, a refresh refused: not worth retrying
                log.warning("FCM send impossible: %s", type(exc).__name__)
                return SendOutcome("failed", type(exc).__name__, attempts)
            else:
                if status == 200:
                    name = body.get("name") if isinstance(body, dict) else None
                    return SendOutcome("sent", str(name or ""), attempts)
                code = _error_code(body, status)
                if code in DEAD_TOKEN_CODES:
                    return SendOutcome("dead_token", code, attempts)
                if status == 401 and not refreshed:
                    refreshed = True
                    await asyncio.to_thread(self._tokens.invalidate)
                    continue
            retryable = status == 0 or status in _RETRY_STATUSES
            if not retryable or attempts > len(self._backoff):
                log.warning("FCM send failed: %s after %d attempt(s)", code, attempts)
                return SendOutcome("failed", code, attempts)
            await self._sleep(_retry_after(headers, self._backoff[attempts - 1]))
