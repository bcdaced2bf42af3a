"""OpenAI-compatible chat model client (OpenAI, Groq, a local server): JSON answers only.

Configuration: `OPENAI_API_KEY` (no key → no model), `OPENAI_BASE_URL` (optional),
`OPENAI_MODEL` (default `gpt-4o-mini`), `OPENAI_TIMEOUT_SECONDS` (default 8),
`OPENAI_MAX_RETRIES` (default 1). A request first asks for a strict JSON schema; a server that
rejects `json_schema` is asked again for a plain JSON object. Either way the content is parsed
and validated by a pydantic model; anything else raises `ModelOutputError`."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import openai
from pydantic import BaseModel, ValidationError

T = TypeVar("T", bound=BaseModel)

DEFAULT_MODEL = "gpt-4o-mini"


class ModelError(Exception):
    """The model could not be reached or did not answer in time."""


class ModelOutputError(ModelError):
    """The model answered with something that is not the JSON we asked for."""


@dataclass(frozen=True)
class ModelConfig:
    api_key: str
    model: str = DEFAULT_MODEL
    base_url: str | None = None
    timeout_seconds: float = 8.0
    max_retries: int = 1


def model_config_from_env(env: Mapping[str, str] | None = None) -> ModelConfig | None:
    env = os.environ if env is None else env
    key = (env.get("OPENAI_API_KEY") or "").strip()
    if not key:
        return None

    def number(name: str, default: float) -> float:
        try:
            return float(env.get(name, "") or default)
        except ValueError:
            return default

    return ModelConfig(
        api_key=key,
        model=(env.get("OPENAI_MODEL") or DEFAULT_MODEL).strip(),
        base_url=(env.get("OPENAI_BASE_URL") or "").strip() or None,
        timeout_seconds=number("OPENAI_TIMEOUT_SECONDS", 8.0),
        max_retries=int(number("OPENAI_MAX_RETRIES", 1)),
    )


def _first_json_object(text: str) -> Any:
    """The JSON in a reply, tolerating a ```json fence around it."""
    text = text.strip()
    if text.startswith("```"):
        text = text.strip("`")
        text = text[text.find("\n") + 1 :] if "\n" in text else text
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        pass
    else:
        if not isinstance(whole, dict):
            raise ModelOutputError("JSON-ul modelului nu e un obiect")
        return whole
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise ModelOutputError("răspunsul modelului nu conține JSON")
    try:
        return json.loads(text[start : end + 1])
    except json.JSONDecodeError as exc:
        raise ModelOutputError(f"răspunsul modelului nu e JSON valid ({exc.msg})") from exc


class ChatModel:
    """One configured model; `complete_json` returns a validated pydantic object."""

    def __init__(self, config: ModelConfig) -> None:
        self.config = config
        self._client = openai.OpenAI(
            api_key=config.api_key,
            base_url=config.base_url,
            timeout=config.timeout_seconds,
            max_retries=config.max_retries,
        )

    @property
    def name(self) -> str:
        return self.config.model

    def complete_json(
        self,
        *,
        system: str,
        user: str,
        schema_name: str,
        schema: dict[str, Any],
        output: type[T],
    ) -> T:
        messages: list[Any] = [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
        ]
        strict: Any = {
            "type": "json_schema",
            "json_schema": {"name": schema_name, "schema": schema, "strict": True},
        }
        try:
            content = self._call(messages, strict, temperature=0)
        except openai.BadRequestError:
            # Servers without structured outputs (or without `temperature`): plain JSON mode,
            # validated below.
            try:
                content = self._call(messages, {"type": "json_object"}, temperature=None)
            except openai.BadRequestError as exc:
                raise ModelError(f"modelul a refuzat cererea ({exc.status_code})") from exc
        try:
            return output.model_validate(_first_json_object(content))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]
            )
            raise ModelOutputError(f"JSON-ul modelului are forma greșită: {problems}") from exc

    def _call(self, messages: list[Any], response_format: Any, temperature: float | None) -> str:
        extra: dict[str, Any] = {} if temperature is None else {"temperature": temperature}
        try:
            response = self._client.chat.completions.create(
                model=self.config.model,
                messages=messages,
                response_format=response_format,
                **extra,
            )
        except openai.BadRequestError:
            raise
        except openai.APITimeoutError as exc:
            raise ModelError("modelul nu a răspuns la timp") from exc
        except openai.OpenAIError as exc:
            raise ModelError(f"apelul modelului a eșuat ({type(exc).__name__})") from exc
        try:
            content = response.choices[0].message.content
        except (AttributeError, IndexError, TypeError) as exc:
            raise ModelOutputError("răspunsul modelului nu are mesaj") from exc
        if not isinstance(content, str) or not content.strip():
            raise ModelOutputError("mesajul modelului e gol")
        return content
