"""What an allowed message gets: the name question, a keyword flow, or the model (pure).

`plan_reply` reads the message, the account's settings and the thread's `autoReplyState`
(`turnsMs`, `flowsAtMs`, `nameAskedAtMs`) and returns a `Plan`: texts to send now (or the
model's turn), the thread fields to write, and what happened.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from session_daemon.autoreply.gates import HOUR_MS
from session_daemon.autoreply.settings import AccountSettings, AutoReplyConfig, fold

MAX_NAME_CHARS: Final = 60
MAX_TURNS_KEPT: Final = 20
_NAME_PREFIX = re.compile(
    r"^\s*(?:bun[aă](?:\s+ziua)?[,!.\s]*)?(?:eu\s+)?"
    r"(?:sunt|m[aă]\s+numesc|numele\s+meu\s+(?:e|este)|m[aă]\s+cheam[aă]|aici\s+(?:e|este))\s+",
    re.IGNORECASE,
)
_NAME_WORD = re.compile(r"^[^\W\d_][^\W\d_'’.-]*(?:[-'’][^\W\d_]+)*\.?$")

Kind = Literal["name_question", "flow", "model", "none"]


@dataclass(frozen=True)
class Plan:
    kind: Kind
    texts: tuple[str, ...] = ()  # sent now, in order (empty for `model`: the engine asks it)
    thread_patch: dict[str, Any] = field(default_factory=dict)  # besides autoReplyState
    state: dict[str, Any] = field(default_factory=dict)  # the new autoReplyState
    flow_index: int | None = None
    client_name: str | None = None  # the name the client just gave


def extract_name(text: str) -> str | None:
    """The name in an answer to "what's your name?" (`Mă numesc Ana Maria` -> `Ana Maria`), or
    None when the answer does not look like a name (a question, a sentence, digits)."""
    rest = _NAME_PREFIX.sub("", text.strip(), count=1).strip().rstrip("!.,")
    words = rest.split()
    if not 1 <= len(words) <= 4 or len(rest) > MAX_NAME_CHARS:
        return None
    if not all(_NAME_WORD.match(w) for w in words):
        return None
    return " ".join(w[:1].upper() + w[1:] for w in words)


def _unknown_client(thread: Mapping[str, Any], client_known: bool) -> bool:
    return not client_known and not thread.get("clientProvidedName")


def plan_reply(
    text: str,
    *,
    config: AutoReplyConfig,
    account: AccountSettings,
    thread: Mapping[str, Any],
    client_known: bool,
    has_model: bool,
    now_ms: int,
) -> Plan:
    state = dict(thread.get("autoReplyState") or {})
    turns = [t for t in state.get("turnsMs") or [] if isinstance(t, int) and now_ms - t < HOUR_MS]
    state["turnsMs"] = [*turns, now_ms][-MAX_TURNS_KEPT:]
    patch: dict[str, Any] = {}
    name: str | None = None

    if account.ask_name and _unknown_client(thread, client_known):
        if not state.get("nameAskedAtMs"):
            state["nameAskedAtMs"] = now_ms
            return Plan("name_question", (config.name_question,), {}, state)
        if not state.get("nameAnsweredAtMs"):
            # asked once: this message is the answer (or the client ignored the question)
            state["nameAnsweredAtMs"] = now_ms
            name = extract_name(text)
            if name:
                patch = {"clientProvidedName": name, "clientProvidedNameAtMs": now_ms}

    folded = fold(text)
    flows_at = dict(state.get("flowsAtMs") or {})
    for index, flow in enumerate(account.flows):
        if not flow.matches(folded):
            continue
        key = flow.key()
        last = flows_at.get(key)
        if isinstance(last, int) and now_ms - last < config.flow_cooldown_s * 1000:
            break  # this trigger answered recently: neither it nor the model repeats it
        flows_at[key] = now_ms
        state["flowsAtMs"] = flows_at
        return Plan("flow", tuple(flow.replies), patch, state, index, name)
    else:
        if has_model:
            return Plan("model", (), patch, state, None, name)
    # nothing to send: the turn is not counted, but a captured name is still kept
    state["turnsMs"] = turns
    return Plan("none", (), patch, state, None, name)
