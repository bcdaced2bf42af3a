"""Party date from a Romanian chat.

Every message yields date mentions resolved against that message's own time: numeric dates
(`29.08`, `21/06`, `15/02/2026`), day + month name with or without diacritics and abbreviated
(`7 februarie`, `26 sept`), enumerations (`sâmbătă 14, duminică 22 și sâmbătă 28 martie`), a day
alone (`pe 15`, `duminică, pe 11`) resolved to a recent mention or the next such day, relative
dates (`mâine`, `peste două săptămâni`), Orthodox Easter and Christmas, and bare weekdays.
The conversation's date is the last explicit mention (corrections win); when the last mention
offers alternatives and the other side picks one (`cea de după`), the pick wins. Holidays and
bare weekdays count only when nothing explicit was said, and `sâmbăta viitoare` is ambiguous.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from shared.crm.heuristics.text import NUMBER_WORD_RE, clause_at, fold, to_int
from shared.crm.types import ChatMessage

Strength = Literal["strong", "holiday", "weekday", "ambiguous"]

MONTHS: dict[str, int] = {
    "ianuarie": 1,
    "ian": 1,
    "februarie": 2,
    "feb": 2,
    "febr": 2,
    "martie": 3,
    "mar": 3,
    "mart": 3,
    "aprilie": 4,
    "apr": 4,
    "mai": 5,
    "iunie": 6,
    "iun": 6,
    "iulie": 7,
    "iul": 7,
    "august": 8,
    "aug": 8,
    "septembrie": 9,
    "sep": 9,
    "sept": 9,
    "octombrie": 10,
    "oct": 10,
    "noiembrie": 11,
    "nov": 11,
    "noiem": 11,
    "decembrie": 12,
    "dec": 12,
}
MONTH_RE = "|".join(sorted(MONTHS, key=len, reverse=True))

# Expats write dates in English: "June 20th", "on the 4th of July", "December 12".
EN_MONTHS: dict[str, int] = {
    name: number
    for number, name in enumerate(
        [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ],
        start=1,
    )
}
_EN_MONTH_RE = "|".join(EN_MONTHS)
_EN_MONTH_DAY = re.compile(
    rf"\b({_EN_MONTH_RE})\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?![.,:/]\d)(?:,?\s+(\d{{4}}))?"
)
_EN_DAY_MONTH = re.compile(
    rf"(?<![\d.,/:])(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_EN_MONTH_RE})\b(?:,?\s+(\d{{4}}))?"
)

WEEKDAYS: dict[str, int] = {
    "luni": 0,
    "lunea": 0,
    "marti": 1,
    "martea": 1,
    "miercuri": 2,
    "miercurea": 2,
    "joi": 3,
    "joia": 3,
    "vineri": 4,
    "vinerea": 4,
    "sambata": 5,
    "sambete": 5,
    "duminica": 6,
}
WEEKDAY_RE = "|".join(sorted(WEEKDAYS, key=len, reverse=True))

# "mai" is also "more"/"still": a day + "mai" followed by these is not May.
_NOT_MAY = (
    r"(?!\s+(?:mult|multe|multi|putin|putine|bine|tarziu|devreme|avem|sunt|e\b|este|vrem|ales))"
)
_UNITS_AFTER_NUMBER = (
    r"(?:ani|anisori|an\b|ore|ora\b|oră|min|minute|copii|copiii|lei|ron|euro|eur|buc|bucati|"
    r"baloane|persoane|invitati|zile|saptamani|luni\b|km|%|de\s+(?:copii|lei|ani|persoane|ore))"
)

_NUMERIC = re.compile(
    r"(?<![\d.,/:])(\d{1,2})[./-](\d{1,2})(?:[./-](\d{4}|\d{2}))?(?![\d:]|[.,]\d)"
)
_DAY_MONTH = re.compile(
    rf"(?<![\d.,/:])(\d{{1,2}})(?:\s*-?\s*(?:a|lea))?\s+(?:{MONTH_RE})\b\.?(?:\s+(\d{{4}}))?"
)
# "14 VI", "10 VII 2027": a month in Roman numerals, written in capitals (a lone I, V or X is
# too often something else: "2 X Elsa").
ROMAN_MONTHS = {
    "II": 2,
    "III": 3,
    "IV": 4,
    "VI": 6,
    "VII": 7,
    "VIII": 8,
    "IX": 9,
    "XI": 11,
    "XII": 12,
}
_ROMAN_DAY_MONTH = re.compile(
    r"(?<![\d.,/:])(\d{1,2})\s*[ .-]\s*("
    + "|".join(sorted(ROMAN_MONTHS, key=len, reverse=True))
    + r")\b(?:[ .-]\s*(\d{4}))?"
)
_MONTH_WORD = re.compile(rf"\b({MONTH_RE})\b")
_DAY_ONLY = re.compile(
    rf"\b(?:pe|din|data\s+de|ziua\s+de|in\s+ziua\s+de)\s+(\d{{1,2}})\b(?![.,/:-]\d)"
    rf"(?!\s*{_UNITS_AFTER_NUMBER})(?!\s*(?:{MONTH_RE})\b)(?!\s*(?:sau|si)\s+\d)"
)
_WEEKDAY_DAY = re.compile(
    rf"\b({WEEKDAY_RE})\s*,?\s*(?:pe\s+|in\s+)?(\d{{1,2}})\b(?![.,/:-]\d)"
    rf"(?!\s*{_UNITS_AFTER_NUMBER})(?!\s*,?\s*(?:{MONTH_RE})\b)"
)
_WEEKDAY = re.compile(
    rf"(?<!\bnu )(?<!\bnu, )\b({WEEKDAY_RE})\b(?:\s+(asta|aceasta|ce vine|care vine|viitoare|"
    rf"viitor|urmatoare|de dupa|cealalta))?"
)
_TOMORROW = re.compile(r"\b(poimaine|maine)\b")
_TODAY = re.compile(r"\b(azi|astazi|diseara|in seara asta)\b(?=[^.?!]{0,25}\b(?:ora|la)\s+\d)")
_IN_N = re.compile(
    rf"\b(?:peste|in|intr-o|intr-un)\s+(?:exact\s+|fix\s+)?(\d{{1,2}}|{NUMBER_WORD_RE})?\s*"
    r"(zile|zi|saptamani|saptamana)\b(?!\s+(?:de\s+)?(?:la|dupa|inainte))"
)
_AMBIGUOUS_RELATIVE = re.compile(
    rf"\b(?:saptamana\s+viitoare|weekendul\s+viitor|({WEEKDAY_RE})\s+viitoare)\b"
)
# "vineri, săptămâna viitoare" / "săptămâna viitoare, vineri": the weekday of next week.
_NEXT_WEEK_DAY = re.compile(
    rf"\b({WEEKDAY_RE})\s*,?\s*(?:din\s+)?saptamana\s+(?:viitoare|urmatoare)\b"
    rf"|\bsaptamana\s+(?:viitoare|urmatoare)\s*,?\s*(?:de\s+|pe\s+|in\s+|adica\s+)?({WEEKDAY_RE})\b"
)
# "weekendul ăsta, sâmbătă": this weekend's day.
_THIS_WEEKEND_DAY = re.compile(
    r"\bweekendul\s+(?:asta|acesta|care\s+vine)\s*,?\s*(?:adica\s+|pe\s+)?(sambata|duminica)\b"
    r"|\b(sambata|duminica)\s*,?\s*(?:din\s+)?weekendul\s+(?:asta|acesta)\b"
)
_EASTER = re.compile(
    r"\b(?:(a\s+doua\s+zi\s+de|lunea\s+de|a\s+treia\s+zi\s+de)\s+)?paste(?:lui)?\b"
)
_CHRISTMAS = re.compile(r"(?<!\bmos )(?<!\bmosul )\b(?:de|ziua\s+de|in\s+ziua\s+de)\s+craciun\b")
_WHICH_MONTH = re.compile(
    r"\s*,?\s*(?:din\s+|pe\s+)?luna\s+(viitoare|urmatoare|asta|aceasta|curenta)\b"
)
_FIXED_HOLIDAY_DATES = {
    "ziua copilului": (1, 6),
    "1 iunie": (1, 6),
    "revelion": (31, 12),
    "a doua zi de craciun": (26, 12),
    "mos nicolae": (6, 12),
    "sfantul nicolae": (6, 12),
    "sf nicolae": (6, 12),
    "dragobete": (24, 2),
    "halloween": (31, 10),
}
_FIXED_HOLIDAYS = re.compile(
    r"\b(?:de|la|pe|in\s+ziua\s+de)\s+(ziua\s+copilului|revelion\w*|a\s+doua\s+zi\s+de\s+craciun|"
    r"mos\s+nicolae|sfantul\s+nicolae|sf\.?\s+nicolae|dragobete|halloween)\b"
)
_PENTECOST = re.compile(r"\b(?:(a\s+doua\s+zi\s+de|lunea\s+de)\s+)?rusalii(?:lor)?\b")


def _holiday_key(raw: str) -> str:
    key = re.sub(r"\s+", " ", raw).replace("sf.", "sf")
    return "revelion" if key.startswith("revelion") else key


_PICK_FIRST = re.compile(r"\b(prima|primul|prima\s+varianta|cea\s+dintai|cea\s+de\s+acum|asta)\b")
_PICK_SECOND = re.compile(
    r"\b(a\s+doua|cea\s+de\s+dupa|cealalta|ultima|urmatoarea|cea\s+de-a\s+doua|al\s+doilea)\b"
)


@dataclass(frozen=True)
class DateMention:
    value: date
    pos: int
    strength: Strength
    option_group: int | None = None  # mentions offered as alternatives ("A sau B") share one


def orthodox_easter(year: int) -> date:
    """Orthodox Easter (Julian computus, shifted to the Gregorian calendar: valid 1900-2099)."""
    a, b, c = year % 4, year % 7, year % 19
    d = (19 * c + 15) % 30
    e = (2 * a + 4 * b - d + 34) % 7
    month = (d + e + 114) // 31
    day = (d + e + 114) % 31 + 1
    return date(year, month, day) + timedelta(days=13)


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


RECENT_PAST_DAYS = 45


def _roll_forward(day: int, month: int, today: date, year: int | None) -> date | None:
    """Day and month without a year: the next such date on or after today, except a date a
    few weeks back ("am avut petrecere pe 3 octombrie"), which stays in the past."""
    if year is not None:
        if year < 100:
            year += 2000
        return _safe_date(year, month, day)
    this_year = _safe_date(today.year, month, day)
    if this_year and timedelta(0) < today - this_year <= timedelta(days=RECENT_PAST_DAYS):
        return this_year
    last_year = _safe_date(today.year - 1, month, day)
    if last_year and timedelta(0) < today - last_year <= timedelta(days=RECENT_PAST_DAYS):
        return last_year
    for y in (today.year, today.year + 1):
        candidate = _safe_date(y, month, day)
        if candidate and candidate >= today:
            return candidate
    return None


def _next_day_of_month(
    day: int, today: date, weekday: int | None, month_hint: tuple[int, int] | None
) -> date | None:
    """A day number alone: the first date on/after today with that day (and weekday, if said),
    starting from the month of a recent mention when there is one."""
    year, month = month_hint if month_hint else (today.year, today.month)
    if (year, month) < (today.year, today.month):
        year, month = today.year, today.month
    for _ in range(14):
        candidate = _safe_date(year, month, day)
        if candidate and candidate >= today and (weekday is None or candidate.weekday() == weekday):
            return candidate
        month += 1
        if month > 12:
            year, month = year + 1, 1
    return None


def _next_weekday(today: date, weekday: int, *, allow_today: bool = False) -> date:
    ahead = (weekday - today.weekday()) % 7
    if ahead == 0 and not allow_today:
        ahead = 7
    return today + timedelta(days=ahead)


# "Trimit avansul mâine", "vă răspund mâine": the day of an errand, not of the party.
_ERRAND = re.compile(
    r"\b(?:trimit\w*|platesc|platim|achit(?:am|\b)|vir(?:ez|am)\b|transfer(?:am|\b)|avans\w*|"
    r"revin\w*|revenim|va\s+sun\w*|sunam|va\s+scriu|va\s+scriem|raspund\w*|"
    r"va\s+(?:dau|dam)\s+(?:un\s+)?(?:telefon|raspuns|de\s+veste)|anunt\w*|plata)\b"
)


def _errand_clause(folded: str, pos: int) -> bool:
    clause = clause_at(folded, pos)
    return bool(_ERRAND.search(folded[clause.start : clause.end]))


def _rejected(folded: str, start: int) -> bool:
    """`nu 6` / `în loc de 7 martie`: a value being corrected away; `până pe 10`: a deadline
    (for a deposit, an answer), not the party."""
    before = folded[max(0, start - 24) : start]
    return bool(
        re.search(r"(?:\bnu|in loc de|inloc de)\s*,?\s*(?:pe\s+)?$", before)
        or re.search(r"\b(?:pana|cel\s+tarziu|termen\w*|scadent\w*)\s*(?:pe|la|in|de)?\s*$", before)
    )


def mentions_in(message: ChatMessage, recent: list[DateMention]) -> list[DateMention]:
    """Date mentions in one message, in text order."""
    text = fold(message.text)
    today = message.ts.date()
    found: list[DateMention] = []
    taken: list[tuple[int, int]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in taken)

    def add(value: date | None, start: int, end: int, strength: Strength) -> None:
        if value is None or not free(start, end) or _rejected(text, start):
            taken.append((start, end))
            return
        taken.append((start, end))
        found.append(DateMention(value, start, strength))

    for m in _DAY_MONTH.finditer(text):
        month_word = _MONTH_WORD.search(text, m.start(1) + len(m.group(1)))
        if not month_word:
            continue
        if month_word.group(1) == "mai" and not re.match(_NOT_MAY, text[month_word.end() :]):
            continue
        month = MONTHS[month_word.group(1)]
        year = int(m.group(2)) if m.group(2) else None
        add(_roll_forward(int(m.group(1)), month, today, year), m.start(), m.end(), "strong")
        # Enumerated days sharing this month: "sâmbătă 14, duminică 22 și sâmbătă 28 martie".
        head = text[: m.start()]
        enum = re.search(
            rf"((?:(?:{WEEKDAY_RE})\s+)?\d{{1,2}}\s*(?:,|\bsi\b|\bsau\b)\s*(?:(?:{WEEKDAY_RE})\s+)?)+$",
            head,
        )
        if enum:
            for d in re.finditer(r"\d{1,2}", enum.group(0)):
                pos = enum.start() + d.start()
                add(_roll_forward(int(d.group()), month, today, year), pos, pos + 2, "strong")

    for m in _ROMAN_DAY_MONTH.finditer(message.text):
        year = int(m.group(3)) if m.group(3) else None
        value = _roll_forward(int(m.group(1)), ROMAN_MONTHS[m.group(2)], today, year)
        add(value, m.start(), m.end(), "strong")

    for m in _EN_MONTH_DAY.finditer(text):
        year = int(m.group(3)) if m.group(3) else None
        value = _roll_forward(int(m.group(2)), EN_MONTHS[m.group(1)], today, year)
        add(value, m.start(), m.end(), "strong")
    for m in _EN_DAY_MONTH.finditer(text):
        year = int(m.group(3)) if m.group(3) else None
        value = _roll_forward(int(m.group(1)), EN_MONTHS[m.group(2)], today, year)
        add(value, m.start(), m.end(), "strong")

    for m in _NUMERIC.finditer(text):
        day, month = int(m.group(1)), int(m.group(2))
        if not m.group(3) and re.match(rf"\s*{_UNITS_AFTER_NUMBER}", text[m.end() :]):
            continue  # "10-12 copii", "5-6 ani": a range of a count
        before = text[max(0, m.start() - 8) : m.start()]
        if re.search(r"(?:ora|orele|la)\s*$", before) and not m.group(3):
            continue  # "la 16.30" is a time
        if not (1 <= month <= 12 and 1 <= day <= 31):
            continue
        year = int(m.group(3)) if m.group(3) else None
        add(_roll_forward(day, month, today, year), m.start(), m.end(), "strong")

    month_hint = None
    if recent:
        last = recent[-1].value
        month_hint = (last.year, last.month)

    def day_alone(day: int, weekday: int | None, end: int) -> date | None:
        which = _WHICH_MONTH.match(text, end)
        if which:  # "pe 15 luna viitoare" / "pe 15 luna asta"
            ahead = 1 if which.group(1) in ("viitoare", "urmatoare") else 0
            year, month = today.year, today.month + ahead
            if month > 12:
                year, month = year + 1, 1
            return _next_day_of_month(day, today, weekday, (year, month))
        for mention in reversed(recent + found):
            if mention.value.day == day and (weekday is None or mention.value.weekday() == weekday):
                return mention.value
        return _next_day_of_month(day, today, weekday, month_hint)

    for m in _WEEKDAY_DAY.finditer(text):
        if 1 <= int(m.group(2)) <= 31:
            value = day_alone(int(m.group(2)), WEEKDAYS[m.group(1)], m.end())
            add(value, m.start(), m.end(), "strong")
    for m in _DAY_ONLY.finditer(text):
        if 1 <= int(m.group(1)) <= 31:
            add(day_alone(int(m.group(1)), None, m.end()), m.start(), m.end(), "strong")

    for m in _TOMORROW.finditer(text):
        if _errand_clause(text, m.start()):
            continue
        add(today + timedelta(days=2 if m.group(1) == "poimaine" else 1), *m.span(), "strong")
    for m in _TODAY.finditer(text):
        if _errand_clause(text, m.start()):
            continue
        add(today, *m.span(), "strong")
    for m in _IN_N.finditer(text):
        if m.group(1) is None and not m.group(0).startswith("intr-"):
            continue  # "în săptămâna …" is not a distance
        n = to_int(m.group(1) or "1") or 0
        days = n * 7 if m.group(2).startswith("sapt") else n
        target = today + timedelta(days=days)
        weekday = re.search(rf"\b({WEEKDAY_RE})\b", text[m.end() : m.end() + 30]) or re.search(
            rf"\b({WEEKDAY_RE})\s*,?\s*$", text[max(0, m.start() - 25) : m.start()]
        )
        if weekday:
            # The weekday nearest the target; a tie-ish 4 days goes forward, since going back
            # 3+ days would land in the week before ("duminică peste o săptămână" said on a
            # Wednesday is not this Sunday).
            delta = (WEEKDAYS[weekday.group(1)] - target.weekday()) % 7
            target += timedelta(days=delta if delta <= 4 else delta - 7)
            if days >= 7 and (target - today).days < 7:
                target += timedelta(days=7)  # "sâmbătă peste o săptămână" is not this Saturday
        add(target, m.start(), m.end(), "strong")

    for m in _EASTER.finditer(text):
        easter = orthodox_easter(today.year)
        if easter < today:
            easter = orthodox_easter(today.year + 1)
        offset = {None: 0, "a doua zi de": 1, "lunea de": 1, "a treia zi de": 2}
        key = re.sub(r"\s+", " ", m.group(1)) if m.group(1) else None
        add(easter + timedelta(days=offset.get(key, 0)), m.start(), m.end(), "holiday")
    for m in _CHRISTMAS.finditer(text):
        add(_roll_forward(25, 12, today, None), m.start(), m.end(), "holiday")
    for m in _FIXED_HOLIDAYS.finditer(text):
        holiday_day, holiday_month = _FIXED_HOLIDAY_DATES[_holiday_key(m.group(1))]
        add(_roll_forward(holiday_day, holiday_month, today, None), *m.span(), "holiday")
    for m in _PENTECOST.finditer(text):
        pentecost = orthodox_easter(today.year) + timedelta(days=49)
        if pentecost < today:
            pentecost = orthodox_easter(today.year + 1) + timedelta(days=49)
        add(pentecost + timedelta(days=1 if m.group(1) else 0), *m.span(), "holiday")

    for m in _NEXT_WEEK_DAY.finditer(text):
        next_monday = today + timedelta(days=7 - today.weekday())
        days_in = WEEKDAYS[m.group(1) or m.group(2)]
        add(next_monday + timedelta(days=days_in), m.start(), m.end(), "strong")
    for m in _THIS_WEEKEND_DAY.finditer(text):
        weekend_day = WEEKDAYS[m.group(1) or m.group(2)]
        add(_next_weekday(today, weekend_day, allow_today=True), m.start(), m.end(), "strong")
    for m in _AMBIGUOUS_RELATIVE.finditer(text):
        add(today, m.start(), m.end(), "ambiguous")
    for m in _WEEKDAY.finditer(text):
        qualifier = m.group(2)
        if qualifier in ("viitoare", "viitor", "urmatoare", "de dupa", "cealalta"):
            add(today, m.start(), m.end(), "ambiguous")
            continue
        this_week = qualifier in ("asta", "aceasta", "ce vine", "care vine")
        if not qualifier:
            # "Sâmbătă la 17 e perfect" after "sâmbătă 25 aprilie … duminică 26": the date
            # just offered on that weekday.
            offered = next(
                (
                    x.value
                    for x in reversed(recent + found)
                    if x.strength == "strong"
                    and x.value.weekday() == WEEKDAYS[m.group(1)]
                    and today <= x.value <= today + timedelta(days=45)
                ),
                None,
            )
            if offered is not None:
                add(offered, m.start(), m.end(), "strong")
                continue
        strength: Strength = "strong" if this_week else "weekday"
        add(_next_weekday(today, WEEKDAYS[m.group(1)]), m.start(), m.end(), strength)

    found.sort(key=lambda x: x.pos)
    return _mark_options(text, found)


def _mark_options(text: str, found: list[DateMention]) -> list[DateMention]:
    """Two strong mentions joined by 'sau' are alternatives offered, not facts."""
    strong = [f for f in found if f.strength == "strong"]
    out = list(found)
    for a, b in itertools.pairwise(strong):
        between = text[a.pos : b.pos]
        if re.search(r"\bsau\b", between):
            group = a.pos
            out = [
                DateMention(x.value, x.pos, x.strength, group) if x in (a, b) else x for x in out
            ]
    return out


@dataclass(frozen=True)
class DateDecision:
    value: date | None
    reason: str
    weak: bool = False  # only a bare weekday ("sâmbătă"): a guess, not a fixed date


def resolve_date(messages: list[ChatMessage]) -> DateDecision:
    strong: list[tuple[int, DateMention]] = []
    holidays: list[DateMention] = []
    weekdays: list[DateMention] = []
    ambiguous = False
    recent: list[DateMention] = []
    for index, message in enumerate(messages):
        found = mentions_in(message, recent)
        for mention in found:
            if mention.strength == "strong":
                if mention.value < message.ts.date():
                    continue  # a past date: a previous party, not this booking
                strong.append((index, mention))
                recent.append(mention)
            elif mention.strength == "holiday":
                holidays.append(mention)
            elif mention.strength == "weekday":
                weekdays.append(mention)
            else:
                ambiguous = True
    if strong:
        index, last = strong[-1]
        if last.option_group is not None:
            group = [m for i, m in strong if i == index and m.option_group == last.option_group]
            reply = next(
                (m for m in messages[index + 1 :] if m.direction != messages[index].direction),
                None,
            )
            if reply is not None and len(group) >= 2:
                folded = fold(reply.text)
                if _PICK_FIRST.search(folded):
                    return DateDecision(group[0].value, "date: first of the offered dates")
                if _PICK_SECOND.search(folded):
                    return DateDecision(group[1].value, "date: second of the offered dates")
        return DateDecision(last.value, "date: last explicit mention")
    if holidays:
        return DateDecision(holidays[-1].value, "date: from a holiday")
    if weekdays and not ambiguous:
        return DateDecision(weekdays[-1].value, "date: next such weekday", weak=True)
    if ambiguous:
        return DateDecision(None, "date: ambiguous relative date")
    return DateDecision(None, "date: not mentioned")
