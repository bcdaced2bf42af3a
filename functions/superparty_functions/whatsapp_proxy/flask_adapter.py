"""Flask request → `ProxyRequest`, `ProxyResponse` → a JSON Flask response."""

from __future__ import annotations

import json
from typing import Any

from .core import ProxyRequest, ProxyResponse


def to_proxy_request(request: Any) -> ProxyRequest:
    """From the Flask request the Functions runtime hands to `on_request` handlers."""
    body = request.get_data(cache=True) or b""
    query = {k: v for k, v in request.args.items()}
    headers = {k: v for k, v in request.headers.items()}
    return ProxyRequest(request.method, headers, query, body)


def to_flask_response(resp: ProxyResponse, request_id: str | None = None) -> Any:
    from flask import Response

    headers = {"Cache-Control": "no-store"}
    if request_id:
        headers["X-Request-ID"] = request_id[:128]
    return Response(
        json.dumps(resp.body, ensure_ascii=False, default=str),
        status=resp.status,
        mimetype="application/json",
        headers=headers,
    )
