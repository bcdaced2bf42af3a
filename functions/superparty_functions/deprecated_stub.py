"""The legacy `whatsapp` function: always 410 with a JSON body (CONTRACT section 2)."""

from __future__ import annotations

import json
from typing import Any

GONE_BODY = {
    "success": False,
    "error": "deprecated",
    "message": "This endpoint is deprecated; use whatsappProxy* endpoints.",
}


def gone() -> Any:
    from flask import Response

    return Response(json.dumps(GONE_BODY), status=410, mimetype="application/json")
