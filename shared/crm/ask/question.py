"""A staff question read once: folded text (lowercase, no diacritics), the moment it is asked
(today in Europe/Bucharest), the dates it names (absolute or relative to today) and its tense.

Date phrases are cut out of the text once read, so "luna viitoare" does not also read as "the
next party" and "anul trecut" does not make the question past tense."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from shared.crm.heuristics.dates import MONTHS
from shared.crm.heuristics.text import fold

_FULL_MONTHS = {name: n for name, n in MONTHS.items() if len(name) >= 5 or name == "mai"}
_MONTH_ANY = "|".join(sorted(MONTHS, key=len, reverse=True))
_MONTH_FULL = "|".join(sorted(_FULL_MONTHS, key=len, reverse=True))
_MONTH_NAMES = [
    "",
    "ianuarie",
    "februarie",
    "martie",
    "aprilie",
    "mai",
    "iunie",
    "iulie",
    "august",
    "septembrie",
    "octombrie",
    "noiembrie",
    "decembrie",
]


@dataclass(frozen=True)
class DateSpec:
    """Which days a question names. Either a range (`start`..`end`), or a month and/or day
    whose year may be missing ("din martie", "pe 30.08": the answerer picks the year)."""

    label: str
    start: date | None = None
    end: date | None = None
    year: int | None = None
    month: int | None = None
    day_from: int | None = None
    day_to: int | None = None
    one_day: bool = False

    def matches(self, day: date) -> bool:
        if self.start is not None and self.end is not None:
            return self.start <= day <= self.end
        if self.year is not None and day.year != self.year:
            return False
        if self.month is not None and day.month != self.month:
            return False
        if self.day_from is not None:
            return self.day_from <= day.day <= (self.day_to or self.day_from)
        return True

    def targets(self, years: set[int]) -> list[date]:
        """The concrete days of a one-day spec in each candidate year (for "near" searches)."""
        if self.start is not None and self.start == self.end:
            return [self.start]
        if self.month is None or self.day_from is None:
            return []
        out = []
        for year in sorted({self.year} if self.year is not None else years):
            try:
                out.append(date(year, self.month, self.day_from))
            except ValueError:
                continue
        return out


@dataclass
class Question:
    original: str
    text: str  # folded, date phrases removed
    full: str  # folded, whole
    today: date
    dates: list[DateSpec] = field(default_factory=list)
    near: bool = False

    def has(self, pattern: str) -> bool:
        return re.search(pattern, self.text) is not None

    @property
    def tense(self) -> str | None:
        """'past', 'future' or None (present: "e", "costă", "începe")."""
        if self.has(_PAST):
            return "past"
        if self.has(_FUTURE):
            return "future"
        return None


_PAST = (
    r"\b(?:a|au|am|ati|s-a|s-au|ne-a|i-a|le-a)\s+(?:mai\s+)?(?:fost|avut|venit|costat|durat|"
    r"inceput|platit|achitat|implinit|intrat|facut|comandat|rezervat|luat|dat|cheltuit|anulat|"
    r"incasat|sarbatorit|terminat|tinut|cerut|ales|nascut|intamplat)\b|"
    r"\b(?:avea|aveau|era|erau|fost|avut|pana\s+acum|pana\s+azi|pana\s+in\s+prezent|deja|"
    r"data\s+trecuta|a\s+avut\s+loc|au\s+avut\s+loc)\b"
)
_FUTURE = (
    r"\b(?:va|vor|o\s+sa|urmeaza|urmatoare\w*|urmatorul|programat\w*|viitoare|viitor|vine|vin|"
    r"implineste|are\s+loc|care\s+vine|in\s+curand)\b"
)


def _month_end(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def _month_spec(label: str, year: int, month: int) -> DateSpec:
    return DateSpec(label, date(year, month, 1), date(year, month, _month_end(year, month)))


def _year_of(text: str | None) -> int | None:
    if not text:
        return None
    year = int(text)
    return year + 2000 if year < 100 else year


def _shift_month(day: date, months: int) -> tuple[int, int]:
    index = day.year * 12 + day.month - 1 + months
    return index // 12, index % 12 + 1


class _Reader:
    def __init__(self, text: str, today: date) -> None:
        self.text = text
        self.today = today
        self.specs: list[DateSpec] = []

    def take(self, pattern: str, build: object) -> None:
        def repl(match: re.Match[str]) -> str:
            spec = build(match)  # type: ignore[operator]
            if spec is None:
                return match.group(0)
            self.specs.append(spec)
            return " "

        self.text = re.sub(pattern, repl, self.text)


def _day(label: str, year: int | None, month: int, day: int) -> DateSpec | None:
    if not 1 <= month <= 12 or not 1 <= day <= 31:
        return None
    if year is not None:
        try:
            exact = date(year, month, day)
        except ValueError:
            return None
        return DateSpec(label, exact, exact, one_day=True)
    return DateSpec(label, month=month, day_from=day, day_to=day, one_day=True)


def read_question(question: str, today: date) -> Question:
    full = " ".join(fold(question).split())
    r = _Reader(full, today)
    y = today.year

    # 1. days: 14-02-2026, 14.02.26, "1 iunie 2025", "pe 30.08", "14 februarie"
    r.take(
        r"\b(\d{1,2})[./-](\d{1,2})[./-](\d{4}|\d{2})\b",
        lambda m: _day(m.group(0), _year_of(m.group(3)), int(m.group(2)), int(m.group(1))),
    )
    r.take(
        rf"\b(\d{{1,2}})\s+(?:lui\s+)?({_MONTH_ANY})\b\.?(?:\s+(20\d\d))?",
        lambda m: _day(m.group(0), _year_of(m.group(3)), MONTHS[m.group(2)], int(m.group(1))),
    )
    r.take(
        r"(?<![:\d])(?<!ora\s)(?<!orele\s)\b(\d{1,2})[./](\d{1,2})\b(?![./:]?\d)",
        lambda m: _day(m.group(0), None, int(m.group(2)), int(m.group(1))),
    )

    # 2. parts of a month and months: "începutul lui iunie", "din martie 2025", "luna mai"
    def part(m: re.Match[str]) -> DateSpec:
        month = MONTHS[m.group(2)]
        lo, hi = {"inceputul": (1, 10), "mijlocul": (10, 20)}.get(m.group(1), (20, 31))
        return DateSpec(m.group(0), year=_year_of(m.group(3)), month=month, day_from=lo, day_to=hi)

    r.take(
        rf"\b(inceputul|mijlocul|sfarsitul|finalul)\s+(?:lui\s+|de\s+)?({_MONTH_FULL})\b"
        r"(?:\s+(20\d\d))?",
        part,
    )
    r.take(
        rf"\b(?:din|in|pe|luna|lui|prin|pentru)\s+({_MONTH_FULL})\b(?:\s+(20\d\d))?"
        rf"|\b({_MONTH_FULL})\s+(20\d\d)\b",
        lambda m: DateSpec(
            m.group(0),
            year=_year_of(m.group(2) or m.group(4)),
            month=MONTHS[m.group(1) or m.group(3)],
        ),
    )

    # 3. relative months, weeks and days
    for pattern, shift in (
        (r"\bluna\s+(?:trecuta|anterioara|precedenta)\b", -1),
        (r"\bluna\s+(?:asta|aceasta|curenta|in\s+curs)\b", 0),
        (r"\bluna\s+(?:viitoare|urmatoare|care\s+vine)\b", 1),
    ):
        year, month = _shift_month(today, shift)
        r.take(pattern, lambda m, yy=year, mm=month: _month_spec(m.group(0), yy, mm))
    monday = today - timedelta(days=today.weekday())
    for pattern, weeks in (
        (r"\bsaptamana\s+(?:trecuta|anterioara)\b", -1),
        (r"\bsaptamana\s+(?:asta|aceasta|curenta)\b", 0),
        (r"\bsaptamana\s+(?:viitoare|urmatoare|care\s+vine)\b", 1),
    ):
        start = monday + timedelta(weeks=weeks)
        r.take(pattern, lambda m, s=start: DateSpec(m.group(0), s, s + timedelta(days=6)))
    for pattern, weeks in (
        (r"\bweekend(?:ul)?\s+(?:trecut)\b", -1),
        (r"\bweekend(?:ul)?\s+(?:asta|acesta)\b", 0),
        (r"\bweekend(?:ul)?\s+(?:viitor|urmator)\b", 1),
    ):
        saturday = monday + timedelta(days=5, weeks=weeks)
        r.take(pattern, lambda m, s=saturday: DateSpec(m.group(0), s, s + timedelta(days=1)))
    for pattern, days in (
        (r"\balaltaieri\b", -2),
        (r"\bieri\b", -1),
        (r"\b(?:azi|astazi)\b", 0),
        (r"\bpoimaine\b", 2),
        (r"\bmaine\b", 1),
    ):
        d = today + timedelta(days=days)
        r.take(pattern, lambda m, dd=d: DateSpec(m.group(0), dd, dd, one_day=True))

    # 4. years: "2025", "anul trecut", "anul ăsta", "anul viitor"; one joins a yearless spec
    years: list[tuple[str, int]] = []

    def year_taken(label: str, year: int) -> DateSpec | None:
        years.append((label, year))
        return DateSpec(label, year=year)

    r.take(
        r"\b(?:in\s+|din\s+)?anul\s+(?:trecut|precedent|anterior)\b",
        lambda m: year_taken(m.group(0), y - 1),
    )
    r.take(
        r"\b(?:in\s+|din\s+)?anul\s+(?:asta|acesta|aceasta|curent|in\s+curs)\b",
        lambda m: year_taken(m.group(0), y),
    )
    r.take(
        r"\b(?:in\s+|din\s+)?anul\s+(?:viitor|urmator)\b|\bla\s+anul\b",
        lambda m: year_taken(m.group(0), y + 1),
    )
    r.take(r"\bacum\s+(?:2|doi)\s+ani\b", lambda m: year_taken(m.group(0), y - 2))
    r.take(r"\b(?:in\s+|din\s+)?(20\d\d)\b", lambda m: year_taken(m.group(0), int(m.group(1))))

    # labels in the staff's own spelling: `fold` keeps one character per character
    written = " ".join(question.split())
    specs = [_relabel(spec, full, written) for spec in _join_years(r.specs)]
    near = re.search(
        r"\b(?:in\s+jurul|pe\s+la|aproape\s+de|in\s+preajma|cam\s+pe|aproximativ|apropiat\w*)\b",
        full,
    )
    return Question(question, " ".join(r.text.split()), full, today, specs, near is not None)


def _relabel(spec: DateSpec, full: str, written: str) -> DateSpec:
    parts = []
    for piece in spec.label.split(" + "):
        at = full.find(piece)
        parts.append(written[at : at + len(piece)] if at >= 0 else piece)
    return replace(spec, label=" ".join(parts))


def _join_years(specs: list[DateSpec]) -> list[DateSpec]:
    """ "în octombrie anul ăsta": the year-only spec gives its year to the yearless ones."""
    year_only = [s for s in specs if s.month is None and s.start is None and s.year is not None]
    yearless = [s for s in specs if s.start is None and s.month is not None and s.year is None]
    if len(year_only) != 1 or not yearless:
        return specs
    year = year_only[0].year
    out = []
    for spec in specs:
        if spec is year_only[0]:
            continue
        if spec in yearless:
            spec = DateSpec(
                f"{spec.label} + {year_only[0].label}",
                year=year,
                month=spec.month,
                day_from=spec.day_from,
                day_to=spec.day_to,
                one_day=spec.one_day,
            )
        out.append(spec)
    return out


def month_name(month: int) -> str:
    return _MONTH_NAMES[month]
