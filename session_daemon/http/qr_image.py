"""QR payload -> PNG bytes / data URL / terminal text (segno)."""

from __future__ import annotations

import base64
import io

import segno


def qr_png(payload: str, scale: int = 6) -> bytes:
    buf = io.BytesIO()
    segno.make(payload, error="m").save(buf, kind="png", scale=scale, border=4)
    return buf.getvalue()


def qr_data_url(payload: str) -> str:
    return "data:image/png;base64," + base64.b64encode(qr_png(payload)).decode("ascii")


def qr_terminal(payload: str) -> str:
    buf = io.StringIO()
    segno.make(payload, error="m").terminal(out=buf, compact=True)
    return buf.getvalue()
