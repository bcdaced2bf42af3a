"""`import-sessions`: one pass over the accounts, one report line each, an exit code for all.

Per account, in this order (nothing is written before every check has passed):
1. read its Baileys files (folder or `wa_sessions` document);
2. decode and validate them (`baileys.decode_auth_state`): a wrong field fails with its name;
3. check `me.id` against the account document's phone number;
4. ask the transport what importing would do (`import_session(dry_run=True)`): identical data is
   `unchanged`, the same device used since is `kept`, another device fails without `--force`;
5. only when something will be written: refuse if the old backend may still serve the account;
6. write the session (atomically, through the transport port), then mark the account document
   `paired` with its `waJid` and a restorable status, so the daemon restores it at start
   instead of asking for a QR. Ids are kept (`account_prod_…`: every thread uses them).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

from session_daemon.session_import.baileys import decode_auth_state
from session_daemon.session_import.guard import document_says_serving, health_answers
from session_daemon.session_import.model import ImportAction, ImportedSession, SessionConflict
from session_daemon.session_import.sources import (
    SourceFiles,
    SourceUnavailable,
    accounts_in_dir,
    accounts_in_store,
    read_dir,
    read_store,
)
from session_daemon.session_import.values import SourceError
from session_daemon.sessions.accounts import new_account_doc
from session_daemon.transport.port import SessionImporter, TransportError
from shared.paths import InvalidId, account_path
from shared.phones import to_e164_lenient
from shared.store.port import DocumentStore
from shared.store.sentinels import SERVER_TIMESTAMP

EXIT_OK: Final = 0
EXIT_USAGE: Final = 2  # nothing to do or a configuration error (no account was looked at)
EXIT_PARTIAL: Final = 3  # some accounts failed, others are fine
EXIT_ALL_FAILED: Final = 4

Outcome = Literal[
    "imported", "replaced", "unchanged", "kept", "would-import", "would-replace",
    "failed", "refused",
]  # fmt: skip
_DONE: Final[dict[ImportAction, Outcome]] = {
    "import": "imported",
    "replace": "replaced",
    "unchanged": "unchanged",
    "keep": "kept",
}
_DRY: Final[dict[ImportAction, Outcome]] = {
    "import": "would-import",
    "replace": "would-replace",
    "unchanged": "unchanged",
    "keep": "kept",
}

_REASONS: Final[dict[ImportAction, str]] = {
    "unchanged": "the session database already holds exactly this device and keys",
    "keep": "the session database holds this device with other data (the daemon has used it "
    "since, or the source changed): left as is; --force replaces it",
}


@dataclass
class ImportOptions:
    from_dir: Path | None = None
    from_store: bool = False
    account: str | None = None
    dry_run: bool = False
    force: bool = False
    old_backend_stopped: bool = False
    old_backend_url: str | None = None


@dataclass
class AccountReport:
    account_id: str
    outcome: Outcome
    reason: str = ""
    wrong_field: str | None = None  # for a source that failed validation
    source: str = ""
    device_jid: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.outcome not in ("failed", "refused")

    def as_json(self) -> dict[str, Any]:
        return {
            "accountId": self.account_id,
            "outcome": self.outcome,
            "reason": self.reason or None,
            "field": self.wrong_field,
            "source": self.source,
            "deviceJid": self.device_jid,
            "imported": self.counts,
            "skipped": self.skipped,
            "warnings": self.warnings,
        }


def exit_code(reports: list[AccountReport]) -> int:
    if not reports:
        return EXIT_USAGE
    failed = sum(1 for r in reports if not r.ok)
    if failed == 0:
        return EXIT_OK
    return EXIT_ALL_FAILED if failed == len(reports) else EXIT_PARTIAL


class ImportRun:
    def __init__(
        self,
        store: DocumentStore,
        transport: SessionImporter,
        session_db: Callable[[str], Path],
        options: ImportOptions,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.transport = transport
        self.session_db = session_db
        self.options = options
        self._clock = clock
        self._health: str | None = None

    def account_ids(self) -> list[str]:
        if self.options.account:
            return [self.options.account]
        if self.options.from_dir is not None:
            return accounts_in_dir(self.options.from_dir)
        return accounts_in_store(self.store)

    async def run(self) -> list[AccountReport]:
        opts = self.options
        if opts.old_backend_url and not opts.old_backend_stopped:
            self._health = await asyncio.to_thread(health_answers, opts.old_backend_url)
        ids = await asyncio.to_thread(self.account_ids)
        return [await self.one(account_id) for account_id in ids]

    async def one(self, account_id: str) -> AccountReport:
        report = AccountReport(account_id, "failed")
        try:
            await self._import(account_id, report)
        except SourceError as exc:
            report.outcome, report.wrong_field, report.reason = "failed", exc.field, exc.reason
        except (SourceUnavailable, SessionConflict, TransportError, InvalidId) as exc:
            report.outcome, report.reason = "failed", str(exc)
        except _Refused as exc:
            report.outcome, report.reason = "refused", str(exc)
        except (RuntimeError, OSError, sqlite3.Error) as exc:  # writing failed; nothing in place
            report.outcome, report.reason = "failed", f"writing the session failed: {exc}"
        return report

    async def _import(self, account_id: str, report: AccountReport) -> None:
        opts = self.options
        account = await asyncio.to_thread(self._account_doc, account_id)
        source = await asyncio.to_thread(self._read, account_id, account)
        report.source = source.origin
        report.warnings.extend(source.warnings)
        session = decode_auth_state(account_id, source.files)
        report.device_jid = session.device.jid
        report.counts = session.counts()
        report.skipped = dict(session.skipped)
        report.warnings.extend(session.warnings)
        _check_phone(session, account_id, account)
        if account and account.get("status") == "deleted":
            raise SourceUnavailable("the account was deleted in this backend; not importing it")
        if account and account.get("status") in ("logged_out", "needs_qr"):
            report.warnings.append(
                f"the account document says {account.get('status')!r}: the phone may have "
                "unlinked this device; the daemon will find out when it connects"
            )
        db = self.session_db(account_id)
        action = await self.transport.import_session(
            account_id, db, session, force=opts.force, dry_run=True
        )
        if action in ("import", "replace") and not opts.old_backend_stopped:
            self._refuse_if_serving(account)
        if opts.dry_run:
            report.outcome = _DRY[action]
            report.reason = _REASONS.get(action, "")
            return
        if action in ("import", "replace"):
            action = await self.transport.import_session(
                account_id, db, session, force=opts.force, dry_run=False
            )
        report.outcome = _DONE[action]
        report.reason = _REASONS.get(action, "")
        try:
            await asyncio.to_thread(self._mark_account, account_id, account, session, source)
        except Exception as exc:  # the session is in place; a re-run finishes the document
            report.outcome = "failed"
            report.reason = (
                f"session written, but the account document could not be updated ({exc}); "
                "run the import again"
            )

    def _account_doc(self, account_id: str) -> dict[str, Any] | None:
        snap = self.store.get(account_path(account_id))
        return dict(snap.data) if snap is not None else None

    def _read(self, account_id: str, account: dict[str, Any] | None) -> SourceFiles:
        if self.options.from_dir is not None:
            return read_dir(self.options.from_dir, account_id)
        return read_store(self.store, account_id, account)

    def _refuse_if_serving(self, account: dict[str, Any] | None) -> None:
        why = self._health or document_says_serving(account, self._clock())
        if why:
            raise _Refused(
                f"the old backend may still be serving this account ({why}); stop it with "
                "SIGTERM, then run again with --old-backend-stopped"
            )

    def _mark_account(
        self,
        account_id: str,
        account: dict[str, Any] | None,
        session: ImportedSession,
        source: SourceFiles,
    ) -> None:
        """What the daemon's restore needs (`should_restore`): `paired`, the session db, and a
        status it retries on. Left alone when it already says so (a second run writes nothing)."""
        if account and account.get("paired") is True and account.get("waJid") == session.own_jid:
            return
        patch: dict[str, Any] = {
            "paired": True,
            "waJid": session.own_jid,
            "status": "disconnected",
            "lastError": None,
            "sessionImport": {
                "deviceJid": session.device.jid,
                "source": source.origin.split(":", 1)[0],
                "importedAt": SERVER_TIMESTAMP,
                "imported": session.counts(),
                "skipped": dict(session.skipped),
            },
            "updatedAt": SERVER_TIMESTAMP,
        }
        if session.device.push_name:
            patch["pushName"] = session.device.push_name
        path = account_path(account_id)
        if account is None:
            phone = "+" + session.phone_user
            doc = new_account_doc(session.device.push_name or account_id, phone, phone)
            self.store.create(path, {**doc, **patch})
        else:
            self.store.update(path, patch)


class _Refused(Exception):
    pass


def _check_phone(session: ImportedSession, account_id: str, account: dict[str, Any] | None) -> None:
    """`me.id` must be the account's number: importing another number's device under this id
    would put its chats into this account's threads."""
    raw = None
    if account:
        raw = account.get("phoneE164") or account.get("phone")
    elif account_id.startswith("wa_") and account_id[3:].isdigit():
        raw = "+" + account_id[3:]  # the daemon's own ids are the number
    if raw is None:
        return
    expected = to_e164_lenient(str(raw))
    if expected is None:
        raise SourceError(account_path(account_id) + ": phone", f"not a phone number: {raw!r}")
    if expected.lstrip("+") != session.phone_user:
        raise SourceError(
            "creds.json: me.id",
            f"{session.device.jid} is not the account's phone {expected}",
        )
