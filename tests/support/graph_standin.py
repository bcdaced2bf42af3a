"""A local stand-in of Meta's Graph API and webhook sender, for tests (no test reaches Meta).

It implements exactly the endpoints `session_daemon.cloud_api.graph` uses, with Meta's shapes:

- `POST /{version}/{phone-number-id}/messages`: sends (text, media, template, reaction) and read
  receipts; answers `{messaging_product, contacts: [{input, wa_id}], messages: [{id}]}`.
  Like Meta, undeliverable recipients (131026) and free-form sends outside the 24-hour window
  (131047) are accepted and then fail by a `failed` status webhook; a throughput limit (130429)
  and a bad token (190) are refused at once.
- `POST /{version}/{phone-number-id}/media`: multipart `messaging_product=whatsapp`, `type`
  (a MIME type Meta supports) and `file`; answers `{id}` (the file is then served like any
  media, and a media send must name an id it knows);
- `GET /{version}/{media-id}` → `{url, mime_type, sha256 (hex), file_size, id}`, and the URL
  itself, which wants the same bearer token;
- `GET /{version}/{waba-id}/message_templates` with cursor paging;
- `GET /{version}/{phone-number-id}` → the number's info.

Webhooks go out the way Meta sends them: JSON with non-ASCII escaped (`ensure_ascii`), signed
with `X-Hub-Signature-256` over exactly those bytes, batched `entry[].changes[]`, and retried
byte for byte (`redeliver`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from session_daemon.cloud_api.signature import HEADER, sign

VERSION = "v24.0"
WABA_ID = "102290129340398"
PHONE_NUMBER_ID = "106540352242922"
DISPLAY_PHONE = "40722000009"
TOKEN = "EAAtesttoken-standin"
APP_SECRET = "standin-app-secret"


_MEDIA_KINDS = ("image", "video", "audio", "document", "sticker")
# the types Meta's upload takes (its media reference); anything else is 131053
_UPLOAD_TYPES = frozenset(
    {
        "image/jpeg", "image/png", "image/webp", "video/mp4", "video/3gpp", "audio/aac",
        "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg", "text/plain", "application/pdf",
        "application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    }
)  # fmt: skip


def graph_error(status: int, code: int, message: str, subcode: int | None = None) -> web.Response:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["fbtrace_id"] = "AbCdEfStandIn"
    return web.json_response({"error": error}, status=status)


@dataclass
class Sent:
    phone_number_id: str
    body: dict[str, Any]
    wamid: str


@dataclass
class GraphStandIn:
    phone_number_id: str = PHONE_NUMBER_ID
    waba_id: str = WABA_ID
    display_phone: str = DISPLAY_PHONE
    app_secret: str = APP_SECRET
    tokens: set[str] = field(default_factory=lambda: {TOKEN})
    not_on_whatsapp: set[str] = field(default_factory=set)  # wa_ids
    window_open: set[str] = field(default_factory=set)  # wa_ids / BSUIDs inside the 24 h window
    throughput_left: int | None = None  # sends accepted before 130429
    stall_seconds: float = 0.0  # sends take this long (to test client timeouts)
    templates: list[dict[str, Any]] = field(default_factory=list)
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    uploads: list[tuple[str, str, str]] = field(default_factory=list)  # (id, type, file name)
    corrupt_media: set[str] = field(default_factory=set)  # served with one byte changed
    media_outages: int = 0  # the next media lookups answer 500
    sent: list[Sent] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)
    pending_statuses: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path)
    webhook_url: str | None = None
    delivered: list[tuple[bytes, int]] = field(default_factory=list)
    base: str = ""  # set once the server runs: http://127.0.0.1:PORT
    webhook_ssl: ssl.SSLContext | None = None  # trust for an https webhook URL (a test CA)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # ---- the Graph API ------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"{self.base}/{VERSION}"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{version}/{node}/messages", self._messages)
        app.router.add_post("/{version}/{node}/media", self._upload)
        app.router.add_get("/{version}/{node}/message_templates", self._templates)
        app.router.add_get("/media-download/{media_id}", self._download)
        app.router.add_get("/{version}/{node}", self._node)
        return app

    def _authorized(self, request: web.Request) -> web.Response | None:
        self.requests.append((request.method, request.path))
        if request.match_info.get("version", VERSION) != VERSION:
            return graph_error(400, 2635, "Unknown API version")
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer ") or header[7:] not in self.tokens:
            return graph_error(401, 190, "Error validating access token: Session has expired")
        return None

    def _wamid(self) -> str:
        n = next(self._ids)
        raw = f"standin-{n:08d}".encode()
        return "wamid." + base64.b64encode(raw).decode()

    async def _messages(self, request: web.Request) -> web.Response:
        if (denied := self._authorized(request)) is not None:
            return denied
        node = request.match_info["node"]
        if node != self.phone_number_id:
            return graph_error(400, 100, f"Object with ID '{node}' does not exist", subcode=33)
        body = await request.json()
        if self.stall_seconds:
            await asyncio.sleep(self.stall_seconds)
        if body.get("messaging_product") != "whatsapp":
            return graph_error(400, 100, "messaging_product must be whatsapp")
        if body.get("status") == "read":
            self.reads.append(str(body.get("message_id")))
            return web.json_response({"success": True})
        to, recipient = body.get("to"), body.get("recipient")
        kind = body.get("type")
        if not (to or recipient) or kind not in body:
            return graph_error(400, 100, "(#100) Invalid parameter")
        if kind in _MEDIA_KINDS and body[kind].get("id") not in self.media:
            return graph_error(400, 100, "(#100) Invalid parameter: unknown media id")
        if kind == "text" and len(body["text"].get("body", "")) > 4096:
            return graph_error(
                400, 100, "(#100) Param text['body'] must be at most 4096 characters"
            )
        if self.throughput_left is not None:
            if self.throughput_left <= 0:
                return graph_error(400, 130429, "Rate limit hit")
            self.throughput_left -= 1
        wamid = self._wamid()
        self.sent.append(Sent(node, body, wamid))
        who = to or recipient
        failure: tuple[int, str] | None = None
        if to and to in self.not_on_whatsapp:
            failure = (131026, "Message undeliverable")
        elif kind != "template" and who not in self.window_open:
            failure = (131047, "Re-engagement message")
        if failure is not None:  # accepted now, failed by webhook later: as Meta does
            self.pending_statuses.append(
                status(
                    wamid,
                    "failed",
                    recipient_id=to,
                    recipient_user_id=recipient,
                    errors=[{"code": failure[0], "title": failure[1]}],
                )
            )
        answer: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "contacts": [{"input": who, **({"wa_id": to} if to else {"user_id": recipient})}],
            "messages": [{"id": wamid, "message_status": "accepted"}],
        }
        return web.json_response(answer)

    async def _upload(self, request: web.Request) -> web.Response:
        if (denied := self._authorized(request)) is not None:
            return denied
        node = request.match_info["node"]
        if node != self.phone_number_id:
            return graph_error(400, 100, f"Object with ID '{node}' does not exist", subcode=33)
        if not request.content_type.startswith("multipart/"):
            return graph_error(400, 100, "(#100) The parameter file is required")
        fields: dict[str, str] = {}
        file: tuple[bytes, str, str] | None = None  # (data, content type, file name)
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
                continue
            if part.filename is not None:
                ctype = part.headers.get("Content-Type", "")
                file = (bytes(await part.read()), ctype, part.filename)
            else:
                fields[part.name] = await part.text()
        if fields.get("messaging_product") != "whatsapp":
            return graph_error(400, 100, "(#100) The parameter messaging_product is required")
        if file is None or not file[0]:
            return graph_error(400, 100, "(#100) The parameter file is required")
        mime = fields.get("type", "")
        if mime not in _UPLOAD_TYPES:
            return graph_error(400, 131053, "(#131053) Media upload error: unsupported type")
        media_id = str(900000000000000 + next(self._ids))
        self.media[media_id] = (file[0], mime)
        self.uploads.append((media_id, mime, file[2]))
        return web.json_response({"id": media_id})

    async def _node(self, request: web.Request) -> web.Response:
        if (denied := self._authorized(request)) is not None:
            return denied
        node = request.match_info["node"]
        if node in self.media and self.media_outages > 0:
            self.media_outages -= 1
            return graph_error(500, 2, "Service temporarily unavailable")
        if node in self.media:
            data, mime = self.media[node]
            return web.json_response(
                {
                    "messaging_product": "whatsapp",
                    "url": f"{self.base}/media-download/{node}",
                    "mime_type": mime,
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "file_size": len(data),
                    "id": node,
                }
            )
        if node == self.phone_number_id:
            return web.json_response(
                {
                    "id": node,
                    "display_phone_number": "+40 722 000 009",
                    "verified_name": "Superparty",
                    "quality_rating": "GREEN",
                    "status": "CONNECTED",
                    "code_verification_status": "VERIFIED",
                    "messaging_limit_tier": "TIER_1K",
                    "throughput": {"level": "STANDARD"},
                }
            )
        return graph_error(400, 100, f"Object with ID '{node}' does not exist", subcode=33)

    async def _download(self, request: web.Request) -> web.StreamResponse:
        if (denied := self._authorized(request)) is not None:
            return denied
        media_id = request.match_info["media_id"]
        if media_id not in self.media:
            return web.Response(status=404)
        data, mime = self.media[media_id]
        if media_id in self.corrupt_media:
            data = data[:-1] + bytes([data[-1] ^ 1])
        return web.Response(body=data, content_type=mime)

    async def _templates(self, request: web.Request) -> web.Response:
        if (denied := self._authorized(request)) is not None:
            return denied
        if request.match_info["node"] != self.waba_id:
            return graph_error(400, 100, "Object does not exist", subcode=33)
        limit = int(request.query.get("limit", "25"))
        start = int(request.query.get("after", "0"))
        page = self.templates[start : start + limit]
        answer: dict[str, Any] = {"data": page}
        if start + limit < len(self.templates):
            after = str(start + limit)
            answer["paging"] = {
                "cursors": {"before": str(start), "after": after},
                "next": f"https://graph.facebook.com/{VERSION}/{self.waba_id}/message_templates?after={after}",
            }
        return web.json_response(answer)

    # ---- webhooks, the way Meta sends them ----------------------------------------------------

    def take_statuses(self) -> list[dict[str, Any]]:
        out, self.pending_statuses = self.pending_statuses, []
        return out

    async def deliver(self, body: bytes, *, signature: str | None = "valid") -> int:
        """POST one webhook body; `signature` "valid" signs it, None sends none, other text
        is sent as it is."""
        assert self.webhook_url, "no webhook URL"
        headers = {"Content-Type": "application/json"}
        if signature == "valid":
            headers[HEADER] = sign(body, self.app_secret)
        elif signature is not None:
            headers[HEADER] = signature
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                self.webhook_url, data=body, headers=headers, ssl=self.webhook_ssl or True
            ) as resp,
        ):
            await resp.read()
            self.delivered.append((body, resp.status))
            return resp.status

    async def redeliver_last(self) -> int:
        """Meta's retry: the same bytes again."""
        body, _ = self.delivered[-1]
        return await self.deliver(body)


# ---- payload builders (Meta's shapes) ----------------------------------------------------------


def envelope(*entries: Mapping[str, Any]) -> dict[str, Any]:
    return {"object": "whatsapp_business_account", "entry": list(entries)}


def entry(*changes: Mapping[str, Any], waba_id: str = WABA_ID) -> dict[str, Any]:
    return {"id": waba_id, "changes": list(changes)}


def change(
    field_name: str = "messages",
    *,
    phone_number_id: str = PHONE_NUMBER_ID,
    display_phone: str = DISPLAY_PHONE,
    **value: Any,
) -> dict[str, Any]:
    return {
        "field": field_name,
        "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": display_phone, "phone_number_id": phone_number_id},
            **value,
        },
    }


def contact(wa_id: str | None, name: str, user_id: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"profile": {"name": name}}
    if wa_id:
        out["wa_id"] = wa_id
    if user_id:
        out["user_id"] = user_id
    return out


def text_message(
    wamid: str, body: str, ts: int, *, sender: str | None, user_id: str | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": wamid,
        "timestamp": str(ts),
        "type": "text",
        "text": {"body": body},
    }
    if sender:
        out["from"] = sender
    if user_id:
        out["from_user_id"] = user_id
    return out


def status(
    wamid: str,
    name: str,
    ts: int = 1764760100,
    *,
    recipient_id: str | None = None,
    recipient_user_id: str | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"id": wamid, "status": name, "timestamp": str(ts)}
    if recipient_id:
        out["recipient_id"] = recipient_id
    if recipient_user_id:
        out["recipient_user_id"] = recipient_user_id
    if errors:
        out["errors"] = errors
    return out


def dumps(payload: Mapping[str, Any]) -> bytes:
    """Meta's wire form: compact, non-ASCII escaped as \\uXXXX."""
    return json.dumps(payload, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def account_request(**fields: str) -> dict[str, str]:
    """A `POST /api/whatsapp/cloud-accounts` body for the stand-in's number (its ids, token and
    app secret); `fields` replace any of them."""
    return {
        "name": "Cloud",
        "phone": f"+{DISPLAY_PHONE}",
        "phoneNumberId": PHONE_NUMBER_ID,
        "wabaId": WABA_ID,
        "accessToken": TOKEN,
        "appSecret": APP_SECRET,
        "verifyToken": "verify-token-of-the-test",
        **fields,
    }
