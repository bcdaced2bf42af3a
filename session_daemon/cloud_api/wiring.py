"""Assemble the Cloud API parts for the daemon: one call gives the transport to use for every
account (linked devices and cloud numbers behind one port), the webhook and its intake into the
inbound pipeline, and the account-kind cache. The daemon's wiring then only registers the routes
(`routes.cloud_route_specs`) and uses `CloudWiring.transport` where it used its transport.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp

from session_daemon.cloud_api import secrets_store
from session_daemon.cloud_api.accounts import CLOUD
from session_daemon.cloud_api.dispatch import DispatchingTransport
from session_daemon.cloud_api.graph import GraphClient
from session_daemon.cloud_api.intake import PipelineIntake
from session_daemon.cloud_api.last_inbound import last_inbound_at
from session_daemon.cloud_api.routing import CloudAccountKeys
from session_daemon.cloud_api.secrets_store import CloudSecrets
from session_daemon.cloud_api.transport import CloudTransport
from session_daemon.cloud_api.webhook import CloudWebhook, Delivery
from session_daemon.transport.port import TransportEvent, WhatsAppTransport
from shared import paths
from shared.store.port import DocumentStore, query
from shared.timeutil import utc_now

__all__ = ["AccountKinds", "CloudWiring", "build_cloud"]


class AccountKinds:
    """Which accounts are cloud numbers, in memory (asked on every transport call)."""

    def __init__(self) -> None:
        self._cloud: set[str] = set()
        self._lock = threading.Lock()

    def load(self, store: DocumentStore) -> None:
        hits = store.query(query(paths.ACCOUNTS, where=[("kind", "==", CLOUD)]))
        with self._lock:
            self._cloud = {h.id for h in hits if h.data.get("status") != "deleted"}

    def kind_of(self, account_id: str) -> str:
        with self._lock:
            return CLOUD if account_id in self._cloud else "linked"

    def set_cloud(self, account_id: str) -> None:
        with self._lock:
            self._cloud.add(account_id)

    def learn(self, account_id: str, data: dict[str, Any]) -> None:
        """From an account document (the session manager's `on_restore`)."""
        with self._lock:
            if data.get("kind") == CLOUD and data.get("status") != "deleted":
                self._cloud.add(account_id)
            elif data.get("kind") != CLOUD:
                self._cloud.discard(account_id)


@dataclass
class CloudWiring:
    transport: DispatchingTransport
    cloud: CloudTransport
    webhook: CloudWebhook
    intake: PipelineIntake
    kinds: AccountKinds
    http: aiohttp.ClientSession

    async def close(self) -> None:
        await self.transport.close()
        await self.http.close()


async def build_cloud(
    store: DocumentStore,
    submit: Callable[[TransportEvent], None],
    linked: WhatsAppTransport,
    *,
    graph_base_url: str | None = None,
    clock: Callable[[], datetime] = utc_now,
    after_delivery: Callable[[Delivery], Awaitable[None]] | None = None,
) -> CloudWiring:
    """`submit`: the inbound pipeline's (journals before returning). `after_delivery` runs
    once a delivery is journalled, before the 200 (the daemon notes webhook health)."""
    kinds = AccountKinds()
    await asyncio.to_thread(kinds.load, store)
    http = aiohttp.ClientSession()
    graph = GraphClient(http, graph_base_url)

    async def secrets(account_id: str) -> CloudSecrets | None:
        return await asyncio.to_thread(secrets_store.load, store, account_id)

    async def keys(account_id: str) -> CloudAccountKeys | None:
        found = await secrets(account_id)
        return found.keys() if found else None

    async def keys_by_number(phone_number_id: str) -> CloudAccountKeys | None:
        found = await asyncio.to_thread(
            secrets_store.find_by_phone_number_id, store, phone_number_id
        )
        return found.keys() if found else None

    async def last_inbound(account_id: str, client_jid: str) -> datetime | None:
        return await asyncio.to_thread(last_inbound_at, store, account_id, client_jid)

    cloud = CloudTransport(graph, secrets, last_inbound, clock=clock)
    intake = PipelineIntake(submit, store=store)

    async def sink(delivery: Delivery) -> None:
        await intake(delivery)
        if after_delivery is not None:
            await after_delivery(delivery)

    webhook = CloudWebhook(keys, keys_by_number, sink)
    return CloudWiring(
        transport=DispatchingTransport(linked, cloud, kinds.kind_of),
        cloud=cloud,
        webhook=webhook,
        intake=intake,
        kinds=kinds,
        http=http,
    )
