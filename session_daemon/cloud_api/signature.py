"""`X-Hub-Signature-256`: Meta signs every webhook delivery with the app secret.

The HMAC is computed over the bytes received, never over re-serialised JSON: Meta escapes
non-ASCII characters (`\\u0103`) and a `json.dumps` of the parsed body would not reproduce them, so
the comparison would fail for every Romanian message with a diacritic.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

__all__ = ["HEADER", "sign", "verify_signature"]

HEADER: Final = "X-Hub-Signature-256"
_PREFIX: Final = "sha256="


def sign(body: bytes, app_secret: str) -> str:
    """The header value Meta would send for `body`: `sha256=<hex>`."""
    digest = hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return _PREFIX + digest


def verify_signature(body: bytes, header: str | None, app_secret: str) -> bool:
    """True when `header` is a valid signature of `body` with `app_secret`.

    Constant-time over the digest (`hmac.compare_digest`), so a forger learns nothing from the
    answer's timing. A missing header, another algorithm or an empty secret never verifies.
    """
    if not header or not app_secret:
        return False
    value = header.strip()
    if not value.lower().startswith(_PREFIX):
        return False
    given = value[len(_PREFIX) :].strip().lower()
    expected = sign(body, app_secret)[len(_PREFIX) :]
    # compare_digest on ASCII bytes: a non-ASCII header must not raise, only fail
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("ascii"))
