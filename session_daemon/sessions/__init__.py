"""Per-account WhatsApp sessions: the manager, its pure status rules, and the pairing secrets."""

from session_daemon.sessions.manager import SessionManager

__all__ = ["SessionManager"]
