"""The model path's guard: a model answer is used only when every event it cites is one of the
client's and every number in it can be found in the client's data (an amount, a sum, a count,
an age, a date, a time, a duration). Otherwise the data answer stands."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from itertools import combinations
from typing import Any

from shared.crm.ask.party import Party
from shared.crm.ask.render import money, source
from shared.events import event_short_id

_TOKEN = re.compile(r"\d{1,2}[-./]\d{1,2}[-./]\d{2,4}|\d{1,2}:\d{2}|\d+(?:[.,]\d+)?")


def grounded_sources(cited: Sequence[Any], parties: Sequence[Party]) -> list[dict[str, Any]]:
    """Only sources that are real events of this client, each once; made-up ids are dropped."""
    by_id = {p.short_id: p for p in parties if p.short_id is not None}
    out: list[dict[str, Any]] = []
    seen: set[int] = set()
    for raw in cited:
        candidate = raw.get("eventShortId") if isinstance(raw, Mapping) else raw
        key: int | None = None
        if isinstance(candidate, int | str) and not isinstance(candidate, bool):
            try:
                key = int(candidate)
            except ValueError:
                key = None
        if key is None or key not in by_id or key in seen:
            continue
        seen.add(key)
        out.append(source(by_id[key]))
    return out


def _norm(token: str) -> str:
    token = token.replace(",", ".")
    if re.fullmatch(r"\d+\.0+", token):
        token = token.split(".")[0]
    if re.fullmatch(r"\d+", token):
        return token.lstrip("0") or "0"
    return token


def _sums(values: list[float]) -> Iterable[float]:
    """Sums of every subset of up to 4 amounts (more would be costly and rarely asked)."""
    for size in range(1, min(4, len(values)) + 1):
        for combo in combinations(values, size):
            yield sum(combo)


def known_numbers(
    parties: Sequence[Party], question: str, context: Iterable[object] = ()
) -> set[str]:
    """Every figure an answer may state: each event's facts, their sums, counts and averages,
    the question's own numbers and the `context` (the client document's figures, today)."""
    known: set[str] = set()

    def add(value: object) -> None:
        if value is None:
            return
        if isinstance(value, float):
            value = money(round(value, 2))
        known.add(_norm(str(value)))

    for p in parties:
        add(p.short_id)
        add(p.amount)
        add(p.child_age)
        add(p.num_children)
        if p.day:
            known.update(
                {p.day.strftime("%d-%m-%Y"), str(p.day.year), str(p.day.day), str(p.day.month)}
            )
        if p.child_dob:
            known.update({p.child_dob.strftime("%d-%m-%Y"), str(p.child_dob.year)})
        for role in p.roles:
            add(role.count)
            add(role.child_age)
            add(role.duration)
            if role.duration:
                add(role.duration // 60)
            if role.start:
                known.add(role.start)
                known.add(str(int(role.start.split(":")[0])))
    amounts = [
        p.amount for p in parties if p.amount is not None and not p.cancelled and not p.archived
    ]
    for total in _sums(amounts if len(amounts) <= 12 else amounts[:12]):
        add(total)
    for n in range(len(parties) + 1):
        add(n)
    if amounts:
        add(sum(amounts) / len(amounts))
        add(sum(amounts))
    for token in _TOKEN.findall(question):
        known.add(_norm(token))
    for value in context:
        if isinstance(value, int | float) and not isinstance(value, bool):
            add(float(value))
        elif isinstance(value, str):
            known.update(_norm(t) for t in _TOKEN.findall(value))
    return known


def unsupported_numbers(
    text: str, parties: Sequence[Party], question: str, context: Iterable[object] = ()
) -> list[str]:
    """The numbers, dates and times of a model answer that the data does not hold."""
    known = known_numbers(parties, question, context)
    out = []
    for token in _TOKEN.findall(text):
        if re.fullmatch(r"\d{1,2}[-./]\d{1,2}[-./]\d{2,4}", token):
            day, month, year = re.split(r"[-./]", token)
            year = year if len(year) == 4 else "20" + year
            token = f"{int(day):02d}-{int(month):02d}-{year}"
        elif re.fullmatch(r"\d:\d{2}", token):
            token = "0" + token
        if _norm(token) not in known:
            out.append(token)
    return out


def public_event(party: Party) -> dict[str, Any]:
    """An event as the model sees it: JSON-safe, no audit fields."""
    keep = (
        "eventShortId",
        "date",
        "address",
        "childName",
        "childAge",
        "childDob",
        "numChildren",
        "payment",
        "rolesBySlot",
        "isArchived",
    )
    event = party.event
    data = {k: event.get(k) for k in keep}
    data["eventShortId"] = event_short_id(event)
    return dict(json.loads(json.dumps(data, default=str)))
