"""One session per device: refuse to import an account the old backend may still be serving.

Two linked sessions of one device replace each other in a loop (and the keys they both ratchet
diverge), so an import must follow the old backend's stop, never precede it. Without
`--old-backend-stopped` an account is refused when:

- its account document says the old backend is at work on it (a serving status) and was
  updated recently, or
- the old backend's `/health` answers at all (200, or 503 when its volume is not writable:
  either way the process is up).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from datetime import datetime, timedelta
from typing import Any, Final

SERVING_STATUSES: Final = frozenset({"connected", "connecting", "qr_ready", "disconnected"})
RECENT: Final = timedelta(minutes=15)
HEALTH_TIMEOUT_SECONDS: Final = 3.0


def health_answers(base_url: str, *, timeout: float = HEALTH_TIMEOUT_SECONDS) -> str | None:
    """A description of the answer when `{base_url}/health` answers, None when nothing does."""
    url = base_url.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return f"{url} answered {response.status}"
    except urllib.error.HTTPError as exc:  # an error status is still an answer
        return f"{url} answered {exc.code}"
    except (urllib.error.URLError, OSError, ValueError):
        return None


def document_says_serving(account: dict[str, Any] | None, now: datetime) -> str | None:
    """Why the account document suggests the old backend still serves the account, or None."""
    if not account:
        return None
    status = account.get("status")
    updated = account.get("updatedAt")
    if status not in SERVING_STATUSES or not isinstance(updated, datetime):
        return None
    age = now - updated
    if age > RECENT:
        return None
    minutes = max(0, int(age.total_seconds() // 60))
    return f"the account document says {status!r}, updated {minutes} min ago"
