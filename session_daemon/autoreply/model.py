"""Model replies: the account's prompt plus the client's CRM context, through the
OpenAI-compatible client of `shared.crm.llm` (`OPENAI_API_KEY`, `OPENAI_BASE_URL`,
`OPENAI_MODEL`), with the auto-reply's own short timeout and no retry.

The model must answer `{"reply": "..."}`; anything else (not JSON, empty, too long, a
timeout, an HTTP error) raises `ModelError`, and the engine sends nothing: never a half-answer.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, field_validator

from session_daemon.autoreply.settings import AUTOMATIC_UIDS, MAX_REPLY_CHARS
from shared.crm.llm import ChatModel, ModelConfig, ModelError, model_config_from_env
from shared.timeutil import ensure_utc

__all__ = ["ModelError", "ModelReplier", "build_context", "model_replier_from_env"]

DEFAULT_PROMPT: Final = (
    "Ești asistentul unei firme de petreceri pentru copii. Răspunzi scurt, politicos, în limba "
    "clientului. Nu inventa prețuri, date sau disponibilitate: spune că revine un coleg."
)
RULES: Final = (
    'Răspunde DOAR cu JSON: {"reply": "<mesajul către client>"}. Un singur mesaj, fără '
    "markdown. Contextul clientului (evenimente, totaluri, ultimele mesaje) urmează ca JSON."
)
_SCHEMA: Final = {
    "type": "object",
    "properties": {"reply": {"type": "string"}},
    "required": ["reply"],
    "additionalProperties": False,
}


class ModelReply(BaseModel):
    model_config = ConfigDict(extra="ignore")
    reply: str = Field(min_length=1, max_length=MAX_REPLY_CHARS)

    @field_validator("reply")
    @classmethod
    def _text(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("empty reply")
        return value


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return ensure_utc(value).isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


_EVENT_FIELDS: Final = ("date", "address", "childName", "childAge", "parentName", "payment")
_CLIENT_FIELDS: Final = ("eventsCount", "lifetimeSpendPaid", "lifetimeSpendAll", "lastEventAt")


def build_context(
    *,
    thread: Mapping[str, Any],
    client: Mapping[str, Any] | None,
    events: Sequence[Mapping[str, Any]],
    recent: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """The user message of the model: who the client is, its parties and totals, and the last
    messages oldest first (staff, automatic or client)."""
    lines = []
    for m in reversed(recent):
        if m.get("direction") == "inbound":
            who = "client"
        else:
            who = "auto" if m.get("createdByUid") in AUTOMATIC_UIDS else "staff"
        body = str(m.get("body") or m.get("text") or "")[:1000]
        if body:
            lines.append({"from": who, "text": body})
    return _plain(
        {
            "clientName": thread.get("clientProvidedName") or thread.get("displayName"),
            "phone": thread.get("phoneE164") or thread.get("normalizedPhone"),
            "totals": {k: client.get(k) for k in _CLIENT_FIELDS if k in client} if client else {},
            "events": [{k: e.get(k) for k in _EVENT_FIELDS if k in e} for e in events[:5]],
            "messages": lines,
        }
    )


class ModelReplier:
    """`reply(prompt, context) -> str` (blocking; run off the event loop)."""

    def __init__(self, config: ModelConfig) -> None:
        self._model = ChatModel(config)
        self.name = config.model

    def reply(self, prompt: str, context: Mapping[str, Any]) -> str:
        system = f"{prompt.strip() or DEFAULT_PROMPT}\n\n{RULES}"
        answer = self._model.complete_json(
            system=system,
            user=json.dumps(context, ensure_ascii=False),
            schema_name="auto_reply",
            schema=_SCHEMA,
            output=ModelReply,
        )
        return answer.reply


def model_replier_from_env(
    timeout_s: float, env: Mapping[str, str] | None = None
) -> ModelReplier | None:
    """None without `OPENAI_API_KEY` (flows and the name question still work)."""
    config = model_config_from_env(env)
    if config is None:
        return None
    return ModelReplier(dataclasses.replace(config, timeout_seconds=timeout_s, max_retries=0))
