"""The webhook verification handshake Meta performs when the callback URL is registered.

`GET ?hub.mode=subscribe&hub.verify_token=T&hub.challenge=C` must be answered 200 with the body
`C` as plain text when `T` is the account's verify token, else 403. This is the one answer of
the daemon that is not JSON (Meta reads the body as the challenge itself).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

__all__ = ["HandshakeResult", "check_subscription"]

_MAX_CHALLENGE: Final = 256  # Meta's challenges are short integers; refuse to echo a novel


@dataclass(frozen=True)
class HandshakeResult:
    status: int  # 200, 400 or 403
    challenge: str | None  # the plain-text body on 200
    code: str | None = None  # a stable error code otherwise
    message: str = ""


def check_subscription(params: Mapping[str, str], verify_token: str) -> HandshakeResult:
    mode = params.get("hub.mode")
    token = params.get("hub.verify_token")
    challenge = params.get("hub.challenge")
    if mode is None or token is None or challenge is None:
        return HandshakeResult(
            400, None, "invalid_request", "hub.mode, hub.verify_token and hub.challenge needed."
        )
    if mode != "subscribe":
        return HandshakeResult(400, None, "invalid_request", "hub.mode must be subscribe.")
    if not challenge or len(challenge) > _MAX_CHALLENGE or not challenge.isprintable():
        return HandshakeResult(400, None, "invalid_request", "hub.challenge is not valid.")
    if not verify_token or not hmac.compare_digest(
        token.encode("utf-8", "replace"), verify_token.encode("utf-8")
    ):
        return HandshakeResult(403, None, "verify_token_mismatch", "The verify token is wrong.")
    return HandshakeResult(200, challenge)
