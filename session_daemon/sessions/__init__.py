"""Per-account WhatsApp sessions: the manager (runs sessions), the account lifecycle (create,
delete, backfill), their pure rules (`accounts`, `status`, `backoff`), and the pairing secrets."""

from session_daemon.sessions.manager import SessionManager

__all__ = ["SessionManager"]
