"""Wiring: settings -> store, transport, inbound pipeline, session manager, outbox, HTTP server.

Start order: sessions folder check, store, transport, inbound pipeline (replays its journal),
session manager (launches the restore of every paired session), outbox worker, HTTP server.
Stop order is the reverse (HTTP first), so no event is lost between components.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp import web

from session_daemon.autoreply.broadcast_runner import BroadcastRunner
from session_daemon.autoreply.engine import AutoReplyEngine
from session_daemon.autoreply.model import model_replier_from_env
from session_daemon.autoreply.settings import auto_reply_config_from_env
from session_daemon.cloud_api.media_url import rules_from_env
from session_daemon.cloud_api.runtime import CloudRuntime
from session_daemon.config import ConfigError, Settings, check_sessions_dir, ensure_service_token
from session_daemon.fleet.stats import FleetStats
from session_daemon.http.app import build_app
from session_daemon.http.auth import Authenticator, firebase_resolver
from session_daemon.http.context import DaemonContext
from session_daemon.http.routes_autoreply import BROADCAST_RUNNER
from session_daemon.http.routes_outbox import SEND_MEDIA_RULES, SEND_PRECHECK, outbox_worker
from session_daemon.http.server import HardenedRunner, install_log_filter
from session_daemon.http.throttle import FailureThrottle, parse_networks
from session_daemon.inbound.group_subjects import GroupSubjects
from session_daemon.inbound.pipeline import CreatedHook, CreatedMessage, InboundPipeline
from session_daemon.leases.forward import forwarding_middleware
from session_daemon.leases.runtime import LeaseRuntime
from session_daemon.leases.wiring import Identity, build_runtime, claim_identity
from session_daemon.leases.wiring import register as register_instance
from session_daemon.media.local import LocalMediaStore
from session_daemon.media.service import MediaService
from session_daemon.outbox import OutboxWorker
from session_daemon.push.service import PushService
from session_daemon.sessions.manager import SessionManager
from session_daemon.transport.port import TransportEvent, WhatsAppTransport
from shared.store.factory import firestore_project
from shared.store.port import DocumentStore

log = logging.getLogger(__name__)

# Each neonize session holds one default-executor thread for its lifetime (see notes/neonize.md):
# 30 accounts plus sends and store calls need far more than min(32, cpu+4).
DEFAULT_EXECUTOR_THREADS = 128


def open_store(url: str) -> DocumentStore:
    from shared.store.factory import open_store as factory_open

    store: DocumentStore = factory_open(url)
    return store


def make_transport(settings: Settings, store: DocumentStore) -> WhatsAppTransport:
    if settings.transport == "simulated" and settings.simulator == "shared":
        if settings.session_hosts == "process":
            # each session in a host, every host on the machine's shared phone network
            from session_daemon.hosts.supervisor import HostedTransport, HostOptions

            return HostedTransport(
                HostOptions(
                    engine="simnet",
                    start_args={"sessions_path": str(settings.sessions_path)},
                    backoff_initial=settings.host_backoff_initial,
                    backoff_max=settings.host_backoff_max,
                )
            )
        from session_daemon.transport.simnet import SimnetTransport

        return SimnetTransport(settings.sessions_path)
    if settings.transport == "simulated":
        from session_daemon.transport.simulated import SimulatedTransport

        return SimulatedTransport(
            qr_interval=settings.simulator_qr_interval, qr_timeout=settings.simulator_qr_timeout
        )
    if settings.session_hosts == "process":
        # Production shape: a supervised child process per account (docs/session-runtime.md).
        from session_daemon.hosts.supervisor import HostedTransport, HostOptions
        from session_daemon.sessions.proxy import account_proxy

        def proxy_for(account_id: str) -> str | None:
            return account_proxy(store, account_id) or settings.proxy

        return HostedTransport(
            HostOptions(
                engine="neonize",
                start_args={"full_history": settings.sync_full_history},
                backoff_initial=settings.host_backoff_initial,
                backoff_max=settings.host_backoff_max,
            ),
            proxy_for=proxy_for,
        )
    from session_daemon.transport.neonize_transport import NeonizeTransport

    return NeonizeTransport(full_history=settings.sync_full_history, proxy=settings.proxy)


def check_session_server(url: str) -> None:
    """Raise ConfigError (exit 2 with the reason) when a postgres:// sessions location cannot
    work: the server does not answer, refuses the login, or the user may not create databases."""
    from session_daemon.sessions.pg_sessions import (
        PostgresSessions,
        SessionServerError,
        parse_sessions_url,
    )

    sessions = PostgresSessions(parse_sessions_url(url))
    try:
        sessions.check()
    except SessionServerError as exc:
        raise ConfigError(f"SESSIONS_PATH: {exc}") from None
    log.info("session databases on %s (one per account)", sessions.url.redacted())


def _fan_out(listeners: list[CreatedHook]) -> CreatedHook:
    def call_all(created: list[CreatedMessage]) -> None:
        for listen in listeners:
            listen(created)

    return call_all


class Daemon:
    """One running daemon. `await start()`, then `await stop()` (idempotent)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = ensure_service_token(settings)
        self.store: DocumentStore | None = None
        self.transport: WhatsAppTransport | None = None
        self.cloud: CloudRuntime | None = None  # Cloud API numbers beside linked devices
        self.pipeline: InboundPipeline | None = None
        self.manager: SessionManager | None = None
        self.outbox: OutboxWorker | None = None
        self.identity: Identity | None = None
        self.leases: LeaseRuntime | None = None
        self.media: MediaService | None = None
        self.push: PushService | None = None
        self.groups: GroupSubjects | None = None
        self.auto_reply: AutoReplyEngine | None = None
        self.broadcasts: BroadcastRunner | None = None
        self.app: web.Application | None = None
        self._runner: web.AppRunner | None = None
        self._stopping = False

    async def start(self) -> None:
        check_sessions_dir(self.settings.sessions_path)  # ConfigError with a clear message
        if self.settings.sessions_url:  # postgres://: the server answers, we may create DBs
            await asyncio.to_thread(check_session_server, self.settings.sessions_url)
        # who this daemon is, before anything reads its journal or touches a session
        self.identity = claim_identity(self.settings)
        self.settings = settings = self.identity.settings
        self.store = await asyncio.to_thread(open_store, settings.store_url)
        linked = make_transport(settings, self.store)
        # one port for both kinds of account (issue 18): cloud numbers go to the Graph API
        self.cloud = await CloudRuntime.create(self.store, self._submit_inbound, linked)
        self.transport = self.cloud.transport
        # Media downloads, push notifications and group subjects listen to the messages the
        # pipeline creates (issue 12); each only enqueues on the pipeline's thread.
        self.media = MediaService.from_settings(
            self.store,
            settings.store_url,
            settings.sessions_path.parent,
            f"http://{settings.host}:{settings.port}",
            self.cloud.download_media,
            pictures=getattr(linked, "profile_picture", None),
        )
        self.media.start()
        # the file URLs a send may name: our own stores and the operator's list (media_url.py)
        local = self.media.media if isinstance(self.media.media, LocalMediaStore) else None
        self.cloud.wiring.cloud.local_media = local
        self.cloud.wiring.cloud.media_rules = media_rules = rules_from_env(
            os.environ,
            project=firestore_project(settings.store_url),
            own_base=local.public_base_url if local is not None else None,
        )
        self.push = PushService.from_env(self.store, settings.store_url)
        self.groups = GroupSubjects(self.store, getattr(linked, "group_subject", None))
        self.groups.start()
        # per-number activity for /metrics and the fleet dashboard (session_daemon/fleet)
        fleet = FleetStats()
        listeners: list[CreatedHook] = [
            self.media.on_created,
            self.groups.on_created,
            fleet.on_created,
        ]
        if self.push is not None:
            self.push.start()
            listeners.append(self.push.on_created)
        # Auto-reply (issue 16) hears stored messages through the same port and queues its
        # replies in the outbox: the inbound package never imports the outbox. The lease check
        # and the worker's wake are bound late (both are built below).
        config = auto_reply_config_from_env()
        self.auto_reply = AutoReplyEngine(
            self.store,
            config=config,
            model=model_replier_from_env(config.model_timeout_s),
            owns=self._owns,
            wake=self._wake_outbox,
            on_outcome=fleet.on_auto_reply,
        )
        self.auto_reply.start()
        listeners.append(self.auto_reply.on_created)
        self.pipeline = InboundPipeline(
            self.store,
            settings.journal_dir,
            lid_resolver=self.transport.pn_for_lid,
            on_created=_fan_out(listeners),
        )
        await self.pipeline.start()
        self.manager = SessionManager(self.store, self.transport, settings, self.pipeline)
        self.manager.status_listeners.append(fleet.on_status_event)
        # account leases: this daemon runs a session only while it holds the account's lease
        self.leases = build_runtime(
            settings, self.store, self.manager, trusted_local=self.identity.identity.locked_locally
        )
        await register_instance(self.leases)  # a live daemon under this id: refuse to start
        assert settings.service_token is not None
        ctx = DaemonContext(
            settings=settings,
            store=self.store,
            transport=self.transport,
            manager=self.manager,
            authenticator=Authenticator(
                settings.service_token,
                firebase_resolver(self.store),
                FailureThrottle(
                    settings.auth_failures_allowed, settings.auth_failure_window_seconds
                ),
                parse_networks(settings.trusted_proxies),
            ),
            inbound=self.pipeline,
            leases=self.leases,
            fleet=fleet,
        )
        ctx.diag_sources["inbound"] = self.pipeline.stats
        transport_diag = getattr(linked, "diagnostics", None)
        if callable(transport_diag):  # session hosts: restarts, last exits, unknown events
            ctx.diag_sources["transportDiagnostics"] = transport_diag
        self.outbox = outbox_worker(ctx, fences=self.leases.coordinator.fence)
        self.outbox.on_outcome = fleet.on_outbox
        self.app = build_app(
            ctx,
            outbox=self.outbox,
            simulator=settings.transport == "simulated",
            media=self.media.routes,
            cloud=self.cloud.route_specs(self.manager, self.leases.coordinator),
        )
        # a free-form text outside a cloud client's 24-hour window is refused before queueing
        self.app[SEND_PRECHECK] = self.cloud.staff.outside_window
        self.app[SEND_MEDIA_RULES] = media_rules
        media = self.media
        ctx.diag_sources["media"] = lambda: dataclasses.asdict(media.downloader.stats)
        if self.push is not None:
            push = self.push
            ctx.diag_sources["push"] = lambda: dataclasses.asdict(push.notifier.stats)
        if settings.transport == "simulated" and settings.simulator == "shared":
            from session_daemon.http.simulator import SIMULATOR
            from session_daemon.transport.simnet import SimnetTransport

            if not isinstance(linked, SimnetTransport):
                # sessions in hosts: the simulator routes play the phones on their own client
                self.app[SIMULATOR] = SimnetTransport(settings.sessions_path)
        forward, close_forward = forwarding_middleware(self.leases.coordinator)
        self.app.middlewares.append(forward)  # account actions reach the account's owner
        self.app.on_cleanup.append(close_forward)
        ctx.diag_sources["outbox"] = self.outbox.stats
        ctx.diag_sources["autoReply"] = self.auto_reply.stats
        self.broadcasts = BroadcastRunner(
            self.store,
            owns=self._owns,
            wake=self._wake_outbox,
            poll_s=settings_float("WHATSAPP_BROADCAST_POLL_SECONDS", 0.5),
        )
        self.app[BROADCAST_RUNNER] = self.broadcasts
        ctx.diag_sources["broadcasts"] = self.broadcasts.stats
        ctx.diag_sources["cloudApi"] = self.cloud.diag
        # restoring only launches the session tasks: it is quick, and the API must not accept
        # account changes before the manager listens to transport events
        await self.manager.start()
        await self.leases.start(register=False)  # the first tick takes and restores accounts
        log.info("sessions being restored: %s", self.manager.summary()["byStatus"])
        await self.outbox.start()
        self.cloud.start()  # the periodic health check of the cloud numbers run here
        self.broadcasts.start()
        install_log_filter()
        self._runner = HardenedRunner(
            self.app,
            access_log=None,
            handle_signals=False,
            header_timeout=settings.http_header_timeout,
            keepalive_timeout=settings.http_keepalive_timeout,
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, settings.host, settings.port)
        await site.start()
        log.info(
            "listening on http://%s:%d (transport %s, store %s)",
            settings.host,
            settings.port,
            settings.transport,
            settings.store_url.split(":", 1)[0],
        )

    def _submit_inbound(self, event: TransportEvent) -> None:
        """Webhook events into the pipeline (created after the transport it resolves LIDs with)."""
        if self.pipeline is None:
            raise RuntimeError("the inbound pipeline is not running")
        self.pipeline.submit(event)

    async def stop(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        steps: list[tuple[str, Callable[[], Any]]] = []
        if self._runner is not None:
            steps.append(("http", self._runner.cleanup))
        if self.broadcasts is not None:
            steps.append(("broadcasts", self.broadcasts.stop))
        if self.outbox is not None:
            steps.append(("outbox", self.outbox.stop))
        if self.leases is not None:  # sends drained: stop sessions and hand the leases over
            steps.append(("leases", self.leases.stop))
        if self.manager is not None:
            steps.append(("sessions", self.manager.stop))
        if self.pipeline is not None:
            steps.append(("inbound", self.pipeline.stop))
        if self.auto_reply is not None:
            steps.append(("auto-reply", self._stop_auto_reply))
        if self.push is not None:
            steps.append(("push", self.push.stop))
        if self.media is not None:
            steps.append(("media", self.media.stop))
        if self.groups is not None:
            steps.append(("group subjects", self.groups.stop))
        if self.cloud is not None:  # closes both transports and the Graph API client
            steps.append(("transport", self.cloud.stop))
        elif self.transport is not None:
            steps.append(("transport", self.transport.close))
        for name, step in steps:
            try:
                await step()
            except Exception:
                log.exception("error while stopping %s", name)
        if self.store is not None:
            await asyncio.to_thread(self.store.close)
        if self.identity is not None:
            self.identity.close()

    def _owns(self, account_id: str) -> bool:
        """Only the lease holder of an account replies or broadcasts for it."""
        return self.leases is not None and self.leases.coordinator.holds(account_id)

    def _wake_outbox(self) -> None:
        if self.outbox is not None:
            self.outbox.wake()

    async def _stop_auto_reply(self) -> None:
        if self.auto_reply is not None:
            await asyncio.to_thread(self.auto_reply.stop)


def settings_float(name: str, default: float) -> float:
    raw = (os.environ.get(name) or "").strip()
    try:
        return max(0.0, float(raw)) if raw else default
    except ValueError:
        return default


async def run(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM."""
    loop = asyncio.get_running_loop()
    loop.set_default_executor(
        ThreadPoolExecutor(max_workers=DEFAULT_EXECUTOR_THREADS, thread_name_prefix="daemon")
    )
    daemon = Daemon(settings)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await daemon.start()
        await stop.wait()
        log.info("stopping")
    finally:
        await daemon.stop()
