"""The errors of account and session operations, shared by the account lifecycle, the session
manager and the HTTP routes that map them to status codes."""

from __future__ import annotations


class AccountNotFound(Exception):
    pass


class NotConnectedError(Exception):
    pass


class AlreadyConnected(Exception):
    pass


class AccountLimitReached(Exception):
    """Adding a new account would exceed `Settings.max_accounts` live accounts."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} WhatsApp accounts")
        self.limit = limit


class PairingUnavailable(Exception):
    """No pairing can start now; `retry_after` seconds is a good time to try again."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BackfillUnsupported(Exception):
    """The transport cannot ask the phone for older messages (neonize 0.5.2 has no peer
    history request): a backfill would be a no-op, so it is refused, the same way every time."""
