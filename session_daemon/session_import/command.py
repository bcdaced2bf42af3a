"""`superparty-daemon import-sessions`: the typer command (registered in session_daemon/cli.py).

Exit codes: 0 every account fine (imported, unchanged, kept, or would be in a dry run); 3 some
accounts failed or were refused and others are fine; 4 every account failed or was refused;
2 nothing was looked at (bad options, configuration error, no accounts found).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer

from session_daemon.config import ConfigError, settings_from_env
from session_daemon.session_import.runner import (
    EXIT_USAGE,
    AccountReport,
    ImportOptions,
    ImportRun,
    exit_code,
)
from session_daemon.session_import.sources import SourceUnavailable
from session_daemon.transport.port import SessionImporter


def import_sessions(
    from_dir: Annotated[
        Path | None,
        typer.Option(help="the old backend's SESSIONS_PATH: one Baileys folder per account id"),
    ] = None,
    from_store: Annotated[
        bool, typer.Option(help="read wa_sessions/* of the store instead (may be stale)")
    ] = False,
    account: Annotated[str | None, typer.Option(help="import this account only")] = None,
    dry_run: Annotated[bool, typer.Option(help="check and report; write nothing")] = False,
    force: Annotated[
        bool, typer.Option(help="replace a session database that holds another device")
    ] = False,
    old_backend_stopped: Annotated[
        bool, typer.Option(help="the old backend is stopped (SIGTERM): skip the serving checks")
    ] = False,
    old_backend_url: Annotated[
        str | None,
        typer.Option(envvar="OLD_BACKEND_URL", help="refuse while {URL}/health answers"),
    ] = None,
    store: Annotated[str | None, typer.Option(help="store URL [env STORE_URL]")] = None,
    transport: Annotated[
        str | None, typer.Option(help="neonize | simulated [env WHATSAPP_TRANSPORT]")
    ] = None,
    sessions_path: Annotated[
        Path | None, typer.Option(help="session databases folder [env SESSIONS_PATH]")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Carry the old backend's linked sessions (Baileys auth state) over: see
    docs/session-import.md. Stop the old backend first."""
    if (from_dir is None) == (not from_store):
        typer.echo("give exactly one of --from-dir DIR or --from-store", err=True)
        raise typer.Exit(EXIT_USAGE)
    try:
        settings = settings_from_env(
            store_url=store, transport=transport, sessions_path=sessions_path
        )
    except ConfigError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    if settings.sessions_url:
        from session_daemon.transport.port import IMPORT_NEEDS_FOLDER

        typer.echo(f"configuration error: {IMPORT_NEEDS_FOLDER}", err=True)
        raise typer.Exit(EXIT_USAGE)
    options = ImportOptions(
        from_dir=from_dir,
        from_store=from_store,
        account=account,
        dry_run=dry_run,
        force=force,
        old_backend_stopped=old_backend_stopped,
        old_backend_url=old_backend_url,
    )
    from session_daemon.app import open_store

    try:
        importer = _importer(settings.transport)
    except Exception as exc:  # neonize missing its Go library, libmagic, ...
        typer.echo(f"cannot load the {settings.transport} transport: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    try:
        doc_store = open_store(settings.store_url)
    except Exception as exc:  # a bad URL, no credentials, an unreachable project
        typer.echo(f"cannot open the store {settings.store_url}: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    try:
        run = ImportRun(doc_store, importer, settings.session_db, options)
        reports = asyncio.run(run.run())
    except SourceUnavailable as exc:
        typer.echo(f"cannot read the sessions: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    finally:
        doc_store.close()
    _print(reports, as_json=as_json, dry_run=dry_run, old_backend_url=old_backend_url)
    raise typer.Exit(exit_code(reports))


def _importer(kind: str) -> SessionImporter:
    """The configured transport, as the port's import path (no session is ever started)."""
    if kind == "simulated":
        from session_daemon.transport.simulated import SimulatedTransport

        return SimulatedTransport()
    from session_daemon.transport.neonize_transport import NeonizeTransport

    return NeonizeTransport()


def _print(
    reports: list[AccountReport], *, as_json: bool, dry_run: bool, old_backend_url: str | None
) -> None:
    if as_json:
        typer.echo(json.dumps({"accounts": [r.as_json() for r in reports]}, indent=2))
        return
    if not reports:
        typer.echo("no accounts found", err=True)
    for r in reports:
        head = f"{r.account_id}: {r.outcome}"
        if r.device_jid:
            head += f" ({r.device_jid})"
        if r.reason:
            head += f": {r.wrong_field + ': ' if r.wrong_field else ''}{r.reason}"
        typer.echo(head)
        if r.counts:
            typer.echo("  imported: " + ", ".join(f"{k} {v}" for k, v in r.counts.items()))
        if r.skipped:
            typer.echo("  skipped:  " + ", ".join(f"{k} {v}" for k, v in sorted(r.skipped.items())))
        for warning in r.warnings:
            typer.echo(f"  warning:  {warning}")
    if not old_backend_url:
        typer.echo("note: no --old-backend-url given: the old backend's /health was not checked")
    if dry_run:
        typer.echo("dry run: nothing was written")
