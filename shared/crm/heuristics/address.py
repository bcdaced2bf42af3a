"""Party address from a Romanian chat: a street (`Str.`, `Bd.`, `Șos.`, `Calea`, `Aleea`, …) with
its number, block, staircase, flat, sector, village, commune, county and city, plus the venue
named just before it (`Restaurant Casa Viilor`, `locul de joacă Arca lui Noe`). A venue with no
street counts too. The last address said wins (the client moved the party); a later, shorter
repetition of the same street (a staff recap) keeps the fuller version."""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.crm.heuristics.text import fold, is_stop_word, sentences, title_word
from shared.crm.types import ChatMessage

_STREET = re.compile(
    r"\b(?P<kind>str|strada|bd|bld|b-dul|bdul|bulevardul|sos|soseaua|calea|aleea|al(?=\.)|piata|"
    r"pta|intrarea|splaiul|drumul|prelungirea|prel|fundatura|str-la|ulita|"
    # national and county roads: "DN1 km 28", "DJ 101"
    r"dn\s?\d{1,3}[a-z]?|dj\s?\d{1,4}[a-z]?|drumul\s+national)\b\.?\s*(?=\w)"
)
# "Calea Moșilor 200", "Aleea Teilor nr. 4": a weak street word needs its number close by
# ("intrarea ursitoarelor ar fi pe la 21:30" is an entrance, not a street).
_WEAK_NUMBERED = re.compile(
    r"[^,.\d]{1,40}?\bnr\.?\s*\d|\s*[\w-]+(?:\s+[\w-]+){0,2}\s+\d+[a-z]?\b(?![:.]\d)"
)
_WEAK_STREET = {"calea", "aleea", "piata", "intrarea", "drumul", "ulita", "splaiul", "fundatura"}
_VENUE = re.compile(
    r"\b(?:restaurant(?:ul|ului)?|salon(?:ul|ului)?|sala|sal[ai]\s+de\s+evenimente|"
    r"loc(?:ul)?\s+de\s+joaca|ludoteca|"
    r"club(?:ul|ului)?|trampoline\s+park|park|parc(?:ul|ului)?|hotel(?:ul|ului)?|pensiun(?:ea|ii)|"
    r"vila|conac(?:ul|ului)?|"
    r"gradinita|scoala|centrul|complex(?:ul)?|ferma|cafeneaua|cafenea|terasa|"
    r"casa\s+de\s+evenimente|ballroom|palatul|castelul|cabana|hanul|crama|bistro|pub|"
    r"locatia|la\s+(?:locul|loc)\s+de\s+joaca|mall(?:ul)?|cinema(?:ul)?|casa|domeniul|resort(?:ul)?|"
    r"kids|play|gradina)\b"
)
_ADDRESS_PART = re.compile(
    r"^\s*(?:nr|numarul|bl|bloc|blocul|sc|scara|et|etaj|etajul|ap|apartament\w*|sector\w*|sect|s\d|"
    r"jud|judetul|sat|satul|comuna|com|orasul|oras|mun|municipiul|cod|loc|localitatea|cartier\w*|"
    r"zona|intrarea|buc|bucuresti|ilfov|langa|vizavi|vis-a-vis|in\s+spatele|in\s+fata|km|"
    r"colt\s+cu|intersectia|interfon\w*|cod\s+interfon)\b"
)
_NOT_ADDRESS = re.compile(
    r"^\s*(?:ora|orele|la\s+ora|la\s+\d|pe\s+\d|pe\s+la|de\s+la|\d+\s*(?:de\s+)?(?:copii|ani|lei|"
    r"ron|euro|ore|persoane|invitati)|vor|vin|va\s|e\s|este|face|pentru|si\s|dar|te\s+rog|"
    r"va\s+rog|multumesc|multumim|ok\b|data|cand|copii|avem|suntem|facem|ne\s|noi\s|eu\s|"
    r"tel|telefon|mersi|pt\s)"
)
_LANDMARK = re.compile(r"^\s*(?:la|langa|de\s+langa|in\s+spatele|in\s+fata|vizavi\s+de)\s+\w")
# A village or commune with no street ("în comuna Berceni, sat Dobroești nr. 15").
_VILLAGE = re.compile(r"\b(?i:sat(?:ul)?|comuna|com\.)\s+(?=[A-ZĂÂÎȘȚ])")
_CAPITALIZED = re.compile(r"^[A-ZĂÂÎȘȚŞŢ][\w'’.-]*$")
_CONNECTORS = {"de", "cu", "lui", "din", "la", "si", "și", "cel", "cea", "mare", "noe"}
_NOT_VENUE_WORDS = {
    "adresa",
    "acasa",
    "locatia",
    "locația",
    "la",
    "in",
    "în",
    "pe",
    "bine",
    "ok",
    "da",
    "deci",
    "noi",
    "notat",
}
_ABBREVIATIONS = {
    "str": "Str.",
    "strada": "Str.",
    "bd": "Bd.",
    "bld": "Bd.",
    "b-dul": "Bd.",
    "bdul": "Bd.",
    "sos": "Șos.",
    "nr": "nr.",
    "bl": "bl.",
    "sc": "sc.",
    "ap": "ap.",
    "et": "et.",
    "jud": "jud.",
    "com": "com.",
    "sect": "Sector",
    "sectorul": "Sector",
    "buc": "București",
    "bucuresti": "București",
}
_LOWER_KEEP = {
    "nr.",
    "bl.",
    "sc.",
    "ap.",
    "et.",
    "jud.",
    "com.",
    "sat",
    "comuna",
    "de",
    "cu",
    "lui",
    "din",
    "la",
    "cel",
    "cea",
    "și",
    "si",
}


@dataclass(frozen=True)
class AddressMention:
    text: str
    pos: int


def _segments(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Comma/colon separated pieces of text[start:end] as (start, end) offsets."""
    out = []
    cursor = start
    for m in re.finditer(r"[,:;()]", text[start:end]):
        out.append((cursor, start + m.start()))
        cursor = start + m.end()
    out.append((cursor, end))
    return out


_POSTAL_TAIL = re.compile(r"\s+\d{6}$")
_COUNTRY = re.compile(r"^\s*(?:romania|ro)\s*$")


def _looks_like_place(piece: str) -> bool:
    """'Cluj-Napoca', 'Alba Iulia', 'Mamaia Nord': 1-3 capitalized words; a postal code after
    the city, as map apps write it ('Cluj-Napoca 400363'), is part of the place."""
    words = _POSTAL_TAIL.sub("", piece.strip()).split()
    if not 1 <= len(words) <= 4:
        return False
    caps = [w for w in words if _CAPITALIZED.match(w)]
    return len(caps) >= 1 and all(_CAPITALIZED.match(w) or fold(w) in _CONNECTORS for w in words)


def _is_venue(piece: str) -> bool:
    folded = fold(piece).strip()
    words = piece.split()
    if not words or fold(words[0]).strip(".:") in _NOT_VENUE_WORDS:
        return False
    if _VENUE.match(folded):
        return any(_CAPITALIZED.match(w.strip(",.:;()")) for w in words[1:])
    return _looks_like_place(piece) and len(words) >= 2


def _forward(text: str, folded: str, start: int, end: int) -> int:
    """End of the address that starts at `start` (a street) within the sentence [.., end)."""
    pieces = _segments(text, start, end)
    stop = pieces[0][1]
    for s, e in pieces[1:]:
        piece = text[s:e].strip()
        fpiece = folded[s:e]
        if not piece:
            break
        if _NOT_ADDRESS.match(fpiece):
            break
        if _COUNTRY.match(fpiece):
            break  # "…, București 030167, România": the country adds nothing
        if _ADDRESS_PART.match(fpiece) or _looks_like_place(piece):
            stop = e
            continue
        if _LANDMARK.match(fpiece):
            # "Parcul Tineretului, la locul de joacă de lângă lac, sector 4": a description of
            # the spot, kept when the address goes on after it.
            rest = [p for p in pieces if p[0] >= e]
            if rest and _ADDRESS_PART.match(folded[rest[0][0] : rest[0][1]]):
                continue
        break
    # Strip a trailing "ora 21:00" glued without a comma, and sentence punctuation.
    tail = re.search(r"\s+(?:ora|la\s+ora|pe\s+\d)\b.*$", folded[start:stop])
    if tail:
        stop = start + tail.start()
    return stop


def _backward(text: str, folded: str, sent_start: int, start: int) -> int:
    """Start of the address: include a venue or village named just before the street."""
    head = folded[sent_start:start]
    # The first venue word close enough before the street ("Restaurant Grădina cu Tei").
    venue = next(
        (
            m
            for m in _VENUE.finditer(head)
            if len(head) - m.start() <= 70
            and re.match(
                r"\s+(?:(?:de|din|cu|lui)\s+)?(?:[A-ZĂÂÎȘȚ\d]|nr\.?\s*\d)",
                text[sent_start + m.end() :],
            )
        ),
        None,
    )
    if venue is not None:
        phrase = text[sent_start + venue.start() : start]
        named = any(_CAPITALIZED.match(w.strip(",.:;()")) for w in phrase.split()[1:])
        if named or re.match(r"\S+\s+nr\.?\s*\d", fold(phrase)):
            begin = sent_start + venue.start()
            if fold(text[begin : begin + 3]) == "la ":
                begin += 3
            return begin
    begin = start
    pieces = _segments(text, sent_start, start)
    for s, e in reversed(
        pieces[:-1] if not text[pieces[-1][0] : pieces[-1][1]].strip() else pieces
    ):
        piece = text[s:e].strip()
        if not piece:
            continue
        lead = re.match(r"\s*(?:la|în|in|pe|din|de\s+la)\s+", folded[s:e])
        if lead and _is_venue(text[s + lead.end() : e].strip()):
            begin = s + lead.end()  # "la Kids Palace, Str. …": the venue without "la"
            break
        town = re.search(r"(?:^|\s)(?:in|din)\s+(?=\S)", folded[s:e])
        if town and _looks_like_place(text[s + town.end() : e].strip()):
            begin = s + town.end()  # "locuim în Snagov, Str. …": the town said first
            break
        if _ADDRESS_PART.match(folded[s:e]) or _is_venue(piece):
            begin = s
            continue
        break
    return begin


def _clean(raw: str) -> str:
    raw = raw.strip(" ,.:;-–")
    tokens = re.findall(r"[\w'’-]+\.?|[,]", raw)
    out: list[str] = []
    all_lower = raw == raw.lower()
    for i, token in enumerate(tokens):
        if token == ",":
            if out and out[-1] != ",":
                out.append(",")
            continue
        bare = fold(token.rstrip("."))
        if bare in _ABBREVIATIONS and (bare not in ("buc", "bucuresti") or i == len(tokens) - 1):
            token = _ABBREVIATIONS[bare]
        elif bare == "s" and i + 1 < len(tokens) and tokens[i + 1].isdigit():
            token = "Sector"
        elif (all_lower and token.isalpha() and token not in _LOWER_KEEP) or (
            token.isalpha()
            and token[:1].islower()
            and i > 0
            and fold(tokens[i - 1])
            in (
                "str.",
                "str",
                "strada",
            )
        ):
            token = title_word(token)
        out.append(token)
    text = " ".join(out).replace(" ,", ",")
    # Put commas between glued parts: "nr. 5 bl. A2" -> "nr. 5, bl. A2".
    text = re.sub(r"(\w) (bl\.|sc\.|ap\.|et\.|Sector|jud\.|sat|comuna)(?=\s|$)", r"\1, \2", text)
    text = re.sub(r"(\d\w*) (București)\b", r"\1, \2", text)
    text = text.strip(" ,")
    return text[:1].upper() + text[1:]


_KEEP_LOWER = frozenset(
    {
        "noi",
        "voi",
        "acasa",
        "bloc",
        "blocul",
        "curte",
        "curtea",
        "sala",
        "parter",
        "etaj",
        "str",
        "strada",
        "sos",
        "soseaua",
        "calea",
        "aleea",
        "nr",
        "sat",
        "satul",
        "comuna",
        "jud",
        "judetul",
        "sector",
        "sect",
        "adresa",
        "vor",
        "vin",
        "copii",
        "ora",
        "ani",
        "lei",
        "langa",
        "din",
        "lui",
        "cel",
        "cea",
        "mare",
    }
)


def _recased(text: str) -> str:
    """An all-lowercase message with its content words capitalized (same length), so the rules
    that look for names ('Restaurant Casa Viilor', 'Cluj-Napoca') work on it too."""

    def cap(m: re.Match[str]) -> str:
        word = m.group()
        if len(word) < 3 or is_stop_word(word) or fold(word) in _KEEP_LOWER:
            return word
        return word[0].upper() + word[1:]

    return re.sub(r"[^\W\d_]+", cap, text)


def mentions_in(message: ChatMessage) -> list[AddressMention]:
    text = message.text
    recased = text == text.lower()
    if recased:
        text = _recased(text)
    folded = fold(text)
    found: list[AddressMention] = []
    for sentence in sentences(text):
        streets = [
            m
            for m in _STREET.finditer(folded, sentence.start, sentence.end)
            if m.group("kind") not in _WEAK_STREET
            or _CAPITALIZED.match(text[m.end() :].split(" ")[0] or "")
        ]
        streets = [
            m
            for m in streets
            if (
                _WEAK_NUMBERED.match(folded, m.end())
                if m.group("kind") in _WEAK_STREET
                else re.search(r"\d|[A-ZĂÂÎȘȚ]", text[m.end() : m.end() + 40])
            )
        ]
        if streets:
            street = streets[0]
            stop = _forward(text, folded, street.start(), sentence.end)
            begin = _backward(text, folded, sentence.start, street.start())
            found.append(AddressMention(_clean(text[begin:stop]), begin))
            continue
        village = next((m for m in _VILLAGE.finditer(text, sentence.start, sentence.end)), None)
        if village is not None:
            stop = _forward(text, folded, village.start(), sentence.end)
            begin = _backward(text, folded, sentence.start, village.start())
            found.append(AddressMention(_clean(text[begin:stop]), begin))
            continue
        if recased:
            continue  # a venue name without a street needs the writer's own capitals
        for venue in _VENUE.finditer(folded, sentence.start, sentence.end):
            after = text[venue.end() : sentence.end]
            name = re.match(
                r"\s+((?:[A-ZĂÂÎȘȚ][\w-]*|de|lui|cu|din)(?:\s+(?:[A-ZĂÂÎȘȚ][\w-]*|de|lui|cu|din))*)",
                after,
            )
            if not name or not any(_CAPITALIZED.match(w) for w in name.group(1).split()):
                continue
            stop = venue.end() + name.end()
            stop = _forward(text, folded, venue.start(), sentence.end) if stop else stop
            stop = max(stop, venue.end() + name.end())
            found.append(AddressMention(_clean(text[venue.start() : stop]), venue.start()))
            break
    return found


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", fold(text)))


# "da, sector 3" / "Sectorul 6": a reply that only adds the sector to the address given.
_SECTOR_ONLY = re.compile(
    r"^\W*(?:(?:da|ok|exact|corect|nu)\W+)?(?:e\s+|este\s+|in\s+)?(?:sector(?:ul)?|sect)\s*"
    r"(?P<n>[1-6])\W*$"
)


def resolve_address(messages: list[ChatMessage]) -> str | None:
    current: str | None = None
    for message in messages:
        sector = _SECTOR_ONLY.match(fold(message.text))
        if sector and current is not None and "sector" not in fold(current):
            current = f"{current}, Sector {sector.group('n')}"
            continue
        for mention in mentions_in(message):
            if current is not None and _words(mention.text) <= _words(current):
                continue  # a shorter repetition (recap): keep the fuller version
            current = mention.text
    return current
