"""Which file URLs a send may name (`media.url` of `POST /api/whatsapp/send`).

The daemon fetches that URL itself, so an open URL would let any caller with a token make it
request internal addresses (the metadata server, 127.0.0.1, the LAN): server-side request
forgery. Allowed, and nothing else:
- the daemon's own signed links `{WHATSAPP_PUBLIC_URL}/media/{account}/{file}?sig=...` (when
  files are kept locally): read from disk, never over HTTP;
- https download URLs of the configured bucket `WHATSAPP_MEDIA_BUCKET`:
  `firebasestorage.googleapis.com/v0/b/{bucket}/...` and `storage.googleapis.com/{bucket}/...`;
- the operator's list `WHATSAPP_SEND_MEDIA_HOSTS` (comma-separated): a bare host means https on
  port 443; a full origin (`http://127.0.0.1:8080`) allows exactly that scheme, host and port.

URLs are parsed with yarl, the parser aiohttp fetches with, so the host checked is the host
contacted (`https://bucket@evil` has host `evil`). Redirects are never followed (graph.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import unquote

from yarl import URL

__all__ = ["MediaUrlRules", "OwnLink", "classify_media_url", "parse_origin", "rules_from_env"]

_FIREBASE = "firebasestorage.googleapis.com"
_GCS = "storage.googleapis.com"
_DEFAULT_PORTS = {"https": 443, "http": 80}
Origin = tuple[str, str, int]  # scheme, host, port


@dataclass(frozen=True)
class OwnLink:
    """A link of the daemon's local media store: checked against its signature when read."""

    account_id: str
    file_name: str
    sig: str | None


@dataclass(frozen=True)
class MediaUrlRules:
    bucket: str | None = None
    own_base: str | None = None  # the daemon's public URL, when it keeps files locally
    extra: frozenset[Origin] = field(default_factory=frozenset)


def parse_origin(entry: str) -> Origin | None:
    """An allow-list entry: `host` (https:443) or `scheme://host[:port]`; None when invalid."""
    text = entry.strip()
    if not text:
        return None
    url = _parse(text if "://" in text else f"https://{text}")
    if url is None or url.path not in ("", "/") or url.query_string or url.fragment:
        return None
    return _origin(url)


def rules_from_env(
    env: Mapping[str, str], *, project: str | None, own_base: str | None
) -> MediaUrlRules:
    """The rules of a running daemon: the bucket its media service uses (Firestore store), its
    own public URL (embedded store) and `WHATSAPP_SEND_MEDIA_HOSTS`; invalid entries are
    ignored (they could only widen nothing)."""
    bucket = env.get("WHATSAPP_MEDIA_BUCKET") or (
        f"{project}.firebasestorage.app" if project else None
    )
    raw = env.get("WHATSAPP_SEND_MEDIA_HOSTS") or ""
    extra = frozenset(o for o in (parse_origin(e) for e in raw.split(",")) if o is not None)
    return MediaUrlRules(bucket=bucket, own_base=own_base, extra=extra)


def classify_media_url(url: str, rules: MediaUrlRules) -> OwnLink | Literal["remote"] | None:
    """`OwnLink` (read it from the local store), "remote" (an allowed store: fetch it over
    HTTP) or None (refused)."""
    parsed = _parse(url)
    if parsed is None:
        return None
    origin = _origin(parsed)
    if origin is None:
        return None
    own = _own_link(parsed, origin, rules.own_base)
    if own is not None:
        return own
    if origin in rules.extra:
        return "remote"
    if origin[0] != "https" or origin[2] != 443 or not rules.bucket:
        return None
    if any(unquote(s) in (".", "..") for s in parsed.raw_parts):
        return None  # a path that climbs out of the bucket
    path = parsed.path
    if origin[1] == _FIREBASE and path.startswith(f"/v0/b/{rules.bucket}/"):
        return "remote"
    if origin[1] == _GCS and path.startswith(f"/{rules.bucket}/"):
        return "remote"
    return None


def _parse(text: str) -> URL | None:
    # Whitespace, control characters and backslashes are read differently by different
    # parsers (browsers turn `\` into `/`): such a URL is refused, never "fixed".
    if any(c.isspace() or ord(c) < 0x20 or c == "\\" for c in text):
        return None
    try:
        url = URL(text)
    except (ValueError, TypeError):
        return None
    if not url.is_absolute() or url.user is not None or url.password is not None:
        return None
    return url


def _origin(url: URL) -> Origin | None:
    scheme = (url.scheme or "").lower()
    host = (url.host or "").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    try:
        port = url.port
    except ValueError:
        return None
    return scheme, host, port if port is not None else _DEFAULT_PORTS[scheme]


def _own_link(url: URL, origin: Origin, own_base: str | None) -> OwnLink | None:
    if not own_base:
        return None
    base = _parse(own_base)
    if base is None or _origin(base) != origin:
        return None
    # segments, still percent-encoded: `%2F` inside a name is no separator
    base_parts = tuple(p for p in base.raw_parts[1:] if p)
    parts = url.raw_parts[1:]
    n = len(base_parts)
    if parts[:n] != base_parts or len(parts) != n + 3 or parts[n] != "media":
        return None
    if not all(parts[n + 1 :]):
        return None
    account_id, file_name = (unquote(p) for p in parts[n + 1 :])
    return OwnLink(account_id, file_name, url.query.get("sig"))
