"""One `WhatsAppTransport` for both kinds of account: each call goes to the linked-device
transport (neonize, or the simulator) or to `CloudTransport`, by the account's kind.

The daemon holds one transport for every account; with this in front, the session manager,
outbox and backfill keep calling the same port and never ask which kind an account is. The kind
comes from `accounts/{id}.kind` through `kind_of` (kept in memory by the caller and updated when
an account is registered or converted), so a number that moves keeps its account id and threads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from session_daemon.cloud_api.accounts import CLOUD
from session_daemon.cloud_api.transport import CloudTransport
from session_daemon.outbox.send_kinds import ReplyOrMediaNotSupported, TemplateNotSupported
from session_daemon.transport.port import EventSink, SendResult, SessionLocation, WhatsAppTransport

__all__ = ["DispatchingTransport"]


class DispatchingTransport:
    def __init__(
        self, linked: WhatsAppTransport, cloud: CloudTransport, kind_of: Callable[[str], str]
    ) -> None:
        self.linked = linked
        self.cloud = cloud
        self._kind_of = kind_of

    def __getattr__(self, name: str) -> Any:
        """What the port does not name (optional capabilities such as
        `supports_history_requests`, `profile_picture`, `diagnostics`) is the linked
        transport's: the daemon asks for them with `getattr`, as before this dispatcher."""
        if name.startswith("__") or name in ("linked", "cloud", "_kind_of"):
            raise AttributeError(name)
        return getattr(self.linked, name)

    def _for(self, account_id: str) -> WhatsAppTransport:
        return self.cloud if self._kind_of(account_id) == CLOUD else self.linked

    async def start_session(
        self, account_id: str, session_db: SessionLocation, sink: EventSink
    ) -> None:
        await self._for(account_id).start_session(account_id, session_db, sink)

    async def stop_session(self, account_id: str, *, logout: bool = False) -> None:
        await self._for(account_id).stop_session(account_id, logout=logout)

    async def request_pairing_code(self, account_id: str, phone_e164: str) -> str:
        return await self._for(account_id).request_pairing_code(account_id, phone_e164)

    async def send_text(self, account_id: str, to_jid: str, text: str) -> SendResult:
        return await self._for(account_id).send_text(account_id, to_jid, text)

    async def send_presence(self, account_id: str, to_jid: str, composing: bool) -> None:
        await self._for(account_id).send_presence(account_id, to_jid, composing)

    async def request_history(self, account_id: str, chat_jid: str, count: int) -> None:
        await self._for(account_id).request_history(account_id, chat_jid, count)

    async def send_template(
        self,
        account_id: str,
        to_jid: str,
        name: str,
        language: str,
        params: Sequence[str] = (),
        *,
        components: Sequence[Mapping[str, Any]] | None = None,
    ) -> SendResult:
        if self._kind_of(account_id) != CLOUD:
            raise TemplateNotSupported(account_id)
        return await self.cloud.send_template(
            account_id, to_jid, name, language, params, components=components
        )

    async def send_message(
        self,
        account_id: str,
        to_jid: str,
        text: str,
        *,
        reply_to: str | None = None,
        media: Mapping[str, Any] | None = None,
    ) -> SendResult:
        if self._kind_of(account_id) != CLOUD:
            raise ReplyOrMediaNotSupported(account_id)
        return await self.cloud.send_message(
            account_id, to_jid, text, reply_to=reply_to, media=media
        )

    def is_connected(self, account_id: str) -> bool:
        return self._for(account_id).is_connected(account_id)

    def pn_for_lid(self, account_id: str, lid_jid: str) -> str | None:
        return self._for(account_id).pn_for_lid(account_id, lid_jid)

    async def close(self) -> None:
        await self.cloud.close()
        await self.linked.close()
