"""The celebrated child (name, age) and the number of children, from a Romanian chat.

Names come from phrases that introduce the child: `ziua lui X`, `petrecerea Mariei` (genitive),
`fetița mea, X`, `bunica lui X`, `tatăl Anei`, `X face 7 ani`, `pentru X, 5 ani`, `se numește X`,
a staff question (`Cum o cheamă pe sărbătorită?`) answered by the next client message, and staff
questions naming the child (`Câți ani face Ana?`). Each phrase scores; the best-scored name wins.
Ages come from `face/împlinește N (ani)`, `X, N ani`, `de N ani`, and answers to `câți ani`;
the last one wins (corrections). Other people's ages (`am 22 de ani`, `fratele are 4 ani`) are
ignored unless nothing else is said."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from shared.crm.heuristics.lexicon import STOP_NAMES
from shared.crm.heuristics.text import fold, is_character_name, is_stop_word, title_word, to_int
from shared.crm.types import ChatMessage

_U = "A-ZĂÂÎȘȚŞŢ"
_L = "a-zăâîșțşţ"
NAME = rf"[{_U}][{_L}]+(?:-[{_U}][{_L}]+)?"
_ANY_NAME = rf"[{_U}{_L}][{_L}]+(?:-[{_U}{_L}][{_L}]+)?"

_KIN = (
    # the possessive forms first: "fetiței noastre Sofia" must not stop at "fetiței"
    r"(?:(?:fetit\w*|fii\w*|fiul\w*|baiat\w*|baietel\w*|copil\w*|copii\w*|nepo\w*|gemen\w*)\s+"
    r"(?:noastr\w*|nostri|nostru|mele|mei|meu|mea|lor)|"
    r"nepotelul|nepoata|gemenii|sarbatoritul|sarbatorita|bebelusul|bebelusa|printesa\s+noastra|"
    r"printul\s+nostru|fetita|baietelul|baiatul|fetitei|baiatului|baietelului|fiica|fiul|fiicei|"
    r"fiului)"
)
_ADULT_KIN = (
    r"(?:bunica|bunicul|bunicii|mama|mamica|tatal|tata|tatic|nasa|nasul|nasii|matusa|unchiul|"
    r"parintii)"
)
_EVENT = (
    r"(?:ziua(?:\s+de\s+nastere)?|petrecerea|aniversarea|aniversare|botezul|serbarea|party-ul|"
    r"zilei)"
)
_AGE_VERB = (
    r"(?:face|implineste|fac|implinesc|va\s+face|va\s+implini|a\s+facut|a\s+implinit|"
    r"o\s+sa\s+faca)"
)
_AGE_UNIT = r"(?:\s*(?:de\s+)?(?:ani|anisori|anisor|an|anul)\b)"
_AGE_WORDS = (
    r"(?:un|doi|trei|patru|cinci|sase|sapte|opt|noua|zece|unsprezece|doisprezece|douasprezece)"
)


# "pentru Tudor și Ilinca (gemeni, 4 ani)": the children described before their age.
_SIBLINGS = r"(?:gemen\w*|tripleti\w*|frati\w*|surori\w*|fetit\w*|baiet\w*|copii\w*)"


@dataclass(frozen=True)
class NameMention:
    name: str
    pos: int
    weight: int


def _name_at(text: str, start: int, *, allow_lower: bool, pair: bool = True) -> str | None:
    """The name (or 'X și Y') starting at `start`, or None when it is not a plausible name."""
    first = _ANY_NAME if allow_lower else NAME
    pattern = first + (rf"(?:\s+(?:și|si)\s+{first})?" if pair else "")
    m = re.match(pattern, text[start:])
    if not m:
        return None
    if " " not in m.group(0):
        # A double given name, "Sofia Maria", "ana maria, 3 ani": a second name word that ends
        # the phrase (a comma, a bracket, the end, or the age verb).
        double = re.match(rf"({first})\s+({first})(?=\s*(?:[,.(!?]|$|{_AGE_VERB}\b))", text[start:])
        if (
            double
            and fold(double.group(1)) not in STOP_NAMES
            and fold(double.group(2)) not in STOP_NAMES
            and fold(double.group(2)) not in _NOT_SECOND_NAME
        ):
            m = double
    words = re.split(r"\s+(?:și|si)\s+", m.group(0))
    if len(words) == 2 and words[0][:1].isupper() and not words[1][:1].isupper():
        words = words[:1]  # "lui Tudor și aș vrea": a capitalized name, then a sentence goes on
    if any(fold(w) in STOP_NAMES or len(w) < 2 for w in words):
        if fold(words[0]) in STOP_NAMES or len(words[0]) < 2:
            return None
        words = words[:1]
    if any(is_character_name(w) for w in words):
        return None
    words = [" ".join(title_word(part) for part in w.split()) for w in words]
    return " și ".join(words)


# Words that can follow a name without being a second given name (places, verbs, fillers).
_NOT_SECOND_NAME = frozenset(
    {
        "acasa",
        "bucuresti",
        "iasi",
        "cluj",
        "brasov",
        "maine",
        "azi",
        "poimaine",
        "anul",
        "implineste",
    }
)


def _genitive(name: str) -> str:
    """'Mariei' → 'Maria', 'Anei' → 'Ana', 'Ilincăi' → 'Ilinca' (feminine genitive-dative)."""
    if len(name) > 3 and fold(name[-2:]) in ("ei", "ai"):
        return name[:-2] + "a"
    first, dash, rest = name.partition("-")
    if dash and len(first) > 3 and fold(first[-2:]) in ("ei", "ai"):
        return first[:-2] + "a-" + rest  # "Sofiei-Ioana" → "Sofia-Ioana"
    return name


def _double_name_start(text: str, start: int, all_lower: bool) -> int:
    """Where a name starts when the word before it is a first given name ("Sofia Maria")."""
    word = _ANY_NAME if all_lower else NAME
    before = re.search(rf"(?<![\w-])({word})\s+$", text[:start])
    if before is None or is_stop_word(before.group(1)):
        return start
    if is_character_name(before.group(1)) or fold(before.group(1)) in _NOT_FIRST_NAME:
        return start
    return before.start(1) if _name_at(text, before.start(1), allow_lower=all_lower) else start


# Words that can stand before a name without being a first given name.
_NOT_FIRST_NAME = frozenset({"sarbatorit", "sarbatorita", "sarbatoritii", "sarbatoritele"})


def name_mentions(message: ChatMessage, previous: ChatMessage | None) -> list[NameMention]:
    text = message.text
    folded = fold(text)
    out: list[NameMention] = []

    # A chat typed all in lowercase: names are lowercase too ("pt fetita mea ema").
    all_lower = not any(c.isupper() for c in text)

    def add(
        match_end: int,
        weight: int,
        *,
        allow_lower: bool = False,
        genitive: bool = False,
        pair: bool = True,
    ) -> None:
        start = match_end
        while start < len(text) and text[start] in " ,(":
            start += 1
        name = _name_at(text, start, allow_lower=allow_lower or all_lower, pair=pair)
        if not name:
            return
        if genitive:
            if fold(name[-2:]) not in ("ei", "ai") and fold(name.split("-")[0][-2:]) not in (
                "ei",
                "ai",
            ):
                return
            name = _genitive(name)
            if is_stop_word(name):  # "a fiicei mele" is not a child called Fiica
                return
        out.append(NameMention(name, start, weight))

    # "aniversarea de 5 ani a lui/a Mariei", "petrecerea de 1 an a lui matei"
    of = r"(?:de\s+\d{1,2}\s+(?:ani|an|anisori|anisor)\s+)?(?:a\s+)?"
    for m in re.finditer(rf"\b(?:{_EVENT}\s+{of}|la\s+multi\s+ani\s+)(?:lui|lu)\s+", folded):
        add(m.end(), 3, allow_lower=True)
    for m in re.finditer(rf"\b{_EVENT}\s+{of}(?=[a-z]+(?:ei|ai)\b)", folded):
        add(m.end(), 3, genitive=True, pair=False)
    for m in re.finditer(
        rf"\b(?:{_KIN}|micuta|micutul|micutei|micutului)\s*,?\s+"
        r"(?:(?:pe\s+care\s+)?o\s+cheama\s+|il\s+cheama\s+|este\s+|e\s+|se\s+numeste\s+)?",
        folded,
    ):
        add(m.end(), 3)
    # English: "our son Oliver's 5th birthday", "my daughter, Sophie"
    for m in re.finditer(
        r"\b(?:our|my)\s+(?:little\s+)?(?:son|daughter|boy|girl|grandson|granddaughter)\s*,?\s+",
        folded,
    ):
        add(m.end(), 3, pair=False)
    for m in re.finditer(rf"\b{_ADULT_KIN}\s+(?:lui|lu)\s+", folded):
        add(m.end(), 2, allow_lower=True)
    for m in re.finditer(rf"\b{_ADULT_KIN}\s+(?=[a-z]+(?:ei|ai)\b)", folded):
        add(m.end(), 2, genitive=True, pair=False)
    for m in re.finditer(
        r"\b(?:se\s+numeste|se\s+cheama|o\s+cheama|il\s+cheama|pe\s+nume|numele\s+(?:ei|lui|"
        r"fetitei|baiatului|copilului|sarbatoritului|sarbatoritei)\s+(?:e|este))\s+",
        folded,
    ):
        if not re.search(r"\b(?:ma|te)\s+$", folded[max(0, m.start() - 4) : m.start() + 1]):
            add(m.end(), 3, allow_lower=True)
    for m in re.finditer(
        r"\b(?:cati\s+ani|ce\s+varsta)\s+(?:face|implineste|are|va\s+avea)\s+", folded
    ):
        add(m.end(), 2)
    lower_name = r"[a-z]+(?:-[a-z]+)?"
    for m in re.finditer(
        rf"\b(?:pentru|pt\.?)\s+(?={lower_name}(?:\s+si\s+{lower_name})?\s*(?:,|\()\s*"
        rf"(?:{_SIBLINGS}\s*,?\s*)?(?:care\s+)?(?:{_AGE_VERB}\s+)?(?:\d|{_AGE_WORDS}\b))",
        folded,
    ):
        add(m.end(), 3)
    for m in re.finditer(rf"\bpentru\s+(?={lower_name}\s*,\s*care\s+)", folded):
        if not re.match(rf"{lower_name}\s*,\s*care\s+(?:{_AGE_VERB}\s+)?\d", folded[m.end() :]):
            add(m.end(), 2)
    # "Tudor împlinește 7 ani", "Miruna face 7 ani", "Sara și Victor fac 2 anișori".
    pair_name = rf"{lower_name}(?:\s+si\s+{lower_name})?"
    for m in re.finditer(
        rf"(?<![\w-])(?={pair_name}\s*,?\s*(?:care\s+)?{_AGE_VERB}\s+(?:\d|{_AGE_WORDS}\b))", folded
    ):
        if text[m.start()].isupper() or all_lower:
            add(m.start(), 3)
    # "Ștefan, 9 ani", "Vlad (7 ani)", "Carla 7 ani"; "Sofia Maria (3 ani)" is one double name.
    for m in re.finditer(rf"(?<![\w-])(?={lower_name}\s*(?:,|\()?\s*\d{{1,2}}{_AGE_UNIT})", folded):
        if text[m.start()].isupper() or all_lower:
            add(_double_name_start(text, m.start(), all_lower), 2)
    # A recap form: "Sărbătorit: Luca", "Sărbătorită: Ana (5 ani)".
    for m in re.finditer(r"\bsarbatorit\w*\s*:\s*", folded):
        add(m.end(), 3, pair=False)
    # "… pentru Ilinca." alone: weak, counts only when nothing better names the child.
    for m in re.finditer(r"(?<=[a-z,] )pentru\s+(?=[a-z]+\b)", folded):
        if (text[m.end()].isupper() or all_lower) and not re.match(
            r"[\w-]+\s*(?:,\s*)?(?:str|strada|bd|nr|sos|calea)\b", folded[m.end() :]
        ):
            add(m.end(), 1, pair=False)
    # Answer to the staff's "Cum o cheamă / Cum se numește …?" in the client's next message.
    if previous is not None and message.from_client and not previous.from_client:
        asked = fold(previous.text)
        if re.search(
            r"\b(?:cum\s+(?:o|il|se)\s+(?:cheama|numeste)|numele\s+(?:copilului|"
            r"sarbatorit\w*|fetitei|baiatului|bebelus\w*))",
            asked,
        ):
            word = _ANY_NAME if all_lower else NAME
            answer = re.match(rf"\s*({word}(?:\s+{word})?)(?=\s*(?:[.,!]|$))", text)
            if answer:
                name = " ".join(title_word(w) for w in answer.group(1).split())
                if not any(fold(w) in STOP_NAMES for w in name.split()):
                    out.append(NameMention(name, answer.start(1), 3))
            else:
                add(0, 3, allow_lower=True, pair=False)
    return out


def resolve_child_name(messages: list[ChatMessage]) -> str | None:
    scores: dict[str, int] = defaultdict(int)
    first_pos: dict[str, tuple[int, int]] = {}
    display: dict[str, str] = {}
    for index, message in enumerate(messages):
        previous = messages[index - 1] if index else None
        for mention in name_mentions(message, previous):
            key = fold(mention.name)
            scores[key] += mention.weight
            first_pos.setdefault(key, (index, mention.pos))
            display.setdefault(key, mention.name)
    if not scores:
        return None
    # A single name is also credited when it appears inside a pair ("Sara și Victor").
    best = max(scores, key=lambda k: (scores[k], -first_pos[k][0], -first_pos[k][1]))
    return display[best]


# ---- age -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgeMention:
    value: int
    strong: bool


_AGE_PATTERNS = (
    re.compile(
        rf"\b{_AGE_VERB}\s+(?:(\d{{1,2}}){_AGE_UNIT}?|({_AGE_WORDS}){_AGE_UNIT})"
        r"(?!\s*(?:de\s+)?(?:ore|lei|ron|copii|minute|euro|\d|[.:/]\d))"
    ),
    # "Ana-Maria (7 ani)": a double-barrelled name too
    re.compile(rf"(?<![\w-])[a-z]{{2,}}(?:-[a-z]{{2,}})?\s*(?:,|\()?\s*(\d{{1,2}}){_AGE_UNIT}"),
    re.compile(rf"\bde\s+(\d{{1,2}}){_AGE_UNIT}"),
    # "pentru fetiță, 2 ani", "(gemeni, 4 ani)": a word for the child, then the age
    re.compile(rf"(?:{_KIN}|\b{_SIBLINGS})\s*(?:,|\()?\s*(\d{{1,2}}){_AGE_UNIT}"),
)
_EN_AGE = re.compile(
    r"\b(?:(\d{1,2})(?:st|nd|rd|th)\s+birthday|turn(?:s|ing)\s+(\d{1,2})\b(?!\s*(?:pm|am|:))"
    r"|(\d{1,2})\s+years?\s+old)"
)
_WEAK_AGE = re.compile(rf"\b(?:are|avea|va\s+avea)\s+(\d{{1,2}}){_AGE_UNIT}")
_OTHER_PERSON = re.compile(
    r"\b(?:eu|fratele|fratiorul|frate|sora|surioara|verisor\w*|verisoar\w*|mama|tata|bunica|"
    r"bunicul|sotul|sotia|prietenul|prietena|colegul|colega)"
    r"(?:\s+(?:lui|ei|mea|meu|nostru|noastra|mai\s+mic|mai\s+mare))?[\s,]*$"
)


def age_mentions(message: ChatMessage, previous: ChatMessage | None) -> list[AgeMention]:
    text = message.text
    folded = fold(text)
    lowercase_chat = text == text.lower()
    out: list[tuple[int, AgeMention]] = []
    for i, pattern in enumerate(_AGE_PATTERNS):
        for m in pattern.finditer(folded):
            if i == 1 and not (text[m.start()].isupper() or lowercase_chat):
                continue
            if i == 1 and is_stop_word(folded[m.start() :].split()[0].strip(",(")):
                continue
            raw = next((g for g in m.groups() if g), "")
            value = to_int(raw) or 0
            if value > 18 or value < 1:
                continue
            if i in (0, 2) and _OTHER_PERSON.search(folded[max(0, m.start() - 25) : m.start()]):
                continue
            out.append((m.start(), AgeMention(value, True)))
    for m in _EN_AGE.finditer(folded):
        value = int(next(g for g in m.groups() if g))
        if 1 <= value <= 18:
            out.append((m.start(), AgeMention(value, True)))
    for m in _WEAK_AGE.finditer(folded):
        value = int(m.group(1))
        if value <= 18 and not _OTHER_PERSON.search(folded[max(0, m.start() - 25) : m.start()]):
            out.append((m.start(1), AgeMention(value, False)))
    if previous is not None and message.from_client and not previous.from_client:
        asked = fold(previous.text)
        if re.search(r"\b(?:cati\s+ani|ce\s+varsta|ce\s+varsta\s+are)\b", asked):
            reply = re.match(
                rf"\s*(?:\w+\s*,\s*)?(\d{{1,2}}){_AGE_UNIT}?(?!\s*(?:copii|lei|de\s+copii))", folded
            )
            if reply and int(reply.group(1)) <= 18:
                out.append((reply.start(1), AgeMention(int(reply.group(1)), True)))
    out.sort(key=lambda p: p[0])
    return [a for _, a in out]


# "Ana face 5 ani și Tudor 8", "Irina (3 ani) și Victor (6 ani)": an age said next to a name.
_NAMED_AGE = re.compile(
    rf"(?<![\w-])({_ANY_NAME})\s*(?:,|\(|[-–—:])?\s*(?:care\s+)?(?:{_AGE_VERB}\s+|are\s+)?"
    rf"(\d{{1,2}})(?:{_AGE_UNIT}|(?=\s*(?:[,.;)]|$|\s+(?:si|și)\b)))"
)


def _ages_by_name(messages: list[ChatMessage]) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for message in messages:
        text = message.text
        all_lower = not any(c.isupper() for c in text)
        for m in _NAMED_AGE.finditer(text):
            name = m.group(1)
            if not (name[0].isupper() or all_lower) or is_stop_word(name) or len(name) < 3:
                continue
            value = int(m.group(2))
            if 1 <= value <= 18:
                out.append((fold(name), value))
    return out


def resolve_child_age(messages: list[ChatMessage], child_name: str | None = None) -> int | None:
    """The child's age; with two children of different ages, the age of `child_name`."""
    if child_name:
        named = _ages_by_name(messages)
        ages: dict[str, set[int]] = defaultdict(set)
        for name, value in named:
            ages[name].add(value)
        keys = {fold(part) for part in re.split(r"[\s-]+", child_name) if part}
        mine = [value for name, value in named if name in keys]
        others = {v for name, values in ages.items() if name not in keys for v in values}
        if mine and others - {mine[-1]}:
            return mine[-1]
    strong: int | None = None
    weak: int | None = None
    for index, message in enumerate(messages):
        previous = messages[index - 1] if index else None
        for mention in age_mentions(message, previous):
            if mention.strong:
                strong = mention.value
            elif weak is None:
                weak = mention.value
    return strong if strong is not None else weak


# ---- number of children ---------------------------------------------------------------------

_KIDS_AFTER = re.compile(
    r"(?<![\d.,])(\d{1,3})\s*(?:de\s+|d\s+)?(?:copii|copiii|copilasi|invitati|colegi|prieteni|"
    r"pitici|copchii)\b"
)
_KIDS_BEFORE = re.compile(
    r"\b(?:copii|copiii)\b[^.!\d]{0,40}?(?<![\w])(?:vreo|cam|aprox\w*|in\s+jur\s+de|circa|maxim)?\s*"
    r"(\d{1,3})\b(?!\s*(?:de\s+)?(?:ani|lei|ron|ore|euro|minute|[:.]\d))"
)
_CAPACITY = re.compile(r"(?:pana\s+la|maxim(?:um)?|peste|sub|intre)\s*$")


def kids_mentions(message: ChatMessage, previous: ChatMessage | None) -> list[int]:
    folded = fold(message.text)
    out: list[tuple[int, int]] = []
    for pattern in (_KIDS_AFTER, _KIDS_BEFORE):
        for m in pattern.finditer(folded):
            if _CAPACITY.search(folded[max(0, m.start(1) - 12) : m.start(1)]):
                continue
            value = int(m.group(1))
            if 1 <= value <= 300:
                out.append((m.start(1), value))
    asked_count = (
        previous is not None
        and message.from_client
        and not previous.from_client
        and re.search(r"\bcati\s+copii\b", fold(previous.text)) is not None
    )
    if not out and asked_count:
        number = re.search(
            r"(?<![\d.,:])(\d{1,3})\b(?!\s*(?:de\s+)?(?:ani|lei|ron|ore|euro|[:.]\d))", folded
        )
        if number and 1 <= int(number.group(1)) <= 300:
            out.append((number.start(1), int(number.group(1))))
    out.sort()
    return [v for _, v in out]


def resolve_num_children(messages: list[ChatMessage]) -> int | None:
    value: int | None = None
    for index, message in enumerate(messages):
        previous = messages[index - 1] if index else None
        found = kids_mentions(message, previous)
        if found:
            value = found[-1]
    return value
