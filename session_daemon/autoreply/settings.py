"""Auto-reply settings: the daemon-wide limits (environment) and an account's own settings
(its document: `autoReplyEnabled`, `autoReplyPrompt`, `autoReplyFlows`, `autoReplyAskName`,
`autoReplyHours`). Pure: no I/O besides reading the environment once."""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time
from typing import Annotated, Any, Final
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from session_daemon.config import ConfigError

MAX_FLOWS: Final = 50
MAX_KEYWORDS: Final = 50
MAX_REPLIES: Final = 5  # messages one flow sends in a row
MAX_REPLY_CHARS: Final = 4096
MAX_KEYWORD_CHARS: Final = 100
AUTO_UID: Final = "auto-reply"  # `createdByUid` of every automatic reply
BROADCAST_UID: Final = "broadcast"  # `createdByUid` of broadcast items
AUTOMATIC_UIDS: Final = frozenset({AUTO_UID, BROADCAST_UID})
BUCHAREST: Final = ZoneInfo("Europe/Bucharest")
DEFAULT_NAME_QUESTION: Final = "Bună! Cu cine vorbesc, vă rog? Spuneți-mi numele dumneavoastră."
_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


def fold(text: str) -> str:
    """Lowercase, without diacritics, words separated by single spaces (`Preț!` -> `pret`)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^\w]+", " ", plain).split())


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


Keyword = Annotated[str, StringConstraints(min_length=1, max_length=MAX_KEYWORD_CHARS)]
ReplyText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_REPLY_CHARS)]


class Flow(BaseModel):
    """One keyword flow: any keyword found in a message (whole words, no case, no diacritics)
    sends the replies, in order."""

    model_config = ConfigDict(strict=True, extra="forbid")
    keywords: list[Keyword] = Field(min_length=1, max_length=MAX_KEYWORDS)
    replies: list[ReplyText] = Field(min_length=1, max_length=MAX_REPLIES)

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, value: list[str]) -> list[str]:
        for word in value:
            if not fold(word):
                raise ValueError("a keyword needs a letter or a digit")
        return value

    @field_validator("replies")
    @classmethod
    def _replies(cls, value: list[str]) -> list[str]:
        return [_not_blank(text) for text in value]

    def key(self) -> str:
        """Names the trigger for its cooldown: the folded keywords, whatever their order."""
        words = "|".join(sorted({fold(w) for w in self.keywords}))
        return hashlib.sha256(words.encode()).hexdigest()[:16]

    def matches(self, folded_text: str) -> bool:
        padded = f" {folded_text} "
        return any(f" {fold(word)} " in padded for word in self.keywords)


def parse_hours(value: str | None) -> tuple[time, time] | None:
    """`"09:00-18:00"` -> (09:00, 18:00); None/"" -> None (always). ValueError otherwise."""
    if not value:
        return None
    match = _HOURS.match(value)
    if not match:
        raise ValueError("must be HH:MM-HH:MM")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if (h1, m1) == (h2, m2):
        raise ValueError("start and end must differ")
    return time(h1, m1), time(h2, m2)


def within_hours(hours: tuple[time, time] | None, at: datetime) -> bool:
    """Whether `at` (aware) falls in the business hours, read in Europe/Bucharest; a window
    whose end is before its start runs over midnight."""
    if hours is None:
        return True
    start, end = hours
    local = at.astimezone(BUCHAREST).time()
    if start < end:
        return start <= local < end
    return local >= start or local < end


@dataclass(frozen=True)
class AccountSettings:
    """What an account's document says about auto-reply (bad stored values read as off)."""

    enabled: bool = False
    prompt: str = ""
    flows: tuple[Flow, ...] = ()
    ask_name: bool = False
    hours: tuple[time, time] | None = None

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> AccountSettings:
        flows: list[Flow] = []
        for raw in data.get("autoReplyFlows") or []:
            try:
                flows.append(Flow.model_validate(raw))
            except ValueError:
                continue  # written by hand and wrong: that flow only is ignored
        try:
            hours = parse_hours(data.get("autoReplyHours") or None)
        except (ValueError, TypeError):
            hours = None
        return cls(
            enabled=data.get("autoReplyEnabled") is True,
            prompt=str(data.get("autoReplyPrompt") or ""),
            flows=tuple(flows),
            ask_name=data.get("autoReplyAskName") is True,
            hours=hours,
        )


@dataclass(frozen=True)
class AutoReplyConfig:
    """Daemon-wide limits (`WHATSAPP_AUTO_REPLY_*`)."""

    enabled: bool = True
    max_age_s: float = 600.0  # never answer a message older than this (10 minutes)
    staff_quiet_s: float = 30 * 60.0  # no reply while staff wrote in the thread this recently
    max_per_hour: int = 3  # auto-reply turns per thread per hour
    flow_cooldown_s: float = 12 * 3600.0  # one flow answers a thread once per this
    name_question: str = DEFAULT_NAME_QUESTION
    model_timeout_s: float = 6.0
    # decision threads; 0: 1 on SQLite (one writer: more threads only fight for its lock and
    # slow the inbound flusher, bench/autoreply.py), else 4
    workers: int = 0
    queue_max: int = 10_000
    recent_messages: int = 20  # read per decision: staff activity and the model's context


_ENV: Final[dict[str, tuple[str, type]]] = {
    "WHATSAPP_AUTO_REPLY_MAX_AGE_SECONDS": ("max_age_s", float),
    "WHATSAPP_AUTO_REPLY_STAFF_QUIET_MINUTES": ("staff_quiet_s", float),
    "WHATSAPP_AUTO_REPLY_MAX_PER_HOUR": ("max_per_hour", int),
    "WHATSAPP_AUTO_REPLY_FLOW_COOLDOWN_MINUTES": ("flow_cooldown_s", float),
    "WHATSAPP_AUTO_REPLY_MODEL_TIMEOUT_SECONDS": ("model_timeout_s", float),
    "WHATSAPP_AUTO_REPLY_WORKERS": ("workers", int),
}
_MINUTES: Final = {"staff_quiet_s", "flow_cooldown_s"}


def auto_reply_config_from_env(env: Mapping[str, str] | None = None) -> AutoReplyConfig:
    """The limits with `WHATSAPP_AUTO_REPLY_*` applied; `WHATSAPP_AUTO_REPLY=off` turns the
    engine off. Raises ConfigError for a value that is not a number (or is negative)."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    if (env.get("WHATSAPP_AUTO_REPLY") or "").strip().lower() in ("off", "false", "0", "no"):
        values["enabled"] = False
    for name, (attr, kind) in _ENV.items():
        raw = (env.get(name) or "").strip()
        if not raw:
            continue
        try:
            number = kind(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {raw!r}") from None
        if number < 0:
            raise ConfigError(f"{name} must not be negative")
        values[attr] = number * 60 if attr in _MINUTES else number
    question = (env.get("WHATSAPP_AUTO_REPLY_NAME_QUESTION") or "").strip()
    if question:
        values["name_question"] = question[:MAX_REPLY_CHARS]
    return AutoReplyConfig(**values)
