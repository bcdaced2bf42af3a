"""A thin aiohttp client of the few Graph API calls a Cloud API account needs.

Why not `pywa`: its client runs on httpx and its webhook wiring is Flask/FastAPI; the daemon is
aiohttp end to end and needs five calls, whose bodies (`outbound`) and error mapping (`errors`)
are pure and tested on their own. The base URL is `WHATSAPP_GRAPH_BASE_URL` (Meta's Graph API
with its version by default), so tests point every call at a local stand-in.

The access token is passed per call, not kept: the account's secrets are read when a send
starts, so a new token takes effect without a restart. It only ever travels in the
`Authorization` header, never in a URL or a log line.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import aiohttp

from session_daemon.cloud_api.errors import GraphFailure, MappedError, classify
from session_daemon.cloud_api.outbound import read_body

__all__ = [
    "DEFAULT_GRAPH_BASE_URL",
    "GRAPH_BASE_URL_ENV",
    "GraphClient",
    "MediaInfo",
    "SendAnswer",
    "Template",
    "graph_base_url",
]

# v24.0 (October 2025): Meta supports a version for about two years; move it on purpose.
DEFAULT_GRAPH_BASE_URL: Final = "https://graph.facebook.com/v24.0"
GRAPH_BASE_URL_ENV: Final = "WHATSAPP_GRAPH_BASE_URL"
MAX_MEDIA_BYTES: Final = 100 * 1024 * 1024  # Meta's largest (documents)
_UNAVAILABLE: Final = MappedError("graph_unavailable", True)


def graph_base_url(env: Mapping[str, str] | None = None) -> str:
    value = (env if env is not None else os.environ).get(GRAPH_BASE_URL_ENV, "").strip()
    return (value or DEFAULT_GRAPH_BASE_URL).rstrip("/")


@dataclass(frozen=True)
class SendAnswer:
    message_id: str  # the wamid to record on the message (statuses refer to it)
    wa_id: str | None  # the recipient's WhatsApp id as Meta resolved it
    message_status: str | None = None  # `accepted`, `held_for_quality_assessment`, …


@dataclass(frozen=True)
class MediaInfo:
    url: str  # short-lived (about five minutes), fetched with the same bearer token
    mime_type: str | None
    sha256_hex: str | None
    file_size: int | None


@dataclass(frozen=True)
class Template:
    name: str
    language: str
    status: str  # APPROVED, PENDING, REJECTED, PAUSED, DISABLED
    category: str | None
    components: tuple[dict[str, Any], ...]


_GRAPH_ID: Final = re.compile(r"^\d{1,32}$")


def _node(value: str) -> str:
    """Phone number, WABA and media ids are Graph node ids (digits): never let one carry a
    `/` or `..` into the URL path."""
    if not _GRAPH_ID.match(value):
        raise ValueError(f"not a Graph API id: {value!r}")
    return value


async def _json_or_none(resp: aiohttp.ClientResponse) -> object:
    """The answer's JSON whatever its content type, or None when it is not JSON."""
    try:
        payload: object = await resp.json(content_type=None)
    except ValueError:
        return None
    return payload


def _failure(status: int, payload: object) -> GraphFailure:
    error = payload.get("error") if isinstance(payload, Mapping) else None
    if not isinstance(error, Mapping):
        mapped = classify(None, http_status=status)
        return GraphFailure(mapped, f"Graph API answered {status}", http_status=status)
    code = error.get("code")
    code = code if isinstance(code, int) and not isinstance(code, bool) else None
    sub = error.get("error_subcode")
    sub = sub if isinstance(sub, int) and not isinstance(sub, bool) else None
    message = str(error.get("message") or f"Graph API answered {status}")[:500]
    mapped = classify(code, message, http_status=status, subcode=sub)
    return GraphFailure(mapped, message, meta_code=code, http_status=status)


class GraphClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str | None = None,
        *,
        timeout_seconds: float = 20.0,
    ) -> None:
        self._session = session
        self.base_url = (base_url or graph_base_url()).rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)

    async def _call(
        self,
        method: str,
        path: str,
        token: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        if not token:
            raise GraphFailure(classify(190), "no access token for this account", meta_code=190)
        url = f"{self.base_url}/{path.lstrip('/')}"
        headers = {"Authorization": f"Bearer {token}"}
        try:
            async with self._session.request(
                method, url, json=json_body, params=params, headers=headers, timeout=self._timeout
            ) as resp:
                payload = await _json_or_none(resp)
                if resp.status >= 400:
                    failure = _failure(resp.status, payload)
                    # Meta failed on its side after receiving a send: it may still go out
                    failure.ambiguous = method == "POST" and resp.status >= 500
                    raise failure
        except aiohttp.ClientConnectorError as exc:  # never connected: nothing was sent
            raise GraphFailure(
                _UNAVAILABLE, f"Graph API unreachable: {type(exc).__name__}"
            ) from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            # the request may have gone out: for a send, Meta may have the message
            raise GraphFailure(
                _UNAVAILABLE,
                f"Graph API call interrupted: {type(exc).__name__}",
                ambiguous=method == "POST",
            ) from exc
        if not isinstance(payload, dict):
            raise GraphFailure(_UNAVAILABLE, "Graph API answered something that is not JSON")
        return payload

    async def send(self, phone_number_id: str, token: str, body: Mapping[str, Any]) -> SendAnswer:
        """`POST /{phone-number-id}/messages` with a body from `outbound`."""
        answer = await self._call(
            "POST", f"{_node(phone_number_id)}/messages", token, json_body=body
        )
        messages = answer.get("messages")
        first = messages[0] if isinstance(messages, list) and messages else None
        wamid = first.get("id") if isinstance(first, Mapping) else None
        if not isinstance(wamid, str) or not wamid:
            raise GraphFailure(_UNAVAILABLE, "the send answer carries no message id")
        contacts = answer.get("contacts")
        contact = contacts[0] if isinstance(contacts, list) and contacts else None
        wa_id = contact.get("wa_id") if isinstance(contact, Mapping) else None
        status = first.get("message_status") if isinstance(first, Mapping) else None
        return SendAnswer(
            wamid,
            wa_id if isinstance(wa_id, str) else None,
            status if isinstance(status, str) else None,
        )

    async def mark_read(self, phone_number_id: str, token: str, message_id: str) -> None:
        await self._call(
            "POST", f"{_node(phone_number_id)}/messages", token, json_body=read_body(message_id)
        )

    async def media_info(self, media_id: str, token: str) -> MediaInfo:
        answer = await self._call("GET", _node(media_id), token)
        url = answer.get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise GraphFailure(_UNAVAILABLE, "the media answer carries no URL")
        size = answer.get("file_size")
        mime, sha = answer.get("mime_type"), answer.get("sha256")
        return MediaInfo(
            url=url,
            mime_type=mime if isinstance(mime, str) else None,
            sha256_hex=sha.lower() if isinstance(sha, str) else None,
            file_size=int(size) if isinstance(size, int | str) and str(size).isdigit() else None,
        )

    async def download_media(
        self, media_id: str, token: str, *, max_bytes: int = MAX_MEDIA_BYTES
    ) -> tuple[MediaInfo, bytes]:
        """`GET /{media-id}`, then its URL with the same bearer header; the bytes are checked
        against Meta's sha256 (a truncated download must not be stored as the file)."""
        info = await self.media_info(media_id, token)
        headers = {"Authorization": f"Bearer {token}"}
        try:
            async with self._session.get(info.url, headers=headers, timeout=self._timeout) as resp:
                if resp.status >= 400:
                    raise _failure(resp.status, None)
                chunks: list[bytes] = []
                size = 0
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    size += len(chunk)
                    if size > max_bytes:
                        break
                    chunks.append(chunk)
                data = b"".join(chunks)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise GraphFailure(
                _UNAVAILABLE, f"media download failed: {type(exc).__name__}"
            ) from exc
        if size > max_bytes:
            raise GraphFailure(MappedError("media_error", False), "the media file is too large")
        if info.sha256_hex and hashlib.sha256(data).hexdigest() != info.sha256_hex:
            raise GraphFailure(_UNAVAILABLE, "the media file does not match its sha256")
        return info, data

    async def upload_media(
        self, phone_number_id: str, token: str, data: bytes, mime_type: str, file_name: str
    ) -> str:
        """`POST /{phone-number-id}/media` (multipart: `messaging_product`, `type`, `file`);
        returns the media id a send refers to. Not a send: a lost answer is simply retried."""
        if not token:
            raise GraphFailure(classify(190), "no access token for this account", meta_code=190)
        form = aiohttp.FormData(quote_fields=False)  # the file name as browsers send it
        form.add_field("messaging_product", "whatsapp")
        form.add_field("type", mime_type)
        form.add_field("file", data, filename=file_name, content_type=mime_type)
        url = f"{self.base_url}/{_node(phone_number_id)}/media"
        headers = {"Authorization": f"Bearer {token}"}
        try:
            async with self._session.post(
                url, data=form, headers=headers, timeout=self._timeout
            ) as resp:
                payload = await _json_or_none(resp)
                if resp.status >= 400:
                    raise _failure(resp.status, payload)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise GraphFailure(_UNAVAILABLE, f"media upload failed: {type(exc).__name__}") from exc
        media_id = payload.get("id") if isinstance(payload, dict) else None
        if not isinstance(media_id, str) or not media_id:
            raise GraphFailure(_UNAVAILABLE, "the upload answer carries no media id")
        return media_id

    async def fetch_file(self, url: str, *, max_bytes: int = MAX_MEDIA_BYTES) -> bytes:
        """The file an outbox item names (a Storage download URL: no header), capped at
        Meta's largest size. Not a Graph call, so no token goes with it. A redirect is not
        followed: the URL was checked (media_url.py), the place it points to was not."""
        try:
            async with self._session.get(url, timeout=self._timeout, allow_redirects=False) as resp:
                if 300 <= resp.status < 400:
                    raise GraphFailure(
                        MappedError("media_error", False),
                        f"the file to send answered a redirect (HTTP {resp.status})",
                    )
                if resp.status >= 400:
                    raise GraphFailure(
                        MappedError("media_error", resp.status >= 500 or resp.status == 429),
                        f"the file to send answered HTTP {resp.status}",
                    )
                chunks: list[bytes] = []
                size = 0
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    size += len(chunk)
                    if size > max_bytes:
                        raise GraphFailure(
                            MappedError("media_error", False), "the file to send is too large"
                        )
                    chunks.append(chunk)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise GraphFailure(
                _UNAVAILABLE, f"the file to send could not be fetched: {type(exc).__name__}"
            ) from exc
        if not chunks:
            raise GraphFailure(MappedError("media_error", False), "the file to send is empty")
        return b"".join(chunks)

    async def list_templates(self, waba_id: str, token: str, *, limit: int = 100) -> list[Template]:
        """Every message template of the business account, following Meta's cursors."""
        out: list[Template] = []
        params: dict[str, str] = {"limit": str(limit)}
        for _ in range(50):  # a bound on pages, far above any real account
            answer = await self._call(
                "GET", f"{_node(waba_id)}/message_templates", token, params=params
            )
            for raw in answer.get("data") or []:
                if isinstance(raw, Mapping) and isinstance(raw.get("name"), str):
                    comps = raw.get("components")
                    out.append(
                        Template(
                            name=raw["name"],
                            language=str(raw.get("language") or ""),
                            status=str(raw.get("status") or ""),
                            category=raw.get("category")
                            if isinstance(raw.get("category"), str)
                            else None,
                            components=tuple(dict(c) for c in comps if isinstance(c, Mapping))
                            if isinstance(comps, list)
                            else (),
                        )
                    )
            paging = answer.get("paging")
            cursors = paging.get("cursors") if isinstance(paging, Mapping) else None
            after = cursors.get("after") if isinstance(cursors, Mapping) else None
            # follow the cursor on our base URL, not `paging.next` (an absolute Meta URL)
            if not (isinstance(paging, Mapping) and paging.get("next") and isinstance(after, str)):
                break
            params = {"limit": str(limit), "after": after}
        return out

    async def phone_number_info(self, phone_number_id: str, token: str) -> dict[str, Any]:
        """The number as Meta sees it: name, quality rating, messaging limit, status. Also
        proves the token works for this number (the account status uses it)."""
        fields = (
            "display_phone_number,verified_name,quality_rating,status,"
            "code_verification_status,messaging_limit_tier,throughput"
        )
        return await self._call("GET", _node(phone_number_id), token, params={"fields": fields})


def sha256_b64_to_hex(value: str) -> str | None:
    """Webhooks carry the media's sha256 in base64; `GET /{media-id}` answers hex."""
    try:
        return base64.b64decode(value, validate=True).hex()
    except ValueError:
        return None
