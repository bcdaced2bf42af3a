"""Text helpers for Romanian chat: diacritic folding that keeps character offsets, sentence and
clause splitting that knows address abbreviations, and number words."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from shared.crm.heuristics.lexicon import (
    ALIAS_TO_NAME,
    AMBIGUOUS_CHARACTERS,
    SERVICE_PATTERNS,
    STOP_NAMES,
)


def fold(text: str) -> str:
    """Lowercase and strip diacritics, one output character per input character, so a match on
    the folded text can be sliced from the original."""
    out = []
    for ch in text:
        base = unicodedata.normalize("NFD", ch)[0]
        low = base.lower()
        out.append(low[0] if low else base)
    return "".join(out)


# ---- word classes: the lexicon's questions --------------------------------------------------


def is_stop_word(word: str) -> bool:
    return fold(word) in STOP_NAMES


def names_an_item(word: str) -> bool:
    """A character or a service ("Elsa", "Popcorn"), not the name of a package."""
    key = fold(word)
    return key in ALIAS_TO_NAME or any(p.search(key) for _, p in SERVICE_PATTERNS)


def is_character_name(word: str) -> bool:
    key = fold(word)
    return key in ALIAS_TO_NAME and key not in AMBIGUOUS_CHARACTERS


def strip_diacritics(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


# Abbreviations after which a period does not end a sentence (folded).
ABBREVIATIONS = frozenset(
    {
        "str",
        "nr",
        "bl",
        "sc",
        "ap",
        "et",
        "bd",
        "bld",
        "b-dul",
        "bdul",
        "sos",
        "jud",
        "com",
        "al",
        "sect",
        "dr",
        "sf",
        "prel",
        "loc",
        "buc",
        "ds",
        "dl",
        "dna",
        "pt",
        "aprox",
        "tel",
        "mun",
        "or",
        "cart",
        "int",
        "calea",
    }
)

_SENTENCE_END = re.compile(r"[.!?…]+(?=\s|$)|\n+")


@dataclass(frozen=True)
class Span:
    start: int
    end: int


def sentences(text: str) -> list[Span]:
    """Sentence spans; a period right after an abbreviation or a single letter does not split."""
    folded = fold(text)
    spans: list[Span] = []
    start = 0
    for m in _SENTENCE_END.finditer(folded):
        if m.group().startswith("."):
            word = re.search(r"([\w-]+)$", folded[start : m.start()])
            if word and (
                word.group(1) in ABBREVIATIONS
                or (len(word.group(1)) == 1 and word.group(1).isalpha())
            ):
                continue
        if folded[start : m.start()].strip():
            spans.append(Span(start, m.end()))
        start = m.end()
    if folded[start:].strip():
        spans.append(Span(start, len(text)))
    return spans


_CLAUSE_SPLIT = re.compile(r"[,;:!?()\n|•]|\.(?=\s)|\s(?:dar|insa|doar|ci|iar)\s|\s[-–—]\s")


def clause_at(folded: str, pos: int) -> Span:
    """The clause (between commas, semicolons, bars, bullets, sentence ends, 'dar', 'doar',
    dashes) around pos."""
    start = 0
    for m in _CLAUSE_SPLIT.finditer(folded):
        if m.end() <= pos:
            start = m.end()
        elif m.start() >= pos:
            return Span(start, m.start())
    return Span(start, len(folded))


# Romanian numbers in words, folded (no diacritics); amounts in words also use the hundreds and
# thousands (heuristics.money).
UNIT_WORDS = {
    "un": 1,
    "unu": 1,
    "o": 1,
    "una": 1,
    "doi": 2,
    "doua": 2,
    "trei": 3,
    "patru": 4,
    "cinci": 5,
    "sase": 6,
    "sapte": 7,
    "opt": 8,
    "noua": 9,
}
TEEN_WORDS = {
    "zece": 10,
    "unsprezece": 11,
    "doisprezece": 12,
    "douasprezece": 12,
    "treisprezece": 13,
    "paisprezece": 14,
    "cincisprezece": 15,
    "saisprezece": 16,
    "saptesprezece": 17,
    "optsprezece": 18,
    "nouasprezece": 19,
}
TENS_WORDS = {
    "douazeci": 20,
    "treizeci": 30,
    "patruzeci": 40,
    "cincizeci": 50,
    "saizeci": 60,
    "saptezeci": 70,
    "optzeci": 80,
    "nouazeci": 90,
}
NUMBER_WORDS = {
    **UNIT_WORDS,
    **TEEN_WORDS,
    **TENS_WORDS,
    "ambele": 2,
    "amandoua": 2,
    "amandoi": 2,
}

NUMBER_WORD_RE = "|".join(sorted(NUMBER_WORDS, key=len, reverse=True))


def to_int(token: str) -> int | None:
    token = token.strip().lower()
    if token.isdigit():
        return int(token)
    return NUMBER_WORDS.get(fold(token))


def title_word(word: str) -> str:
    """'andrei' → 'Andrei', 'cluj-napoca' → 'Cluj-Napoca'."""
    return "-".join(p[:1].upper() + p[1:] for p in word.split("-"))


_LABEL = re.compile(r"(?:^|(?<=[.!?\n]))\s*([A-ZĂÂÎȘȚ][\w-]{2,})\s*:")


FIELD_LABELS = frozenset(
    {
        "data",
        "ora",
        "adresa",
        "locatia",
        "pret",
        "pretul",
        "avans",
        "avansul",
        "total",
        "totalul",
        "rest",
        "restul",
        "plata",
        "personaj",
        "personajul",
        "personaje",
        "copii",
        "telefon",
        "nume",
        "suma",
        "durata",
        "servicii",
        "sarbatorit",
        "sarbatorita",
        "varsta",
        "pachet",
        "pachetul",
        "tarif",
        "cost",
        "obs",
        "observatii",
        "detalii",
    }
)
PHONE_NUMBER = re.compile(r"(?<!\d)(?:\+?40[\s.]?|0)7\d{2}[\s.-]?\d{3}[\s.-]?\d{3}(?!\d)")

_LOWER_LABEL = re.compile(r"(?:^|(?<=[.!?\n]))\s*([a-zăâîșț][\w-]{2,})\s*:")
_PRICE_HINT = re.compile(r"\d\s*(?:de\s+)?(?:lei|ron|euro|eur|€)")


# A package per line: "🔹 Premium – 3 ursitoare + fum greu – 1.200 lei".
_DASH_LABEL = re.compile(r"(?m)^[^\w\n]*([A-ZĂÂÎȘȚ][\w-]{2,})\s*[–—-]\s+(?=\S)")
_CURRENCY_WORDS = frozenset({"lei", "ron", "euro", "eur", "de", "buc"})


def _dash_labels(text: str) -> list[re.Match[str]]:
    """Line labels followed by what the package holds (not "Popcorn – 300 lei", an item)."""
    out = []
    for m in _DASH_LABEL.finditer(text):
        line = text[m.end() :].split("\n", 1)[0]
        words = [w for w in re.findall(r"[^\W\d_]{3,}", fold(line)) if w not in _CURRENCY_WORDS]
        if words and re.search(r"\d", line):
            out.append(m)
    return out


# Packages in one line, each a name and its contents in brackets: "Basic (1 personaj) 600 lei;
# Premium (2 personaje + baloane) 1100 lei".
_PAREN_LABEL = re.compile(r"(?<![\w-])([A-ZĂÂÎȘȚ][\w-]{2,})\s*\((?=[^)]*\))")


def _paren_labels(text: str) -> list[re.Match[str]]:
    """Package names before their contents in brackets (not "Elsa (2 ore) 600 lei", an item)."""
    return [m for m in _PAREN_LABEL.finditer(text) if not names_an_item(m.group(1))]


def labelled_segments(text: str) -> list[tuple[str, int, int]]:
    """Options written as 'Mini: … Standard: … Maxi: …' (or one package per line, 'Clasic – …')
    → [(folded label, start, end)], or [] when the message has fewer than two such labels."""
    labels = list((_LOWER_LABEL if text == text.lower() else _LABEL).finditer(text))
    if len(labels) < 2:
        labels = _dash_labels(text)
    if len(labels) < 2:
        labels = _paren_labels(text)
    if len(labels) < 2 or any(fold(m.group(1)) in FIELD_LABELS for m in labels):
        return []  # a recap form ("Data: … Preț: … Avans: …"), not a menu
    out = []
    for i, label in enumerate(labels):
        end = labels[i + 1].start() if i + 1 < len(labels) else len(text)
        out.append((fold(label.group(1)), label.end(), end))
    priced = [o for o in out if _PRICE_HINT.search(fold(text[o[1] : o[2]]))]
    return out if len(priced) >= 2 else []


_JOINERS = {"\u200d", "\ufe0f", "\ufe0e", "\u20e3"}


def _is_pictograph(ch: str) -> bool:
    if ch in _JOINERS:
        return True
    category = unicodedata.category(ch)
    # emoji, dingbats, arrows … (So) and emoji modifiers (Sk outside ASCII: skin tones)
    return category == "So" or (category == "Sk" and ord(ch) > 0x7F)


def readable(text: str) -> str:
    """The text as the rules read it: emoji become a space ("Eric 🎂 7 ani" → "Eric 7 ani"), and
    a message shouted in capitals is lowercased, so it reads like a chat typed all in lowercase
    (names and words are then recognized the same way)."""
    if any(_is_pictograph(ch) for ch in text):
        # An emoji between words separates them like a comma ("pe 11.09 ⏰ ora 15"); next to
        # punctuation, or at either end of a line, it is only a space.
        marked = "".join("\x00" if _is_pictograph(ch) else ch for ch in text)
        marked = re.sub(r"[ \t]*\x00[\x00 \t]*", "\x00", marked)
        marked = re.sub(r"(?:(?<=^)|(?<=\n)|(?<=[^\w\s]))\x00|\x00(?=[^\w\s]|$|\n)", " ", marked)
        text = marked.replace("\x00", ", ")
        text = re.sub(r"[ \t]{2,}", " ", text)
        text = re.sub(r"(?m)^[ \t]+|[ \t]+$|[ \t]+(?=[,.!?;])", "", text)
    letters = [ch for ch in text if ch.isalpha()]
    if len(letters) >= 8 and all(ch.isupper() for ch in letters):
        text = text.lower()
    return text
