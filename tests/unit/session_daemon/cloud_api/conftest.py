"""Fixtures: the Graph API stand-in served on a local port, and a client session."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from tests.support.graph_standin import GraphStandIn


@pytest.fixture
async def graph() -> AsyncIterator[GraphStandIn]:
    standin = GraphStandIn()
    server = TestServer(standin.app(), host="127.0.0.1")
    await server.start_server()
    standin.base = str(server.make_url("")).rstrip("/")
    yield standin
    await server.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
