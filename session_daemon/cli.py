"""`superparty-daemon`: the session daemon (`serve`) and the operator's commands: an account's
QR in the terminal, super-admins, the session import, adding a Cloud API number through the
running daemon, backup and restore, and what sits in the journal, what is parked, what is stuck
in the outbox, what a document holds, who owns which account. The reference (generated from
`--help`) is in README.md."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Annotated

import typer

from session_daemon import admin_cli, cli_ops
from session_daemon.cli_daemon import DEFAULT_DAEMON_URL, DaemonToken, DaemonUrl, require_token
from session_daemon.cloud_api.cli_command import make_add_cloud_account
from session_daemon.config import ConfigError, settings_from_env
from session_daemon.logs import configure_logging
from session_daemon.session_import.command import import_sessions

cli = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


@cli.command()
def serve(
    store: Annotated[
        str | None, typer.Option(help="sqlite:///path or firestore://PROJECT [env STORE_URL]")
    ] = None,
    transport: Annotated[
        str | None, typer.Option(help="neonize | simulated [env WHATSAPP_TRANSPORT]")
    ] = None,
    host: Annotated[str | None, typer.Option(help="bind address [env HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="port [env PORT]")] = None,
    sessions_path: Annotated[
        str | None,
        typer.Option(
            help="session databases folder, or postgres://user:pw@host:port/prefix (one "
            "database per account) [env SESSIONS_PATH]"
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(envvar="LOG_LEVEL")] = "INFO",
    log_format: Annotated[
        str, typer.Option(envvar="LOG_FORMAT", help="text | json (one JSON object per line)")
    ] = "text",
) -> None:
    """Run the session daemon until SIGINT/SIGTERM."""
    from session_daemon.app import run

    try:
        settings = settings_from_env(
            store_url=store,
            transport=transport,
            host=host,
            port=port,
            sessions_path=sessions_path,
        )
    except ConfigError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from None
    if settings.transport == "neonize":
        os.environ.setdefault("NEONIZE_BOT_TAG", "off")
        try:
            if settings.session_hosts == "process":
                # Sessions run in hosts: check what neonize needs (libmagic, the package)
                # without loading its Go library into the daemon (~25 MB and Go's threads).
                importlib.import_module("magic")
                if importlib.util.find_spec("neonize") is None:
                    raise ImportError("the neonize package is not installed")
            else:
                importlib.import_module("neonize")
        except Exception as exc:  # missing libmagic and similar
            typer.echo(f"cannot load neonize: {exc}", err=True)
            raise typer.Exit(2) from None
    if log_format.lower() not in ("text", "json"):
        typer.echo(
            f"configuration error: LOG_FORMAT must be text or json, not {log_format!r}", err=True
        )
        raise typer.Exit(2)
    configure_logging(log_level, log_format)
    try:
        asyncio.run(run(settings))
    except ConfigError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from None
    except OSError as exc:  # the port is taken, the store folder is read-only, ...
        typer.echo(f"cannot start: {exc}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        pass


@cli.command()
def qr(
    account: Annotated[str, typer.Argument(help="account id")],
    url: DaemonUrl = DEFAULT_DAEMON_URL,
    token: DaemonToken = None,
) -> None:
    """Print the account's current QR code in the terminal."""
    from session_daemon.http.qr_image import qr_terminal

    bearer = require_token(token)
    target = f"{url.rstrip('/')}/api/whatsapp/qr/{urllib.parse.quote(account, safe='')}"
    request = urllib.request.Request(target, headers={"Authorization": f"Bearer {bearer}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("message", exc.reason)
        except ValueError:
            message = exc.reason
        typer.echo(f"daemon answered {exc.code}: {message}", err=True)
        raise typer.Exit(1) from None
    except (urllib.error.URLError, OSError) as exc:
        typer.echo(f"cannot reach the daemon at {url}: {exc}", err=True)
        raise typer.Exit(1) from None
    code = body.get("qr")
    if not code:
        typer.echo(
            f"no QR right now (status {body.get('status')}); run regenerate-qr first", err=True
        )
        raise typer.Exit(1)
    sys.stdout.write(qr_terminal(code))
    if body.get("pairingCode"):
        typer.echo(f"pairing code: {body['pairingCode']}")


# Admin set-up lives in its own module (one line here keeps this file's commands apart).
cli.command("set-admin")(admin_cli.set_admin)
cli.command("import-sessions")(import_sessions)
cli.command("add-cloud-account")(make_add_cloud_account())
cli_ops.register(cli)  # backup, restore, journal, parked, outbox, doc, owners


def main() -> None:
    cli()
