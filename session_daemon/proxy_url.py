"""Proxy URLs for WhatsApp connections (pure): what `WHATSAPP_PROXY` and the per-account override
(`session_daemon/sessions/proxy.py`) accept, and how a URL is shown without its password."""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit

PROXY_SCHEMES: Final = ("http", "socks5")


class BadProxy(ValueError):
    """A proxy URL whatsmeow cannot use; the message says why (never echoes a password)."""


def parse_proxy_url(raw: str) -> str:
    """The proxy URL, checked: `http://` or `socks5://`, a host and a port, nothing else."""
    text = raw.strip()
    if not text:
        raise BadProxy("the proxy URL is empty")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise BadProxy(f"not a URL with a valid port ({exc})") from None
    if parts.scheme.lower() not in PROXY_SCHEMES:
        raise BadProxy(f"the scheme must be http:// or socks5://, got {parts.scheme or 'none'!r}")
    if not parts.hostname:
        raise BadProxy("the proxy URL has no host")
    if port is None:
        raise BadProxy("the proxy URL needs a port (http://host:3128, socks5://host:1080)")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise BadProxy("a proxy URL has no path, query or fragment")
    if any(c.isspace() for c in text):
        raise BadProxy("the proxy URL contains spaces")
    return text


def redact_proxy(url: str | None) -> str | None:
    """`socks5://host:1080` without its user and password, for logs and API answers."""
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port}"
