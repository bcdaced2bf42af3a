"""The daemon-process fixtures of tests/daemon, for the import → restore test."""

from tests.daemon.conftest import daemon_factory

__all__ = ["daemon_factory"]
