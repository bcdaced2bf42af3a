"""The operator's commands of `superparty-daemon` (backup, restore, journal, parked, outbox,
doc, owners): thin typer wrappers, one small function each; the work is in `session_daemon.ops`.

They read the same settings as `serve` (flags, else STORE_URL, SESSIONS_PATH, WHATSAPP_DATA_PATH,
INBOUND_JOURNAL_PATH…), and work on the files and the store directly: no running daemon needed,
and safe beside one. Errors are one line on stderr and exit code 1 (2 for bad configuration).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from session_daemon.config import ConfigError, settings_from_env
from session_daemon.ops.files import BackupError
from session_daemon.ops.layout import Layout, sqlite_file
from shared.store.port import DocumentStore, StoreError

StoreOpt = Annotated[
    str | None,
    typer.Option("--store", help="sqlite:///path or firestore://PROJECT [env STORE_URL]"),
]
# text, not Path: Path() would fold the '//' of a postgres:// URL
SessionsOpt = Annotated[
    str | None,
    typer.Option(
        help="session databases folder, or postgres://user:pw@host:port/prefix [env SESSIONS_PATH]"
    ),
]
DataOpt = Annotated[
    Path | None,
    typer.Option(help="the daemon's own files (journal, instance id) [env WHATSAPP_DATA_PATH]"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="one JSON object per line")]


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _layout(store: str | None, sessions: str | None, data: Path | None = None) -> Layout:
    try:
        settings = settings_from_env(store_url=store, sessions_path=sessions, data_path=data)
    except ConfigError as exc:
        _fail(f"configuration: {exc}", 2)
    return Layout.of(settings)


def _open(url: str) -> DocumentStore:
    from shared.store.factory import open_store

    path = sqlite_file(url)
    if path is not None and not path.is_file():
        _fail(f"no embedded store at {path} (check --store / STORE_URL)")
    try:
        return open_store(url)
    except (StoreError, ValueError) as exc:
        _fail(str(exc), 2)


@contextmanager
def _store(store: str | None) -> Iterator[DocumentStore]:
    db = _open(_layout(store, None).store_url)
    try:
        yield db
    except StoreError as exc:
        _fail(f"store: {exc}")
    finally:
        db.close()


def _print_rows(rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row, default=str, ensure_ascii=False))
        return
    if not rows:
        typer.echo("(none)")
        return
    keys = list(dict.fromkeys(k for row in rows for k in row))
    cells = [[str(row.get(k, "")) for k in keys] for row in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    typer.echo("  ".join(k.ljust(w) for k, w in zip(keys, widths, strict=True)).rstrip())
    for c in cells:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)).rstrip())


def backup(
    dest: Annotated[Path, typer.Argument(help="a new folder for the backup")],
    store: StoreOpt = None,
    sessions_path: SessionsOpt = None,
    data_path: DataOpt = None,
) -> None:
    """Back up the embedded store, the inbound journal and the session databases (consistent
    while the daemon runs) into DEST, with a manifest of SHA-256 hashes."""
    from session_daemon.ops.backup import create_backup

    try:
        manifest = create_backup(_layout(store, sessions_path, data_path), dest)
    except BackupError as exc:
        _fail(str(exc))
    typer.echo(f"backed up {len(manifest['files'])} files to {dest}")
    if manifest["sessionsInPostgres"]:
        typer.echo(
            "note: the session databases are in PostgreSQL (SESSIONS_PATH=postgres://…) and "
            "are not in this backup: back them up with pg_dump",
            err=True,
        )


def restore(
    src: Annotated[Path, typer.Argument(help="a folder written by `backup`")],
    store: StoreOpt = None,
    sessions_path: SessionsOpt = None,
    data_path: DataOpt = None,
    replace: Annotated[
        bool, typer.Option(help="move existing data aside (*.pre-restore-TIME) instead of refusing")
    ] = False,
) -> None:
    """Restore a backup; refuses while a daemon or a live lease uses the data, and refuses a
    damaged backup before writing anything."""
    from session_daemon.ops.restore import restore_backup

    layout = _layout(store, sessions_path, data_path)

    def current_store() -> DocumentStore | None:
        if layout.store_file is not None and not layout.store_file.is_file():
            return None
        return _open(layout.store_url)

    try:
        result = restore_backup(src, layout, replace=replace, open_store=current_store)
    except BackupError as exc:
        _fail(str(exc))
    except StoreError as exc:
        _fail(f"cannot check the store for live daemons: {exc}")
    typer.echo(f"restored {result['restored']} files from {src}")
    for path in result["movedAside"]:
        typer.echo(f"moved aside: {path}")


def journal(
    data_path: DataOpt = None,
    sessions_path: SessionsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the inbound journal: messages and receipts received but not yet in the store
    (ids, kinds and times; never the text)."""
    from session_daemon.ops.inspect import journal_entries

    layout = _layout(None, sessions_path, data_path)
    try:
        _print_rows(journal_entries(layout.journal), as_json)
    except BackupError as exc:
        _fail(str(exc))


def parked(
    data_path: DataOpt = None,
    sessions_path: SessionsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List parked messages: from a LID chat whose phone number is not known yet."""
    from session_daemon.ops.inspect import journal_entries

    layout = _layout(None, sessions_path, data_path)
    try:
        rows = [row for row in journal_entries(layout.journal) if row.get("parked")]
    except BackupError as exc:
        _fail(str(exc))
    _print_rows(rows, as_json)


outbox = typer.Typer(no_args_is_help=True, help="Outbox items that are not moving.")


@outbox.command("stuck")
def outbox_stuck(
    store: StoreOpt = None,
    older_than: Annotated[
        float, typer.Option(help="minutes a queued item is past due before it counts")
    ] = 5.0,
    as_json: JsonOpt = False,
) -> None:
    """List stuck items: queued long past due, processing with an expired claim, failed."""
    from session_daemon.ops.inspect import default_now, stuck_outbox

    with _store(store) as db:
        rows = stuck_outbox(db, now=default_now(), older_than=timedelta(minutes=older_than))
    _print_rows(rows, as_json)


@outbox.command("retry")
def outbox_retry(
    request_id: Annotated[str, typer.Argument(help="the item's requestId")],
    store: StoreOpt = None,
) -> None:
    """Send a failed (or backing-off) item again now; never one that may have reached WhatsApp."""
    from session_daemon.ops.inspect import default_now
    from session_daemon.outbox.manual import RetryRefused, retry_item

    with _store(store) as db:
        try:
            previous = retry_item(db, request_id, now=default_now())
        except RetryRefused as exc:
            _fail(str(exc))
        except ValueError as exc:  # a malformed id
            _fail(str(exc), 2)
    typer.echo(f"{request_id}: {previous} -> queued (due now)")


def doc(
    kind_or_path: Annotated[
        str,
        typer.Argument(
            help="a kind (thread, message, outbox, account, "
            "client, event, lease, instance, config, "
            "counter, extraction, account-secrets) "
            "or a document path"
        ),
    ],
    ids: Annotated[list[str] | None, typer.Argument(help="the kind's ids")] = None,
    store: StoreOpt = None,
    show_secrets: Annotated[bool, typer.Option(help="print accountSecrets values")] = False,
) -> None:
    """Print what a document holds, as JSON (path built by shared/paths.py)."""
    from session_daemon.ops.docs import doc_path, shown

    try:
        path = doc_path(kind_or_path, list(ids or []))
    except ValueError as exc:
        _fail(str(exc), 2)
    with _store(store) as db:
        snap = db.get(path)
    if snap is None:
        _fail(f"no document at {path}")
    body = shown(path, snap.data, secrets=show_secrets)
    sys.stdout.write(json.dumps({"path": path, "data": body}, indent=2, default=str) + "\n")


def owners(store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Who owns which account: each lease's holder daemon, state and expiry."""
    from session_daemon.ops.inspect import default_now
    from session_daemon.ops.inspect import owners as lease_rows

    with _store(store) as db:
        rows = lease_rows(db, now=default_now())
    _print_rows(rows, as_json)


def register(cli: typer.Typer) -> None:
    """Add these commands to `superparty-daemon` (one call in cli.py)."""
    for fn in (backup, restore, journal, parked, doc, owners):
        cli.command(fn.__name__)(fn)
    cli.add_typer(outbox, name="outbox")
