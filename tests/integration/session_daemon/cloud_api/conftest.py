"""Fixtures of the Cloud API daemon tests."""

from tests.support.graph_thread import graph_thread

__all__ = ["graph_thread"]
