"""Callable handlers of the CRM: `whatsappExtractEventFromThread` and `clientCrmAsk`.

`functions/main.py` wraps these with `@https_fn.on_call`. Each takes the CallableRequest and
returns the result dict or raises `HttpsError`: unauthenticated without a signed-in user,
permission-denied for a non-employee (or an admin-only account), invalid-argument for bad data,
not-found for a missing thread, internal for anything unexpected (no raw exception text)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from firebase_functions import https_fn
from pydantic import ValidationError

from shared import paths
from shared.crm.ask import answer_question
from shared.crm.extraction import (
    ExtractionError,
    ExtractionRequest,
    ExtractionService,
    client_events,
)
from shared.crm.extractors import Extractor, HeuristicExtractor, ModelAsk, ModelExtractor
from shared.crm.llm import ChatModel, model_config_from_env
from shared.crm.prompts import PROMPTS_DOC, Prompts, prompts_from_doc
from shared.events import LOCAL_TZ
from shared.identity import (
    InvalidToken,
    bearer_token,
    classify_caller,
    super_admin_emails_from_env,
)
from shared.schemas import AskRequest, ExtractRequest
from shared.store.port import DocumentStore

log = logging.getLogger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


Code = https_fn.FunctionsErrorCode
_CODES = {
    "not-found": Code.NOT_FOUND,
    "permission-denied": Code.PERMISSION_DENIED,
    "invalid-argument": Code.INVALID_ARGUMENT,
    "failed-precondition": Code.FAILED_PRECONDITION,
}


def store() -> DocumentStore:
    """The process's store: `runtime.store()` beside main.py (one client per instance; the
    handlers take `db=` in tests)."""
    import runtime

    return cast(DocumentStore, runtime.store())


@dataclass(frozen=True)
class _Caller:
    uid: str
    is_admin: bool


TokenVerifier = Callable[[str], Mapping[str, Any]]


def _verify(token: str) -> Mapping[str, Any]:
    import runtime

    return cast(Mapping[str, Any], runtime.verify_token(token))


def _employee(
    req: https_fn.CallableRequest[Any], db: DocumentStore, verify: TokenVerifier | None = None
) -> _Caller:
    """One definition of employee (shared.identity): super-admin or staffProfiles/{uid}.

    The framework checked the token's signature but not revocation; the same token goes through
    `shared.identity.verify_id_token` (`runtime.verify_token`), so a disabled or signed-out user
    is refused at once. A check that cannot be made right now is `unavailable`, never
    `unauthenticated` (which signs the user out)."""
    auth = req.auth
    raw = bearer_token(req.raw_request.headers.get("Authorization")) if req.raw_request else None
    if auth is None or not auth.uid or raw is None:
        raise https_fn.HttpsError(Code.UNAUTHENTICATED, "Trebuie să fiți autentificat.")
    try:
        token: Mapping[str, Any] = (verify or _verify)(raw)
    except InvalidToken:
        raise https_fn.HttpsError(Code.UNAUTHENTICATED, "Sesiunea nu mai este validă.") from None
    except Exception as exc:
        log.warning("ID token could not be checked: %s", type(exc).__name__)
        raise https_fn.HttpsError(
            Code.UNAVAILABLE, "Autentificarea nu poate fi verificată acum; reîncercați."
        ) from None
    if token.get("uid") != auth.uid:
        raise https_fn.HttpsError(Code.UNAUTHENTICATED, "Trebuie să fiți autentificat.")
    try:
        profile = db.get(paths.staff_profile_path(auth.uid))
    except paths.InvalidId:  # no staff profile can have this uid
        raise https_fn.HttpsError(
            Code.PERMISSION_DENIED, "Doar angajații pot folosi CRM-ul."
        ) from None
    email = token.get("email") if isinstance(token.get("email"), str) else None
    caller = classify_caller(
        auth.uid, email, token, profile.data if profile else None, super_admin_emails_from_env()
    )
    if not caller.is_employee:
        raise https_fn.HttpsError(Code.PERMISSION_DENIED, "Doar angajații pot folosi CRM-ul.")
    return _Caller(auth.uid, caller.is_super_admin)


def _data(req: https_fn.CallableRequest[Any]) -> dict[str, Any]:
    if not isinstance(req.data, dict):
        raise https_fn.HttpsError(Code.INVALID_ARGUMENT, "Datele trebuie să fie un obiect JSON.")
    return req.data


def _invalid(exc: ValidationError) -> https_fn.HttpsError:
    fields = sorted({str(e["loc"][0]) for e in exc.errors() if e.get("loc")})
    return https_fn.HttpsError(
        Code.INVALID_ARGUMENT, f"Date invalide: {', '.join(fields) or 'cerere'}."
    )


def _prompts(db: DocumentStore) -> Prompts:
    try:
        snap = db.get(PROMPTS_DOC)
    except Exception:  # prompts are optional; the defaults always work
        log.warning("could not read %s", PROMPTS_DOC, exc_info=True)
        return Prompts()
    return prompts_from_doc(snap.data if snap else None)


def _extractor(db: DocumentStore) -> Extractor:
    config = model_config_from_env()
    if config is None:
        return HeuristicExtractor()
    return ModelExtractor(ChatModel(config), _prompts(db))


def extract_event_from_thread(
    req: https_fn.CallableRequest[Any],
    *,
    db: DocumentStore | None = None,
    extractor: Extractor | None = None,
    verify: TokenVerifier | None = None,
) -> dict[str, Any]:
    db = db or store()
    caller = _employee(req, db, verify)
    try:
        data = ExtractRequest.model_validate(_data(req))
    except ValidationError as exc:
        raise _invalid(exc) from None
    trace_id = uuid.uuid4().hex
    service = ExtractionService(db, extractor or _extractor(db))
    try:
        return service.run(
            ExtractionRequest(
                thread_id=data.thread_id,
                account_id=data.account_id,
                caller_uid=caller.uid,
                phone_e164=data.phone_e164,
                last_n=data.last_n_messages,
                dry_run=data.dry_run,
                caller_is_admin=caller.is_admin,
                trace_id=trace_id,
            )
        )
    except ExtractionError as exc:
        raise https_fn.HttpsError(_CODES.get(exc.code, Code.INTERNAL), exc.message) from None
    except paths.InvalidId as exc:  # ids are single path segments (CONTRACT section 2)
        raise https_fn.HttpsError(Code.INVALID_ARGUMENT, f"Date invalide: {exc.field}.") from None
    except https_fn.HttpsError:
        raise
    except Exception:
        log.exception("extraction failed (trace %s)", trace_id)
        raise https_fn.HttpsError(
            Code.INTERNAL, f"Extragerea a eșuat (trace {trace_id})."
        ) from None


def client_crm_ask(
    req: https_fn.CallableRequest[Any],
    *,
    db: DocumentStore | None = None,
    model: ModelAsk | None = None,
    verify: TokenVerifier | None = None,
    clock: Callable[[], datetime] | None = None,
) -> dict[str, Any]:
    """Answers from the client's own events. Relative dates ("next party", "anul trecut") are
    relative to today in Romania (`clock` is injectable for tests). A phone without a client,
    a client without parties, legacy or undated events all get an answer; bad data is
    invalid-argument."""
    db = db or store()
    _employee(req, db, verify)
    try:
        data = AskRequest.model_validate(_data(req))
    except ValidationError as exc:
        raise _invalid(exc) from None
    try:
        client = db.get(paths.client_path(data.phone_e164))
        events = client_events(db, data.phone_e164)
        if model is None:
            config = model_config_from_env()
            model = ModelAsk(ChatModel(config), _prompts(db)) if config else None
        answer = answer_question(
            client.data if client else None,
            [e.data for e in events],
            data.question,
            model=model,
            today=(clock or _utc_now)().astimezone(LOCAL_TZ).date(),
            on_model_error=lambda exc: log.warning("ask model failed: %s", exc),
        )
    except Exception:
        log.exception("clientCrmAsk failed")
        raise https_fn.HttpsError(Code.INTERNAL, "Nu am putut răspunde acum.") from None
    return answer.as_dict()
