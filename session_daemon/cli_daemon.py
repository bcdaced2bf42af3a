"""What every command that talks to a running daemon takes: `--url` and `--token` (the same
options, help and environment everywhere) and the service-token lookup with its one refusal."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from session_daemon.config import DEFAULT_TOKEN_FILE

__all__ = ["DEFAULT_DAEMON_URL", "DaemonToken", "DaemonUrl", "require_token", "service_token"]

DEFAULT_DAEMON_URL = "http://127.0.0.1:8080"
DaemonUrl = Annotated[str, typer.Option("--url", envvar="WHATSAPP_DAEMON_URL")]
DaemonToken = Annotated[
    str | None,
    typer.Option(
        "--token", help="service token [env WHATSAPP_DAEMON_TOKEN, else ./data/admin-token]"
    ),
]


def service_token(explicit: str | None) -> str | None:
    """`--token`, else WHATSAPP_DAEMON_TOKEN, else the token file the daemon wrote."""
    if explicit:
        return explicit
    if os.environ.get("WHATSAPP_DAEMON_TOKEN"):
        return os.environ["WHATSAPP_DAEMON_TOKEN"]
    path = Path(os.environ.get("WHATSAPP_DAEMON_TOKEN_FILE") or DEFAULT_TOKEN_FILE)
    return path.read_text(encoding="utf-8").strip() if path.exists() else None


def require_token(explicit: str | None) -> str:
    """The service token, or exit 2 saying how to give one."""
    bearer = service_token(explicit)
    if not bearer:
        typer.echo("no token: set WHATSAPP_DAEMON_TOKEN or pass --token", err=True)
        raise typer.Exit(2)
    return bearer
