"""The daemon client: service token + caller uid, short timeouts, and errors that never carry
the backend's address or raw exception text (CONTRACT section 6, flaws 5 and 6)."""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .core import ProxyError, ProxyResponse

log = logging.getLogger(__name__)

BASE_URL_ENV = "WHATSAPP_BACKEND_BASE_URL"
TOKEN_ENV = "WHATSAPP_DAEMON_TOKEN"
TIMEOUT_ENV = "WHATSAPP_BACKEND_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 20.0
WAKE_TIMEOUT_S = 3.0
MAX_RESPONSE_BYTES = 20 * 1024 * 1024

CONFIGURATION_MISSING = ProxyError(
    500, "configuration_missing", "The WhatsApp backend is not configured on the server."
)
BACKEND_UNAVAILABLE = ProxyError(
    502, "backend_unavailable", "The WhatsApp service is unreachable; try again shortly."
)


@dataclass(frozen=True)
class BackendConfig:
    base_url: str
    token: str
    timeout_s: float = DEFAULT_TIMEOUT_S


def config_from_env(token: str | None = None) -> BackendConfig | None:
    """None when the URL or the service token is missing: no fallback address, ever."""
    base = (os.environ.get(BASE_URL_ENV) or "").strip().rstrip("/")
    secret = (token if token is not None else os.environ.get(TOKEN_ENV) or "").strip()
    if not base or not secret:
        return None
    if urllib.parse.urlsplit(base).scheme not in ("http", "https"):
        log.error("%s is not an http(s) URL", BASE_URL_ENV)
        return None
    try:
        timeout = float(os.environ.get(TIMEOUT_ENV) or DEFAULT_TIMEOUT_S)
    except ValueError:
        timeout = DEFAULT_TIMEOUT_S
    return BackendConfig(base, secret, max(1.0, min(timeout, 120.0)))


class Backend:
    def __init__(self, config: BackendConfig) -> None:
        self.config = config

    def call(
        self,
        method: str,
        path: str,
        *,
        caller_uid: str,
        body: Mapping[str, Any] | None = None,
        query: Mapping[str, str] | None = None,
        request_id: str | None = None,
        timeout_s: float | None = None,
    ) -> ProxyResponse:
        """The daemon's JSON answer (any status); raises BACKEND_UNAVAILABLE when it cannot be
        reached or answers something that is not a JSON object."""
        url = self.config.base_url + path
        if query:
            url += "?" + urllib.parse.urlencode(dict(query))
        headers = {
            "Authorization": f"Bearer {self.config.token}",
            "X-Caller-Uid": caller_uid,
            "Accept": "application/json",
        }
        if request_id:
            headers["X-Request-ID"] = request_id
        data = None
        if body is not None:
            data = json.dumps(dict(body)).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(url, data=data, headers=headers, method=method)
        timeout = timeout_s if timeout_s is not None else self.config.timeout_s
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                status, raw = resp.status, resp.read(MAX_RESPONSE_BYTES)
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read(MAX_RESPONSE_BYTES)
        except (OSError, ValueError) as exc:  # refused, timeout, DNS, TLS, bad URL
            log.warning("backend %s %s unreachable: %s", method, path, type(exc).__name__)
            raise BACKEND_UNAVAILABLE from None
        try:
            parsed = json.loads(raw or b"{}")
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            log.warning("backend %s %s answered %s without a JSON object", method, path, status)
            raise BACKEND_UNAVAILABLE
        if status >= 500:
            # The daemon's own 5xx bodies are stable codes too; keep them, but never its text
            # when it is not one of ours.
            code = parsed.get("error")
            if not isinstance(code, str) or not code:
                raise BACKEND_UNAVAILABLE
        return ProxyResponse(status, parsed)

    def wake_outbox(self, caller_uid: str) -> bool:
        """Best effort: the daemon also polls the outbox."""
        try:
            resp = self.call(
                "POST",
                "/api/whatsapp/outbox/wake",
                caller_uid=caller_uid,
                body={},
                timeout_s=WAKE_TIMEOUT_S,
            )
        except ProxyError:
            return False
        return resp.status == 200
