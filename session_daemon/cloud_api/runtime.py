"""The Cloud API inside the running daemon: what `session_daemon.app` starts beside the session
manager. `build_cloud` gives the parts; this module connects them to the daemon's own:

- the transport the daemon uses is `DispatchingTransport` (linked devices and cloud numbers
  behind one port); its `download_media` fetches a cloud message's file through the Graph API
  into the media port (`handle` is `cloud:<media id>`);
- registering a number (`POST /api/whatsapp/cloud-accounts`, or the command line) stops a linked
  session of the same account first (`SessionManager.release`), marks the kind, and starts the
  account on the cloud transport under this daemon's lease;
- every webhook delivery is journalled whatever account it is for (any daemon may receive it);
  the time of the last one is kept on the account (`cloudLastWebhookAt`, written at most every
  `WEBHOOK_NOTE_EVERY`) so the lease owner's health check sees deliveries other daemons took;
- a health loop (`WHATSAPP_CLOUD_CHECK_SECONDS`, default 300) asks Meta about each number this
  daemon runs and writes `cloudHealth` (token, number status, webhook silence) with a human
  reason; a refused token stops the account's sends until a new one is saved.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Final

from session_daemon.cloud_api.accounts import CLOUD, Registration
from session_daemon.cloud_api.errors import GraphFailure
from session_daemon.cloud_api.health import describe
from session_daemon.cloud_api.owner_forward import OwnerForward
from session_daemon.cloud_api.routes import CloudApi, cloud_route_specs
from session_daemon.cloud_api.routes_staff import CloudStaffApi, staff_route_specs
from session_daemon.cloud_api.webhook import Delivery
from session_daemon.cloud_api.wiring import CloudWiring, build_cloud
from session_daemon.http.routing import RouteSpec
from session_daemon.leases.coordinator import LeaseCoordinator
from session_daemon.sessions.errors import PairingUnavailable
from session_daemon.sessions.manager import SessionManager
from session_daemon.transport.port import TransportError, TransportEvent, WhatsAppTransport
from shared import paths
from shared.store.port import DocumentStore
from shared.store.sentinels import SERVER_TIMESTAMP
from shared.timeutil import ensure_utc, utc_now

__all__ = ["CLOUD_MEDIA_PREFIX", "CloudRuntime", "graph_base_url_from_env"]

log = logging.getLogger(__name__)

CLOUD_MEDIA_PREFIX: Final = "cloud:"
WEBHOOK_NOTE_EVERY: Final = timedelta(minutes=5)
DEFAULT_CHECK_SECONDS: Final = 300.0
RECHECK_SECONDS: Final = 15.0


def graph_base_url_from_env(environ: dict[str, str] | None = None) -> str | None:
    env = os.environ if environ is None else environ
    return env.get("WHATSAPP_GRAPH_BASE_URL") or None


def _check_seconds() -> float:
    try:
        raw = os.environ.get("WHATSAPP_CLOUD_CHECK_SECONDS") or DEFAULT_CHECK_SECONDS
        return max(1.0, float(raw))
    except ValueError:
        return DEFAULT_CHECK_SECONDS


class CloudRuntime:
    def __init__(self, store: DocumentStore) -> None:
        self.store = store
        self.manager: SessionManager | None = None
        self._noted: dict[str, datetime] = {}
        self._task: asyncio.Task[None] | None = None
        self._staff: CloudStaffApi | None = None
        self._forward: OwnerForward | None = None

    @classmethod
    async def create(
        cls,
        store: DocumentStore,
        submit: Callable[[TransportEvent], None],
        linked: WhatsAppTransport,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> CloudRuntime:
        runtime = cls(store)
        runtime.wiring = await build_cloud(
            store,
            submit,
            linked,
            graph_base_url=graph_base_url_from_env(),
            clock=clock,
            after_delivery=runtime._noted_delivery,
        )
        return runtime

    @property
    def transport(self) -> WhatsAppTransport:
        return self.wiring.transport

    # ---- webhook ---------------------------------------------------------------------------

    wiring: CloudWiring

    async def _noted_delivery(self, delivery: Delivery) -> None:
        """After the intake journalled it (the handler answers 200 next)."""
        now = utc_now()
        for account_id in delivery.routed.by_account or {delivery.account.account_id: []}:
            self.wiring.cloud.note_webhook(account_id, now)
            last = self._noted.get(account_id)
            if last is None or now - last >= WEBHOOK_NOTE_EVERY:
                self._noted[account_id] = now
                await asyncio.to_thread(self._update, account_id, {"cloudLastWebhookAt": now})

    def _update(self, account_id: str, data: dict[str, Any]) -> None:
        with contextlib.suppress(Exception):  # a deleted account document: nothing to note
            self.store.update(paths.account_path(account_id), data)

    # ---- registration ----------------------------------------------------------------------

    def api(self, manager: SessionManager, coordinator: LeaseCoordinator | None = None) -> CloudApi:
        self.manager = manager
        if coordinator is not None:
            self._forward = OwnerForward(coordinator)
        manager.on_restore = self.wiring.kinds.learn

        async def stop_linked(account_id: str) -> None:
            # stopped without logging out: Meta unlinks the number's devices itself, and the
            # session database stays (nothing is deleted)
            await manager.release(account_id)

        async def registered(reg: Registration) -> None:
            self.wiring.kinds.set_cloud(reg.account_id)
            await self.start_account(reg.account_id)

        return CloudApi(self.store, self.wiring.webhook, stop_linked, registered, self._forward)

    def route_specs(
        self, manager: SessionManager, coordinator: LeaseCoordinator | None = None
    ) -> list[RouteSpec]:
        """The Cloud API's route table (registered through `session_daemon.http.routes`)."""
        return [
            *cloud_route_specs(self.api(manager, coordinator)),
            *staff_route_specs(self.staff),
        ]

    @property
    def staff(self) -> CloudStaffApi:
        if self._staff is None:
            self._staff = CloudStaffApi(self.store, self.wiring.cloud)
        return self._staff

    async def start_account(self, account_id: str) -> None:
        """Run a cloud account here (taking its free lease); one owned by another daemon is
        started there (its lease tick restores it with its kind)."""
        assert self.manager is not None
        snap = await asyncio.to_thread(self.store.get, paths.account_path(account_id))
        if snap is None:
            return
        try:
            await self.manager.restore_one(account_id, {**snap.data, "kind": CLOUD}, claim=True)
        except PairingUnavailable as exc:
            log.info("cloud account %s not started here: %s", account_id, exc)

    # ---- media -----------------------------------------------------------------------------

    async def download_media(self, account_id: str, handle: str) -> bytes:
        if not handle.startswith(CLOUD_MEDIA_PREFIX):
            linked = getattr(self.wiring.transport.linked, "download_media", None)
            if linked is None:
                raise TransportError("no url present: this transport cannot download")
            data: bytes = await linked(account_id, handle)
            return data
        media_id = handle[len(CLOUD_MEDIA_PREFIX) :]
        secrets = await self.wiring.cloud.secrets_of(account_id)
        if secrets is None:
            raise TransportError("no url present: the account has no Cloud API credentials")
        try:
            _, data = await self.wiring.cloud.graph.download_media(media_id, secrets.access_token)
        except GraphFailure as exc:
            # the media service reads permanence from the text (whatsmeow's wording)
            if not exc.retryable:
                raise TransportError(f"status code 410: {exc.code}: {exc.message}") from exc
            raise TransportError(f"{exc.code}: {exc.message}") from exc
        return data

    def diag(self) -> dict[str, Any]:
        """For `/diag`: webhook outcomes (bad signatures, malformed, unknown kinds), what the
        intake stored, and the cloud numbers this daemon runs."""
        return {
            "webhook": dict(self.wiring.webhook.counters),
            "intake": dict(self.wiring.intake.counters),
            "running": sorted(self.wiring.cloud.running()),
        }

    # ---- health ----------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._health_loop(), name="cloud-health")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._forward is not None:
            await self._forward.close()
        await self.wiring.close()

    async def _health_loop(self) -> None:
        every = _check_seconds()
        # a number whose last check failed (Meta unreachable, say) is asked again sooner: its
        # sends wait until a check answers
        tick = min(every, RECHECK_SECONDS)
        since = 0.0
        while True:
            await asyncio.sleep(tick)
            since += tick
            full = since >= every
            if full:
                since = 0.0
            try:
                cloud = self.wiring.cloud
                for account_id in cloud.running():
                    if full or cloud.unanswered(account_id):
                        await self.check(account_id)
            except Exception:
                log.exception("cloud account health check failed")

    async def check(self, account_id: str) -> dict[str, Any]:
        """Ask Meta now; write `cloudHealth` (and the reason as `lastError` when the number
        is connected but its webhook is silent). Returns what was written."""
        snap = await asyncio.to_thread(self.store.get, paths.account_path(account_id))
        heard = snap.data.get("cloudLastWebhookAt") if snap is not None else None
        if isinstance(heard, datetime):
            self.wiring.cloud.note_webhook(account_id, ensure_utc(heard), keep_newer=True)
        health = await self.wiring.cloud.check(account_id)
        info = self.wiring.cloud.number_info(account_id) or {}
        report: dict[str, Any] = {
            "status": health.status,
            "reason": health.reason,
            "message": describe(health.reason),
            "numberStatus": info.get("status"),
            "qualityRating": info.get("quality_rating"),
            "checkedAt": utc_now(),
        }
        patch: dict[str, Any] = {"cloudHealth": report, "updatedAt": SERVER_TIMESTAMP}
        if health.status == "connected" and health.reason is not None:
            patch["lastError"] = describe(health.reason)
        elif health.status == "connected" and snap is not None:
            noted = str(snap.data.get("lastError") or "")
            if noted.startswith("webhook_silent"):  # webhooks arrive again
                patch["lastError"] = None
        await asyncio.to_thread(self._update, account_id, patch)
        return report
