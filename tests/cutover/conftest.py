"""The daemon fixtures of tests/daemon, for the cut-over checks that talk to a real daemon."""

from tests.daemon.conftest import daemon, daemon_factory  # noqa: F401 - fixtures re-exported
