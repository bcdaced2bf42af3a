"""`GET /media/{accountId}/{file}?sig=...`: the local media store's files, for the app.

With `/health` and `/ready`, the only routes without a bearer token: the app's
`Image.network` and players send no header, so the link's signature is the credential
(`local.LocalMediaStore`). The signature is checked before anything else, so a bad link
learns nothing about which files exist.

What comes back is what a client sent us, so it is served defensively: a type the app plays
inline (images, audio, video, PDF) keeps its type; anything else (an HTML "document", an SVG
with scripts) goes out as `application/octet-stream` to download, never rendered on our origin;
`nosniff` and a sandboxing CSP on every file.
"""

from __future__ import annotations

import mimetypes
from typing import Final

from aiohttp import web

from session_daemon.http.errors import ApiError
from session_daemon.http.routing import QueryParam, RouteSpec
from session_daemon.media.local import MEDIA_ROUTE_PREFIX, LocalMediaStore
from session_daemon.media.port import InvalidObjectName, split_object_name

__all__ = ["media_routes", "served_content_type"]

_INLINE_PREFIXES: Final = ("image/", "audio/", "video/")
_INLINE_EXACT: Final = frozenset({"application/pdf"})
_NOT_INLINE: Final = frozenset({"image/svg+xml"})  # SVG can carry scripts
_HEADERS: Final = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, max-age=86400",
}


def served_content_type(file_name: str) -> tuple[str, bool]:
    """`(content type, inline)` to serve a stored file under."""
    guessed, _ = mimetypes.guess_type(file_name)
    kind = (guessed or "").lower()
    if (
        kind
        and kind not in _NOT_INLINE
        and (kind.startswith(_INLINE_PREFIXES) or kind in _INLINE_EXACT)
    ):
        return kind, True
    return "application/octet-stream", False


def media_routes(store: LocalMediaStore) -> list[RouteSpec]:
    async def media_file(request: web.Request) -> web.StreamResponse:
        account_id = request.match_info["accountId"]
        file_name = request.match_info["file"]
        try:
            split_object_name(f"{account_id}/{file_name}")
        except InvalidObjectName:
            raise ApiError(403, "invalid_signature", "This media link is not valid.") from None
        if not store.signature_is_valid(account_id, file_name, request.query.get("sig")):
            raise ApiError(403, "invalid_signature", "This media link is not valid.")
        path = store.resolve(account_id, file_name, request.query.get("sig"))
        if path is None:
            raise ApiError(404, "media_not_found", "This media file is not available.")
        content_type, inline = served_content_type(file_name)
        headers = dict(_HEADERS)
        headers["Content-Type"] = content_type
        disposition = "inline" if inline else "attachment"
        headers["Content-Disposition"] = f'{disposition}; filename="{file_name}"'
        return web.FileResponse(path, headers=headers)

    return [
        RouteSpec(
            "GET",
            MEDIA_ROUTE_PREFIX + "/{accountId}/{file}",
            media_file,
            "public",
            "A stored media file; the signed link is the credential (no bearer token)",
            tag="media",
            query=(QueryParam("sig", {"type": "string"}, "the link's signature", required=True),),
            responses={
                200: "The file",
                403: "invalid_signature",
                404: "media_not_found",
            },
            content_type="application/octet-stream",
        )
    ]
