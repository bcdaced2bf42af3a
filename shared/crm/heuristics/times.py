"""Start time from a Romanian chat: `ora 16`, `16:30`, `pe la 21:30`, `de la 5 după-amiaza`,
`pe la 7 seara`, `la 17 și 30`. End times (`până la`), constraints (`după ora 12`), durations
(`2 ore`) and corrected values (`nu la 14`) are not start times. The last mention wins."""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.crm.heuristics.dates import MONTH_RE
from shared.crm.heuristics.text import clause_at, fold
from shared.crm.types import ChatMessage
from shared.events import canonical_role_type

_EVENING = r"(?:seara|de\s+seara|dupa[-\s]?amiaza|dupa[-\s]?amiaz|dupa[-\s]?masa|pm|noaptea)"
_MORNING = r"(?:dimineata|de\s+dimineata)"
_QUALIFIER = rf"(?:\s*(?P<q>{_EVENING}|{_MORNING}|la\s+pranz|pranzul))?"
_MINUTES = (
    r"(?:\s*[:.h]\s*(?P<m>\d{2})|\s+(?:si|și)\s+(?P<m2>\d{2}|jumatate|un\s+sfert|sfert)"
    r"|h(?=\W|$))?"  # "la 17h"
)
_UNIT_AFTER = re.compile(
    rf"^\s*(?:de\s+)?(?:(?:ani|anisori|ore|ora|minute|min|copii|copiii|lei|ron|euro|eur|"
    rf"buc|bucati|baloane|persoane|invitati|zile|km|luni|{MONTH_RE})\b|%|\d|[./-]\d)"
)
_WITH_WORD = re.compile(
    rf"\b(?P<kw>ora|orele|at|pe\s+la|de\s+la\s+ora|de\s+la|la\s+ora|incepand\s+cu\s+ora|la|in\s+jur\s+de)"
    rf"(?:\s*:\s*|\s+)(?P<h>\d{{1,2}}){_MINUTES}{_QUALIFIER}\b"
)
_DATE_BEFORE = re.compile(r"(?<![\d.,/:])\d{1,2}[./-]\d{1,2}(?:[./-]\d{2,4})?\s*,?\s*$")
_CLOCK = re.compile(r"(?<![\d.,/:])(?P<h>\d{1,2}):(?P<m>\d{2})(?![\d:])" + _QUALIFIER)
_EXCLUDED_BEFORE = re.compile(
    r"(?:pana\s+(?:la\s+)?(?:ora\s+)?|dupa\s+|inainte\s+de\s+|nu\s+(?:la\s+)?|in\s+loc\s+de\s+|"
    r"tine\s+|dureaza\s+|pana\s+pe\s+la\s+)$"
)
_RANGE_END = re.compile(r"\d{1,2}:\d{2}\s*[-–—]\s*$")
# "de la 14:00 la 18:00", "from 4 to 6": the second hour closes a range opened just before.
_RANGE_OPENED = re.compile(
    r"\b(?:de\s+la|from)\s+(?:ora\s+)?\d{1,2}(?:\s*[:.h]\s*\d{2})?\s*(?:[a-z]{0,10}\s+)?$"
)
# "17h", "ora 17h": an hour with an "h" and no keyword; small numbers with "h" are durations
# ("Spiderman 2h").
_H_HOUR = re.compile(r"(?<![\d.,/:+x])(?P<h>\d{1,2})\s?h\b(?!\s*(?:de\s+)?(?:program|lei))")
# "între 12 și 14", "intre 12:30 si 14:30": a range, its first hour is the start.
_BETWEEN = re.compile(
    r"\bintre\s+(?:orele\s+)?(?P<h>\d{1,2})(?:\s*[:.]\s*(?P<m>\d{2}))?\s+(?:si|și)\s+"
    r"(?P<end>\d{1,2})(?:\s*[:.]\s*\d{2})?" + r"(?:\s*(?P<q>" + _EVENING + "|" + _MORNING + r"))?\b"
)


_BARE_RANGE = re.compile(
    r"(?<![\d.,/:-])(?P<h>\d{1,2})\s*[-–]\s*(?P<end>\d{1,2})(?![\d/:-]|[.,]\d|\s*h\b)"
)
_OR_HOUR = re.compile(
    r"\s+sau\s+(?:ora\s+)?(?P<h>\d{1,2})(?:[:.](?P<m>\d{2}))?(?!\s+si\b)"
    rf"(?:\s*(?P<q>{_EVENING}|{_MORNING}))?\b(?!\s*(?:de\s+)?(?:ani|ore|copii|lei|ron|minute))"
)

_OTHER_TIMES = re.compile(
    r"\b(?:ajung\w*|sosi\w*|sosest\w*|montaj\w*|montam|pregat\w*|sunam|sun\b|suna\w*|"
    r"livr\w*|deschide\w*|plec\w*|termin\w*|pana\s+la)\b"
)


def _not_start(folded: str, pos: int) -> bool:
    """A time in a clause about arriving early, setting up, calling back: not the party start."""
    clause = clause_at(folded, pos)
    return bool(_OTHER_TIMES.search(folded[clause.start : pos]))


@dataclass(frozen=True)
class TimeMention:
    value: str
    pos: int
    bare_hour: bool = False  # "pe la 10": no minutes, no part of the day


def _to_hhmm(hour: int, minute: int, qualifier: str | None, explicit_clock: bool) -> str | None:
    if qualifier:
        if re.fullmatch(_EVENING, qualifier) and hour < 12:
            hour += 12
        elif "pranz" in qualifier and hour < 12:
            hour = 12 if hour == 0 else hour
    elif not explicit_clock and 1 <= hour <= 7:
        hour += 12  # "la 5": parties are not at 5 am
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return f"{hour:02d}:{minute:02d}"


def _minute(match: re.Match[str]) -> int:
    raw = match.group("m") or (match.groupdict().get("m2") or "")
    if not raw:
        return 0
    if raw.startswith("jumatate"):
        return 30
    if "sfert" in raw:
        return 15
    return int(raw)


def mentions_in(message: ChatMessage) -> list[TimeMention]:
    text = fold(message.text)
    found: list[TimeMention] = []
    taken: list[tuple[int, int]] = []
    for m in _BETWEEN.finditer(text):
        if _UNIT_AFTER.match(text[m.end() :]):
            continue  # "între 5 și 7 ani"
        taken.append(m.span())
        start, end = int(m.group("h")), int(m.group("end"))
        if not start < end <= 23 and not (start > 7 and end <= 7):
            continue
        if _not_start(text, m.start()):
            continue
        value = _to_hhmm(start, int(m.group("m") or 0), m.group("q"), explicit_clock=False)
        if value:
            found.append(TimeMention(value, m.start()))
    for m in _WITH_WORD.finditer(text):
        if any(s <= m.start() < e for s, e in taken):
            continue
        hour = int(m.group("h"))
        has_minutes = bool(m.group("m") or m.group("m2"))
        keyword = re.sub(r"\s+", " ", m.group("kw"))
        after = text[m.end("h") :]
        if keyword.startswith(("ora", "orele", "de la ora", "la ora")) and re.match(r"-\d", after):
            after = after[1:]  # "ora 16-18": a range from 16
        elif not has_minutes and not m.group("q") and _UNIT_AFTER.match(after):
            continue  # "la 25 de copii", "ora 2 ore"
        if re.search(r"\d\s*$", text[: m.start()]) and not _DATE_BEFORE.search(text[: m.start()]):
            continue  # "1 oră 30" is a duration; "pe 14/06 de la ora 4" is a date, then a time
        if keyword == "la" and not has_minutes and not m.group("q") and hour > 23:
            continue
        before = text[max(0, m.start() - 20) : m.start()]
        taken.append(m.span())
        if _EXCLUDED_BEFORE.search(before) or _not_start(text, m.start()):
            continue
        if keyword in ("la", "at") and _RANGE_OPENED.search(before):
            continue
        qualifier = m.group("q")
        if not qualifier and hour < 12:
            # "seara pe la 8", "după-amiază, la 5": the part of the day said first.
            said_before = re.search(rf"\b({_EVENING})\s*,?\s*$", before)
            qualifier = said_before.group(1) if said_before else None
        # "la 4 și jumătate" is as vague about the part of the day as "la 4"; only digits
        # after a separator ("4:30") read as a clock.
        value = _to_hhmm(hour, _minute(m), qualifier, explicit_clock=bool(m.group("m")))
        if value:
            found.append(TimeMention(value, m.start(), not has_minutes and not qualifier))
            alternative = _OR_HOUR.match(text, m.end())
            if alternative:  # "la ora 11 sau 16": the second hour is offered too
                taken.append(alternative.span())
                other = _to_hhmm(
                    int(alternative.group("h")),
                    int(alternative.group("m") or 0),
                    alternative.group("q") or qualifier,
                    explicit_clock=bool(alternative.group("m")),
                )
                if other:
                    found.append(TimeMention(other, alternative.start("h")))
    for m in _BARE_RANGE.finditer(text):
        # "pe 26 septembrie, 12-14": two hours joined by a dash, the second past noon (so not a
        # day and a month), a short party span.
        if any(s <= m.start() < e for s, e in taken) or _UNIT_AFTER.match(text[m.end() :]):
            continue
        start, end = int(m.group("h")), int(m.group("end"))
        if not (12 < end <= 23 and 0 < end - start <= 6):
            continue
        taken.append(m.span())
        before = text[max(0, m.start() - 20) : m.start()]
        if _EXCLUDED_BEFORE.search(before) or _not_start(text, m.start()):
            continue
        value = _to_hhmm(start, 0, None, explicit_clock=False)
        if value:
            found.append(TimeMention(value, m.start()))
    for m in _H_HOUR.finditer(text):
        hour = int(m.group("h"))
        if any(s <= m.start() < e for s, e in taken) or not 8 <= hour <= 23:
            continue
        taken.append(m.span())
        before = text[max(0, m.start() - 20) : m.start()]
        if _EXCLUDED_BEFORE.search(before) or _not_start(text, m.start()):
            continue
        found.append(TimeMention(f"{hour:02d}:00", m.start()))
    for m in _CLOCK.finditer(text):
        if any(s <= m.start() < e for s, e in taken):
            continue
        before = text[max(0, m.start() - 20) : m.start()]
        if _EXCLUDED_BEFORE.search(before) or _not_start(text, m.start()):
            continue
        if _RANGE_END.search(before) or _RANGE_OPENED.search(before):
            continue  # "12:00–14:00", "de la 12:00 la 14:00": the end of a range
        value = _to_hhmm(int(m.group("h")), int(m.group("m")), m.group("q"), explicit_clock=True)
        if value:
            found.append(TimeMention(value, m.start()))
    found.sort(key=lambda t: t.pos)
    return found


_PICK_FIRST = re.compile(r"\b(?:prima(?:\s+varianta|\s+ora|\s+optiune)?|primul|cea\s+dintai)\b")
_PICK_SECOND = re.compile(
    r"\b(?:a\s+doua(?:\s+varianta|\s+ora|\s+optiune)?|cea\s+de-a\s+doua|al\s+doilea|"
    r"cealalta|ultima(?:\s+varianta)?)\b"
)


def _offered_pair(text: str, mentions: list[TimeMention]) -> list[TimeMention] | None:
    """The message's last two times when they are alternatives ("la 15:00 sau la 17:30")."""
    if len(mentions) < 2:
        return None
    a, b = mentions[-2], mentions[-1]
    return [a, b] if re.search(r"\bsau\b", text[a.pos : b.pos]) else None


def _picked(text: str, pair: list[TimeMention]) -> TimeMention | None:
    """A later message that chooses one of two offered times: "Prima variantă", "Mai bine 16",
    "16 e perfect"."""
    if _PICK_SECOND.search(text):
        return pair[1]
    if _PICK_FIRST.search(text):
        return pair[0]
    hours = {
        int(n.group(1))
        for n in re.finditer(
            r"(?<![\d.,:/])(\d{1,2})\b(?![.,:/]\d)(?!\s*(?:de\s+)?(?:ani|ore|copii|lei))", text
        )
    }
    chosen = [m for m in pair if int(m.value[:2]) in hours or int(m.value[:2]) - 12 in hours]
    return chosen[0] if len(chosen) == 1 else None


_SERVICE_STEMS = (("DRY_ICE", re.compile(r"\bfum\w*")), ("SANTA_CLAUS", re.compile(r"\bmos\w*")))


def _service_named(segment: str) -> str | None:
    """The service a phrase names ("fumul", "ursitoarele", "animatorul"), or None."""
    kind = canonical_role_type(segment)
    return kind or next((k for k, stem in _SERVICE_STEMS if stem.search(segment)), None)


# "Ursitoarele la 21:00, fumul pe la 22:30": a time per service in one message; the party starts
# with the first of them.
def _per_service_start(text: str, found: list[TimeMention]) -> TimeMention | None:
    if len(found) < 2:
        return None
    kinds: list[str | None] = []
    cursor = 0
    for mention in found:
        segment = text[cursor : mention.pos]
        if re.search(r"\b(?:sau|nu|mai\s+bine|in\s+loc)\b", segment):
            return None
        kinds.append(_service_named(segment))
        cursor = mention.pos + 2
    if None in kinds or len(set(kinds)) != len(kinds):
        return None
    return min(found, key=lambda t: t.value)


# The staff ask for the hour ("La ce oră?", "Ora 16:00 rămâne?") and the client answers with a
# number alone: "17", "da, 17", "nu, la 18", "16:30".
_ASKS_TIME = re.compile(
    r"\b(?:(?:la\s+)?ce\s+ora|ora\s*\?|ora\s+(?:de\s+)?inceput\w*|"
    r"ora\s+\d{1,2}(?:[:.]\d{2})?\s+(?:ramane|e\s+ok|va\s+convine)|what\s+time)\b"
)
_HOUR_ANSWER = re.compile(
    r"^\W*(?:(?:da|nu|ok|pai|mai\s+bine)\W+)?(?:la\s+|pe\s+la\s+|de\s+la\s+|ora\s+)?"
    rf"(?P<h>\d{{1,2}})(?:[:.](?P<m>\d{{2}}))?\s*(?:h\b)?(?:\s*(?P<q>{_EVENING}|{_MORNING}))?\W*$"
)


def _answered_hour(message: ChatMessage, previous: ChatMessage | None) -> TimeMention | None:
    if previous is None or not message.from_client or previous.from_client:
        return None
    if not _ASKS_TIME.search(fold(previous.text)):
        return None
    answer = _HOUR_ANSWER.match(fold(message.text))
    if answer is None:
        return None
    minute = int(answer.group("m") or 0)
    value = _to_hhmm(int(answer.group("h")), minute, answer.group("q"), bool(answer.group("m")))
    return TimeMention(value, answer.start("h")) if value else None


def resolve_time(messages: list[ChatMessage], *, evening_event: bool = False) -> str | None:
    """The last start time said; when it was one of two alternatives, the one a later message
    picks. `evening_event` (ursitoare come late in the evening): a bare "pe la 10" means 22:00."""
    last: TimeMention | None = None
    pair: list[TimeMention] | None = None
    for index, message in enumerate(messages):
        found = mentions_in(message)
        if not found:
            answered = _answered_hour(message, messages[index - 1] if index else None)
            found = [answered] if answered else []
        if found:
            last = _per_service_start(fold(message.text), found) or found[-1]
            pair = _offered_pair(fold(message.text), found)
        elif pair is not None:
            choice = _picked(fold(message.text), pair)
            if choice is not None:
                last, pair = choice, None
    if last is None:
        return None
    hour = int(last.value[:2])
    if evening_event and last.bare_hour and 8 <= hour <= 11:
        return f"{hour + 12:02d}{last.value[2:]}"
    return last.value
