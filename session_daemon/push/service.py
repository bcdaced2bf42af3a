"""The daemon's push service: FCM v1 for the inbound pipeline's new messages.

Off unless configured: `WHATSAPP_FCM_PROJECT` (the Firebase project; defaults to the
Firestore store's project), credentials from Application Default Credentials (the VM's service
account, or `GOOGLE_APPLICATION_CREDENTIALS`), `WHATSAPP_FCM_BASE_URL` to point elsewhere
(a test stand-in), `WHATSAPP_FCM_ACCESS_TOKEN` for a fixed token (tests only),
`WHATSAPP_PUSH_WINDOW_SECONDS` (default 3) for the per-thread coalescing window.
`WHATSAPP_PUSH=off` turns it off even on Firestore; against the Firestore emulator it is off
unless `WHATSAPP_FCM_PROJECT` is set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from session_daemon.inbound.convert import shown_text
from session_daemon.inbound.pipeline import CreatedMessage
from session_daemon.push.audience import StoreAudience
from session_daemon.push.fcm import FCM_BASE_URL, FcmV1Client, GoogleAccessToken, StaticAccessToken
from session_daemon.push.notifier import InboundNotice, PushNotifier
from session_daemon.push.recipients import FirebaseAdminDirectory
from shared.store.factory import firestore_project
from shared.store.port import DocumentStore

__all__ = ["PushService"]


class PushService:
    def __init__(self, notifier: PushNotifier, client: FcmV1Client) -> None:
        self.notifier = notifier
        self._client = client

    @classmethod
    def from_env(
        cls, store: DocumentStore, store_url: str, environ: Mapping[str, str] | None = None
    ) -> PushService | None:
        env = os.environ if environ is None else environ
        if env.get("WHATSAPP_PUSH", "").lower() in ("off", "false", "0"):
            return None
        project = env.get("WHATSAPP_FCM_PROJECT")
        if not project and not env.get("FIRESTORE_EMULATOR_HOST"):
            # on the emulator, pushing to real phones needs WHATSAPP_FCM_PROJECT said out loud
            project = firestore_project(store_url)
        if not project:
            return None
        fixed = env.get("WHATSAPP_FCM_ACCESS_TOKEN")
        tokens = StaticAccessToken(fixed) if fixed else GoogleAccessToken.application_default()
        client = FcmV1Client(
            project, tokens, base_url=env.get("WHATSAPP_FCM_BASE_URL") or FCM_BASE_URL
        )
        audience = StoreAudience(store, FirebaseAdminDirectory())
        notifier = PushNotifier(
            client,
            audience,
            store,
            window_seconds=float(env.get("WHATSAPP_PUSH_WINDOW_SECONDS") or 3.0),
            on_token_dropped=audience.forget,
        )
        return cls(notifier, client)

    def start(self) -> None:
        self.notifier.start()

    async def stop(self) -> None:
        await self.notifier.stop()
        await self._client.close()

    def on_created(self, created: list[CreatedMessage]) -> None:
        """The pipeline's listener (flusher thread): O(1) per message."""
        for item in created:
            record, thread = item.record, item.thread
            title = (
                thread.get("groupSubject")
                or thread.get("displayName")
                or thread.get("normalizedPhone")
                or ""
            )
            self.notifier.offer(
                InboundNotice(
                    account_id=record.account_id,
                    thread_id=item.thread_id,
                    client_jid=str(thread.get("clientJid") or ""),
                    title=str(title),
                    text=shown_text(record),
                    ts_ms=record.ts_ms,
                    source=record.source,
                    replay=item.replayed,
                    from_me=record.from_me,
                )
            )
