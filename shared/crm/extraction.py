"""`whatsappExtractEventFromThread`: a chat thread → a draft V3 event, CREATE or UPDATE, saved
idempotently when asked.

Flow: thread and account check → the last N messages of both directions, in real-time order →
cache lookup (thread, newest message and edit mark, extractor version, mode) → audit `running` →
quick check →
extractor (model or heuristics) → V3 normalization → CREATE vs UPDATE by comparing real dates
with every open event of the client → with `dryRun=false`, save (create under an id derived
from `clientRequestId`, `eventShortId` from the counter in the same transaction; or update the
target once per `clientRequestId`) → audit `success`/`noop`, or `failed` on any error: the audit
always ends with `finishedAt`."""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared import paths
from shared.crm.drafting import (
    choose_target,
    date_context,
    draft_event,
    merge_into,
    quick_check,
)
from shared.crm.extractors import Extractor
from shared.crm.types import ChatMessage
from shared.events import LOCAL_TZ, event_short_id, is_archived, normalize_event
from shared.identity import may_see_account
from shared.ids import extraction_client_request_id
from shared.jids import jid_to_e164
from shared.phones import to_e164
from shared.store.port import DocumentStore, Snapshot, Transaction, query
from shared.store.sentinels import SERVER_TIMESTAMP
from shared.timeutil import ensure_utc, to_ms, utc_now

log = logging.getLogger(__name__)

COUNTER_PATH = paths.EVENT_SHORT_CODE_COUNTER
MAX_MESSAGES = 500
_V3_OPTIONAL_FIELDS = (
    "address",
    "childName",
    "childAge",
    "childDob",
    "parentName",
    "parentPhone",
    "numChildren",
    "archivedAt",
    "archivedBy",
    "archiveReason",
    "notedByCode",
)


class ExtractionError(Exception):
    """A refusal with a callable error code (`not-found`, `permission-denied`, …)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ExtractionRequest:
    thread_id: str
    account_id: str
    caller_uid: str
    phone_e164: str | None = None
    last_n: int = 50
    dry_run: bool = True
    caller_is_admin: bool = False
    trace_id: str = ""


def client_events(store: DocumentStore, phone: str) -> list[Snapshot]:
    """Every event of a client: V3 `phoneE164` and legacy `telefonClientE164` documents."""
    seen: dict[str, Snapshot] = {}
    for field_name in ("phoneE164", "telefonClientE164"):
        for snap in store.query(query(paths.EVENTS, where=[(field_name, "==", phone)])):
            seen.setdefault(snap.path, snap)
    return list(seen.values())


# Extraction stays on one-to-one client threads: a group has no single client to book for.
_GROUP_SKIP = "conversație de grup: extragerea citește doar conversațiile cu un client"


@dataclass(frozen=True)
class _Window:
    messages: list[ChatMessage]
    earlier: list[ChatMessage]  # the earlier versions of edited messages (`editHistory`)
    mark: str | None  # `edit_mark` of the window


def _earlier_versions(snap: Snapshot) -> list[ChatMessage]:
    current = _message_from_doc(snap)
    history = snap.data.get("editHistory")
    if current is None or not isinstance(history, list):
        return []
    versions: list[ChatMessage] = []
    for version in history:
        body = version.get("body") if isinstance(version, Mapping) else None
        if not isinstance(body, str):
            continue
        at = version.get("at")
        ts = ensure_utc(at).astimezone(LOCAL_TZ) if isinstance(at, datetime) else current.ts
        versions.append(ChatMessage(current.id, current.direction, body, ts))
    return versions


def edit_mark(snaps: list[Snapshot]) -> str | None:
    """A short digest of which messages in the window were edited and when (`editedAt`):
    None when none was, so unedited chats keep CONTRACT.md's `clientRequestId` exactly."""
    edits = sorted(
        (snap.id, to_ms(at))
        for snap in snaps
        if isinstance(at := snap.data.get("editedAt"), datetime)
    )
    if not edits:
        return None
    text = "|".join(f"{message_id}@{ms}" for message_id, ms in edits)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _cache_key(thread_id: str, newest_id: str, version: str, dry_run: bool, window: int) -> str:
    """Thread, newest message, extractor version and mode (and the window read)."""
    mode = "dry" if dry_run else "save"
    text = f"{thread_id}|{newest_id}|{version}|{mode}|{window}"
    digest = hashlib.sha256(text.encode()).hexdigest()
    return f"{mode}_{digest[:32]}"


def _message_from_doc(snap: Snapshot) -> ChatMessage | None:
    data = snap.data
    ts = data.get("tsClient") or data.get("createdAt")
    if not isinstance(ts, datetime):
        ms = data.get("tsClientMs") or data.get("createdAtMs")
        if not isinstance(ms, int | float) or isinstance(ms, bool):
            return None
        from shared.timeutil import from_ms

        ts = from_ms(ms)
    direction = data.get("direction")
    if direction not in ("inbound", "outbound"):
        return None
    body = data.get("body")
    # Relative dates ("mâine", "sâmbătă") are read in Romanian time, not UTC.
    local = ensure_utc(ts).astimezone(LOCAL_TZ)
    return ChatMessage(snap.id, direction, body if isinstance(body, str) else "", local)


# ---- the service -------------------------------------------------------------------------------


class ExtractionService:
    def __init__(
        self,
        store: DocumentStore,
        extractor: Extractor,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._store = store
        self._extractor = extractor
        self._clock = clock

    # -- reads ------------------------------------------------------------------------------

    def _thread(self, request: ExtractionRequest) -> Mapping[str, Any]:
        snap = self._store.get(paths.thread_path(request.thread_id))
        if snap is None:
            raise ExtractionError("not-found", "Conversația nu există.")
        if snap.data.get("accountId") != request.account_id:
            raise ExtractionError("permission-denied", "Conversația nu aparține acestui cont.")
        if not may_see_account(
            self._store, request.account_id, is_super_admin=request.caller_is_admin
        ):
            raise ExtractionError("permission-denied", "Contul este doar pentru admini.")
        return snap.data

    def _messages(self, request: ExtractionRequest) -> _Window:
        """The window read, oldest first, with the earlier versions of edited messages."""
        limit = max(1, min(int(request.last_n), MAX_MESSAGES))
        snaps = self._store.query(
            query(
                paths.messages_collection(request.thread_id),
                order_by=[("tsClient", "desc")],
                limit=limit,
            )
        )
        messages = [m for m in (_message_from_doc(s) for s in snaps) if m is not None]
        earlier = [m for s in snaps for m in _earlier_versions(s)]
        return _Window(
            sorted(messages, key=lambda m: m.ts),
            sorted(earlier, key=lambda m: m.ts),
            edit_mark(snaps),
        )

    def _open_events(self, phone: str | None) -> list[Snapshot]:
        if not phone:
            return []
        return [s for s in client_events(self._store, phone) if not is_archived(s.data)]

    # -- the run ----------------------------------------------------------------------------

    def run(self, request: ExtractionRequest) -> dict[str, Any]:
        trace_id = request.trace_id or uuid.uuid4().hex
        thread = self._thread(request)
        phone = (
            to_e164(request.phone_e164)
            or to_e164(thread.get("normalizedPhone"))
            or to_e164(thread.get("phoneE164"))
            or jid_to_e164(str(thread.get("clientJid") or ""))
        )
        window = self._messages(request)
        messages, mark = window.messages, window.mark
        newest_id = messages[-1].id if messages else "none"
        # An edit changes no message id ("14 iunie" corrected to "15 iunie" in place), so the
        # edit mark joins the newest id in both keys: a new draft, and a save that applies it.
        state_id = newest_id if mark is None else f"{newest_id}~{mark}"
        client_request_id = extraction_client_request_id(request.thread_id, state_id)
        key = _cache_key(
            request.thread_id,
            state_id,
            self._extractor.version,
            request.dry_run,
            len(messages),
        )
        audit_path = paths.extraction_path(request.thread_id, key)

        cached = self._store.get(audit_path)
        if cached and cached.data.get("status") in ("success", "noop"):
            result = cached.data.get("result")
            if isinstance(result, dict):
                return {**result, "cacheHit": True, "traceId": trace_id}

        self._store.set(
            audit_path,
            {
                "status": "running",
                "createdAt": SERVER_TIMESTAMP,
                "finishedAt": None,
                "requestedBy": request.caller_uid,
                "traceId": trace_id,
                "lastMessageId": newest_id,
                "editMark": mark,
                "extractorVersion": self._extractor.version,
                "model": self._extractor.model_name,
                "messageCount": len(messages),
                "dryRun": request.dry_run,
            },
        )
        try:
            result = self._extract_and_save(
                request,
                messages,
                phone,
                client_request_id,
                trace_id,
                window.earlier,
                group=thread.get("isGroup") is True
                or str(thread.get("clientJid") or "").endswith("@g.us"),
            )
        except Exception as exc:
            self._finish(audit_path, "failed", None, error=_short_error(exc))
            raise
        status = "noop" if result["action"] == "NOOP" else "success"
        self._finish(audit_path, status, result)
        return result

    def _finish(
        self, path: str, status: str, result: dict[str, Any] | None, *, error: str | None = None
    ) -> None:
        fields = {
            "status": status,
            "finishedAt": SERVER_TIMESTAMP,
            "result": result,
            "error": error,
        }
        try:
            # update() replaces `result` whole (a merge would blend it with an older one).
            self._store.update(path, fields)
        except Exception:  # the audit must not hide the real outcome
            log.exception("could not finish the extraction audit %s", path)

    def _extract_and_save(
        self,
        request: ExtractionRequest,
        messages: list[ChatMessage],
        phone: str | None,
        client_request_id: str,
        trace_id: str,
        earlier: list[ChatMessage] | None = None,
        group: bool = False,
    ) -> dict[str, Any]:
        def result(
            action: str,
            draft: dict[str, Any] | None,
            target: str | None,
            confidence: float,
            reasons: list[str],
            **extra: Any,
        ) -> dict[str, Any]:
            return {
                "action": action,
                "draftEvent": draft,
                "targetEventId": target,
                "confidence": round(max(0.0, min(1.0, confidence)), 2),
                "reasons": [str(r) for r in reasons],
                "clientRequestId": client_request_id,
                "traceId": trace_id,
                "cacheHit": False,
                **extra,
            }

        skip = _GROUP_SKIP if group else quick_check(messages)
        if skip:
            return result("NOOP", None, None, 0.9, [skip])
        now = self._clock()
        fields = self._extractor.extract(messages, phone_e164=phone, now=now)
        if fields.intent != "BOOKING":
            return result(
                "NOOP", None, None, fields.confidence, fields.reasons or ["nu e o rezervare"]
            )
        draft = draft_event(fields, phone_e164=phone)
        draft["threadId"] = request.thread_id
        draft["accountId"] = request.account_id
        open_events = self._open_events(phone)
        reasons = list(fields.reasons)
        if draft["payment"].get("amount") is None:
            # CONTRACT section 4: `payment.amount` is a number (the app shows the draft's
            # payment); an unknown price is 0 (as saved) and said in the reasons.
            draft["payment"]["amount"] = 0
            reasons.append("prețul nu a fost stabilit în conversație")
        mentioned, moved = date_context(messages)
        # A date corrected with WhatsApp's edit is a move: an earlier version named a date the
        # chat no longer names (and the new text says nothing about moving: it was rewritten).
        edited_away = date_context(earlier)[0] - mentioned if earlier else frozenset()
        mentioned, moved = mentioned | edited_away, moved or bool(edited_away)
        hint = fields.target_event_hint
        if hint and hint not in {s.id for s in open_events}:
            reasons.append(f"evenimentul {hint!r} indicat de model nu este al clientului: ignorat")
            hint = None
        target, why = choose_target(
            draft,
            open_events,
            client_request_id=client_request_id,
            thread_id=request.thread_id,
            today=now,
            hint=hint,
            mentioned_dates=mentioned,
            moved=moved,
        )
        reasons.append(why)
        action = "UPDATE_EVENT" if target is not None else "CREATE_EVENT"
        if request.dry_run:
            return result(action, draft, target.id if target else None, fields.confidence, reasons)
        if target is None:
            event_id, short_id, created = self._create(draft, request, client_request_id)
            reasons.append("eveniment creat" if created else "evenimentul exista deja (idempotent)")
        else:
            event_id, short_id, changed = self._update(target.id, draft, request, client_request_id)
            reasons.append("eveniment actualizat" if changed else "nimic nou de salvat")
        return result(
            action,
            draft,
            event_id,
            fields.confidence,
            reasons,
            saved=True,
            eventId=event_id,
            eventShortId=short_id,
        )

    # -- writes -----------------------------------------------------------------------------

    def _create(
        self, draft: dict[str, Any], request: ExtractionRequest, client_request_id: str
    ) -> tuple[str, int | None, bool]:
        event_id = f"wa_{client_request_id}"
        path = paths.event_path(event_id)

        def create(tx: Transaction) -> tuple[str, int | None, bool]:
            existing = tx.get(path)
            if existing is not None:
                return event_id, event_short_id(existing.data), False
            counter = tx.get(COUNTER_PATH)
            current = (counter.data.get("value") if counter else 0) or 0
            short_id = int(current) + 1
            raw = {k: v for k, v in draft.items() if k != "roles"}
            raw["eventShortId"] = short_id
            doc = normalize_event(raw)
            doc.update(
                {
                    "clientRequestId": client_request_id,
                    "createdBy": request.caller_uid,
                    "createdAt": SERVER_TIMESTAMP,
                    "updatedAt": SERVER_TIMESTAMP,
                    "updatedBy": request.caller_uid,
                    "isArchived": False,
                    "source": "whatsappExtraction",
                }
            )
            # Every V3 field of CONTRACT section 4 is present (null when the chat did not say).
            doc.setdefault("phoneRaw", doc.get("phoneE164"))
            for name in _V3_OPTIONAL_FIELDS:
                doc.setdefault(name, None)
            tx.set(COUNTER_PATH, {"value": short_id}, merge=True)
            tx.create(path, doc)
            return event_id, short_id, True

        return self._store.transaction(create)

    def _update(
        self,
        event_id: str,
        draft: dict[str, Any],
        request: ExtractionRequest,
        client_request_id: str,
    ) -> tuple[str, int | None, bool]:
        path = paths.event_path(event_id)

        def update(tx: Transaction) -> tuple[str, int | None, bool]:
            snap = tx.get(path)
            if snap is None:
                raise ExtractionError("not-found", "Evenimentul de actualizat nu mai există.")
            if snap.data.get("lastExtractionRequestId") == client_request_id or (
                snap.data.get("clientRequestId") == client_request_id
            ):
                return event_id, event_short_id(snap.data), False
            patch = merge_into(snap.data, draft)
            patch.update(
                {
                    "lastExtractionRequestId": client_request_id,
                    "updatedAt": SERVER_TIMESTAMP,
                    "updatedBy": request.caller_uid,
                }
            )
            for key in ("threadId", "accountId"):
                if not snap.data.get(key):
                    patch[key] = draft.get(key)
            tx.update(path, patch)
            return event_id, event_short_id(snap.data), True

        return self._store.transaction(update)


def _short_error(exc: BaseException) -> str:
    if isinstance(exc, ExtractionError):
        return f"{exc.code}: {exc.message}"
    return type(exc).__name__
