"""Operator tasks run from the command line: backup and restore of a daemon's data, and the
read-mostly inspection commands (journal, parked messages, stuck outbox items, documents,
owners)."""
