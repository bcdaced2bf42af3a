"""Services and characters booked in a Romanian chat → roles `{roleType, character, count}`.

The client's own messages (requests, questions, preferences) add items; a staff message adds its
items when it is a confirmation/recap, or when the client's next message accepts it and it is
not a list of alternatives. `fără vată`, `nu vrem animator`, `renunțăm la X` remove; `doar X`
keeps only X among characters. Counts: `3 ursitoare`, `ursitoarea rea` (the fourth), `25 de
baloane cu heliu`, `ambele aparate`, `2 animatori`. Each named character is one animator."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from shared.crm.heuristics.lexicon import (
    ALIAS_TO_NAME,
    AMBIGUOUS_CHARACTERS,
    GAMES_ARCH,
    GENERIC_ANIMATOR,
    SERVICE_PATTERNS,
)
from shared.crm.heuristics.text import (
    NUMBER_WORD_RE,
    Span,
    clause_at,
    fold,
    is_stop_word,
    labelled_segments,
    sentences,
    to_int,
)
from shared.crm.types import ChatMessage, RoleDraft

_CHARACTER_RE = re.compile(
    r"(?<![\w-])("
    + "|".join(re.escape(a) for a in sorted(ALIAS_TO_NAME, key=len, reverse=True))
    + r")(?:(?![\w-])|(?=-(?:ul|ului|l|lui)\b))"  # "bubble show-ul", "Sonic-ul"
)
# "Personaje: pirat", "și un pirat": a word that is a character only in context, in one.
_INTRODUCES_CHARACTER = re.compile(r"(?:\bpersonaj\w*\s*:|\b(?:un|o)|\banimat\w*)\s*$")

_N = rf"(\d{{1,3}}|{NUMBER_WORD_RE})"
SERVICE_ORDER = [kind for kind, _ in SERVICE_PATTERNS]
_MENTIONS_ARCADE = re.compile(r"\barcade\b|air\s+hockey|" + GAMES_ARCH)
_MODELLED = re.compile(r"balo\w*\s+(?:modelat\w*|modelabil\w*|rasucit\w*|sculptat\w*)")
_ARCADE_MACHINE = re.compile(
    r"\baparat(?:e|ele|ul)?\b(?!\s+(?:de\s+)?(?:vata|popcorn|floricele|foto|fum))"
)

_NEGATION = re.compile(
    r"(?:\bfara|\bnu\s+(?:mai\s+)?(?:vrem|vreau|dorim|doresc|luam|mai|trebuie|e\s+nevoie\s+de)|"
    r"\brenunt\w*\s+la|\bscoa\w*|\banul(?:am|ati|ez|eaza|at|ati|ati)\b|\bnu)\s+(?:\w+\s+){0,2}$"
)
_ONLY = re.compile(r"\b(?:doar|numai|decat)\s+(?:pe\s+)?(?:\w+\s+)?$")
_ACCEPT = re.compile(
    r"^\W*(?:(?:buna|salut|multumesc|multumim|perfect)\w*\W+(?:ziua\W+|seara\W+)?)?"
    r"(?:da\b|ok\b|okay|bine|bun\b|perfect|super|sigur|confirm\w*|de\s+acord|suna\s+bine|"
    r"mergem|luam|o\s+luam|il\s+luam|le\s+luam|rezerva\w*|e\s+bine|excelent|minunat|corect|"
    r"mersi|multumesc|multumim|sa\s+fie|asa\s+ramane|ramane|facem|hai|in\s+regula|"
    r"totul\s+(?:e\s+|este\s+)?(?:corect|ok|bine|in\s+regula)|e\s+corect|"
    # paying takes the offer: "Trimis avansul", "Am plătit", "Am făcut transferul"
    r"(?:am\s+)?(?:trimis|platit|achitat|virat|transferat)\b|am\s+facut\s+(?:plata|transferul))"
)
_STAFF_CONFIRMS = re.compile(
    r"\b(?:confirmat[ae]?|am\s+notat|v-am\s+notat|notat|v-am\s+trecut|am\s+trecut|rezervat\w*|"
    r"am\s+modificat|am\s+actualizat|recapitul\w*|rezumat\w*|rezervarea\s+e\s+confirmata|ramane|am\s+blocat|"
    r"v-am\s+rezervat|am\s+mutat|confirmare(?:a)?\s+(?:de\s+)?rezervar\w*)\b"
)
_REPLACE = re.compile(
    r"\b(?:schimb\w*|inlocu\w*|in\s+loc|mai\s+bine|in\s+schimb|am\s+trecut\s+pe|trecem\s+pe)\b"
)
_ALTERNATIVES = re.compile(r"\bsau\b|\bdaca\b|\bori\b")


_CAP_NAME = r"[A-ZĂÂÎȘȚ][\w'-]+(?:\s+[A-ZĂÂÎȘȚ][\w'-]+)?"
_PARTNER_AFTER = re.compile(rf"\s*(?:și|si|\+|&)\s+(?:(?:un|o|pe)\s+)?(?P<name>{_CAP_NAME})")
_PARTNER_BEFORE = re.compile(rf"(?P<name>{_CAP_NAME})\s*(?:și|si|\+|&)\s+(?:(?:un|o|pe)\s+)?$")


_FOR_A_PERSON = re.compile(r"\b(?:pentru|pt|lui|fetei|fiicei|baiatului)\.?\s+$")


def _plausible_character(name: str, folded: str, end: int) -> bool:
    """A capitalized neighbour of a character that is not a person, a place or a service."""
    if any(is_stop_word(w) or len(w) < 3 for w in name.split()):
        return False
    if any(p.search(fold(name)) for _, p in SERVICE_PATTERNS) or re.search(
        r"\b(?:str|strada|sala|restaurant\w*|bd|calea|sector)\b", fold(name)
    ):
        return False
    # "Elsa și Maria, 5 ani": a child with an age is not a character
    return not re.match(r"\s*(?:,|\()?\s*\d{1,2}\s*(?:de\s+)?an", folded[end:])


@dataclass
class _Item:
    kind: str
    character: str | None = None
    count: int | None = None
    pos: int = 0
    negated: bool = False
    only: bool = False
    option: bool = False  # one of "X sau Y": a choice not made yet
    extra: bool = False  # "și o animatoare pentru pictură": one more, besides the characters


# "anul trecut ați fost cu Elsa": an earlier party, nothing to book.
_PAST_PARTY = re.compile(
    r"\b(?:anul\s+trecut|data\s+trecuta|ultima\s+data|luna\s+trecuta|data\s+cealalta|"
    r"la\s+petrecerea\s+trecuta|altadata)\b"
)
_PRESENT = re.compile(
    r"\b(?:vrem|vreau|dorim|doresc|anul\s+acesta|anul\s+asta|acum|de\s+data\s+asta)\b"
)
_INSTEAD_OF = re.compile(r"\bin\s*loc(?:ul)?\s+(?:de|lui|a)?\s*(?:pe\s+)?$")
_ADDITIVE = re.compile(r"(?:\b(?:si|inca|plus|mai)\s+(?:o|un)|\bal\s+doilea|\ba\s+doua)\s+$")


# A number said as a time, a date or a house number is not a quantity ("ora 15 animator");
# a sentence end before it ("… avem. Două animatoare") does not make it one.
_NOT_A_COUNT_BEFORE = re.compile(r"(?:\bora|\borele|\bla|\bpe|\bnr\.?|\bpana)\s*$|[:./-]$")
_VENUE_BEFORE = re.compile(
    r"\b(?:gradinit\w*|ludotec\w*|loc(?:ul)?\s+de\s+joaca|club(?:ul)?|restaurant(?:ul)?|"
    r"cafeneaua|centrul|complexul|sala|scoala|hotel(?:ul)?|pensiunea)\s+(?:de\s+copii\s+)?$"
)


# A number that counts something else ("Luca, 6 ani", "Copii: 22") does not count the item
# after it, and neither does a number on another line or before a label of a recap form.
_OTHER_UNIT = re.compile(
    r"^\s*(?:de\s+)?(?:ani|an|anisori|copii|copiii|ore|ora|minute|min|lei|ron|euro|eur|zile)\b"
)


def _count_before(folded: str, start: int, kind: str) -> int | None:
    before = folded[max(0, start - 30) : start]
    before = re.split(r"[\n|;:]", before)[-1]
    m = re.search(rf"{_N}\s*(?:de\s+)?(?:\w+\s+)?$", before)
    if m and _OTHER_UNIT.match(before[m.end(1) :]):
        return None
    if m and _NOT_A_COUNT_BEFORE.search(before[: m.start()]):
        return None
    if m and kind in ("URSITOARE", "HELIUM_BALLOONS", "BALLOONS", "ARCADE", "ANIMATOR"):
        words_between = before[m.end(1) :].split()
        if len(words_between) <= 2:
            value = to_int(m.group(1))
            if value and value <= 200:
                return value
    return None


_COUNTED = ("URSITOARE", "HELIUM_BALLOONS", "BALLOONS", "ARCADE")


def _count_after(folded: str, pos: int) -> int | None:
    """'baloane cu heliu vrem 25, nu 15' → 25; 'baloane cu heliu – 20 buc.' → 20."""
    rest = re.split(r"[.!?\n]", folded[pos : pos + 50], maxsplit=1)[0]
    m = re.search(
        r"^\S+(?:\s+(?:cu|de)\s+\S+)?[\s,:–(-]+(?:vrem|dorim|sa\s+fie|ar\s+fi|in\s+total)?\s*"
        r"(\d{1,3})\b(?!\s*(?:de\s+)?(?:lei|ron|euro|eur|ani|ore|minute|min|copii|%|[.:,]\d))",
        rest,
    )
    return int(m.group(1)) if m and 0 < int(m.group(1)) <= 200 else None


def items_in(
    message: ChatMessage, conversation_mentions_arcade: bool, helium: bool = False
) -> list[_Item]:
    text = message.text
    folded = fold(text)
    items: list[_Item] = []
    taken: list[tuple[int, int]] = []
    lowercase_chat = text == text.lower()
    _ends: list[int] = []
    for m in _CHARACTER_RE.finditer(folded):
        alias = m.group(1)
        if alias in AMBIGUOUS_CHARACTERS and not (
            text[m.start()].isupper()
            or lowercase_chat
            or _INTRODUCES_CHARACTER.search(folded[max(0, m.start() - 20) : m.start()])
        ):
            continue
        if _VENUE_BEFORE.search(folded[max(0, m.start() - 30) : m.start()]):
            taken.append(m.span())
            continue  # "grădinița Buburuza", "Ludoteca Pinocchio": the name of a place
        taken.append(m.span())
        items.append(_Item("ANIMATOR", ALIAS_TO_NAME[alias], 1, m.start()))
        _ends.append(m.end())
    # "Jasmine și Aladdin", "un Blaze și un Fulger McQueen": a capitalized name joined to a known
    # character is a character too, even one the list does not know.
    known = [(i.pos, end) for i, end in zip(items, _ends, strict=True)]
    for start, end in known:
        follows = _PARTNER_AFTER.match(text, end)
        precedes = _PARTNER_BEFORE.search(text[max(0, start - 40) : start])
        for found, offset in ((follows, 0), (precedes, max(0, start - 40))):
            if found is None:
                continue
            name_start = offset + found.start("name")
            name = found.group("name")
            name_end = name_start + len(name)
            if any(s < name_end and name_start < e for s, e in taken) or not _plausible_character(
                name, folded, offset + found.end("name")
            ):
                continue
            if _FOR_A_PERSON.search(folded[max(0, name_start - 12) : name_start]):
                continue  # "Peppa pentru Ana și Batman pentru Tudor": Ana is a child
            taken.append((name_start, name_end))
            items.append(_Item("ANIMATOR", name, 1, name_start))
    # "Elsa și Ana": the Frozen sister, spelled the Romanian way (alone, Ana is a child's name).
    for m in re.finditer(
        r"\belsa\s*(?:si|\+|,|&)\s*(ana)\b|\b(ana)\s*(?:si|\+|,|&)\s*elsa\b", folded
    ):
        start = m.start(1) if m.group(1) else m.start(2)
        if not any(s <= start < e for s, e in taken):
            taken.append((start, start + 3))
            items.append(_Item("ANIMATOR", "Anna", 1, start))
    for generic in GENERIC_ANIMATOR:
        for m in re.finditer(rf"(?<![\w-]){re.escape(generic)}(?![\w-])", folded):
            if not any(s <= m.start() < e for s, e in taken):
                count = _count_before(folded, m.start(), "ANIMATOR")
                items.append(
                    _Item("ANIMATOR", None, count if count and count > 1 else None, m.start())
                )
    for kind, pattern in SERVICE_PATTERNS:
        for m in pattern.finditer(folded):
            if any(s <= m.start() < e for s, e in taken):
                continue
            taken.append(m.span())
            if kind == "BALLOONS" and helium:
                kind = "HELIUM_BALLOONS"
            count = _count_before(folded, m.start(), kind)
            if kind == "URSITOARE":
                clause = folded[clause_at(folded, m.start()).start : m.end() + 25]
                if re.search(r"\b(?:rea|cea\s+rea|a\s+patra)\b", clause) and not count:
                    count = 4
            items.append(_Item(kind, None, count, m.start()))
    # "animator cu jocuri și baloane modelate": twisting balloons is part of the animator's
    # show; "Elsa + baloane modelate" or "adăugăm baloane modelate" is an item of its own.
    for item in list(items):
        if item.kind != "BALLOONS" or not _MODELLED.match(folded, item.pos):
            continue
        host = [
            i for i in items if i.kind == "ANIMATOR" and i.pos < item.pos and item.pos - i.pos < 90
        ]
        between = folded[host[-1].pos : item.pos] if host else ""
        if re.search(r"\bcu\b", between) and not re.search(
            r"[+.;!?]|\bplus\b|\bsi\s+cu\b", between
        ):
            items.remove(item)
    # "decor cu baloane": balloons are what the decoration is made of (one DECORATIONS item);
    # "baloane simple pentru decor": decorating is what the balloons are for (one BALLOONS).
    for a, b in itertools.pairwise(sorted(items, key=lambda i: i.pos)):
        if {a.kind, b.kind} != {"DECORATIONS", "BALLOONS"}:
            continue
        between = folded[a.pos : b.pos]
        if re.fullmatch(r"\w+(?:\s+\w+)?\s+(?:cu|din|de|pentru|la|ca)\s+(?:\w+\s+)?", between):
            items.remove(b)
    if conversation_mentions_arcade:
        for m in _ARCADE_MACHINE.finditer(folded):
            if any(s <= m.start() < e for s, e in taken):
                continue
            count = _count_before(folded, m.start(), "ARCADE")
            items.append(_Item("ARCADE", None, count, m.start()))
    for item in items:
        before = folded[clause_at(folded, item.pos).start : item.pos]
        item.negated = bool(_NEGATION.search(before))
        item.only = bool(_ONLY.search(folded[max(0, item.pos - 20) : item.pos]))
        if item.character and _REPLACE.search(folded[clause_at(folded, item.pos).start : item.pos]):
            item.only = True  # "putem schimba cu Elsa?": the new character replaces the old
        if item.count is None and item.kind in _COUNTED:
            item.count = _count_after(folded, item.pos)
    spans = sentences(text)
    for item in items:
        if item.character and _INSTEAD_OF.search(folded[max(0, item.pos - 20) : item.pos]):
            # "vrea Moana în loc de Elsa": Elsa goes, the other character replaces her
            item.negated, item.only = True, False
            around = clause_at(folded, item.pos)
            for other in items:
                if other.character and other is not item and around.start <= other.pos < item.pos:
                    other.only = True
        if item.kind == "ANIMATOR" and not item.character:
            # …unless the sentence goes on to name who it is ("și o animatoare, Ariel")
            sentence_end = next(
                (sp.end for sp in spans if sp.start <= item.pos < sp.end), len(text)
            )
            named_later = any(o.character and item.pos < o.pos < sentence_end for o in items)
            item.extra = not named_later and bool(
                _ADDITIVE.search(folded[max(0, item.pos - 12) : item.pos])
            )
    items = [i for i in items if not _about_a_past_party(spans, folded, i.pos)]
    items.sort(key=lambda i: i.pos)
    characters = [i for i in items if i.character]
    # "Ninja Turtles (Leonardo)", "Frozen (Elsa)": the name in brackets is the role.
    for a, b in itertools.pairwise(characters):
        if re.fullmatch(r"[\w\s-]*\(\s*", folded[a.pos : b.pos]) and a.character != b.character:
            items.remove(a)
    characters = [i for i in items if i.character]
    for a, b in itertools.pairwise(characters):
        if re.fullmatch(
            r"[\s,]*(?:sau|ori|or)[\s,]*(?:pe\s+)?", folded[a.pos + len(a.character or "") : b.pos]
        ):
            a.option = b.option = True
    return items


def _about_a_past_party(spans: list[Span], folded: str, pos: int) -> bool:
    for span in spans:
        if span.start <= pos < span.end:
            head = folded[span.start : pos]
            past = list(_PAST_PARTY.finditer(head))
            return bool(past) and not _PRESENT.search(head[past[-1].end() :])
    return False


@dataclass
class _Booking:
    characters: dict[str, None] = field(default_factory=dict)
    services: dict[str, int | None] = field(default_factory=dict)
    animator_count: int | None = None
    generic_animator: bool = False
    extra_animators: int = 0

    def apply(self, items: list[_Item]) -> None:
        only_chars = [i.character for i in items if i.only and i.character and not i.negated]
        if only_chars:
            self.characters = {}
        for item in items:
            if item.kind == "ANIMATOR":
                if item.option and not item.negated:
                    self.generic_animator = True  # a character still to be chosen
                    continue
                if item.negated:
                    if item.character:
                        self.characters.pop(item.character, None)
                    else:
                        self.characters.clear()
                        self.generic_animator = False
                        self.animator_count = None
                        self.extra_animators = 0
                        self.services.pop("ANIMATOR", None)
                    continue
                if item.character:
                    self.characters[item.character] = None
                elif item.extra and self.characters:
                    # "și un animator" is one more only next to a named character
                    self.extra_animators = max(self.extra_animators, 1)
                else:
                    self.generic_animator = True
                    if item.count:
                        self.animator_count = item.count
                continue
            if item.negated:
                self.services.pop(item.kind, None)
                continue
            if item.count is not None or item.kind not in self.services:
                self.services[item.kind] = item.count or self.services.get(item.kind)

    def roles(self) -> list[RoleDraft]:
        roles = [RoleDraft("ANIMATOR", name, 1) for name in self.characters]
        wanted = self.animator_count or (1 if self.generic_animator else 0)
        for _ in range(max(0, wanted - len(roles)) + self.extra_animators):
            roles.append(RoleDraft("ANIMATOR", None, 1))
        for kind in SERVICE_ORDER:
            if kind in self.services and kind != "ANIMATOR":
                count = self.services[kind]
                if count is None:
                    count = 3 if kind == "URSITOARE" else 1
                roles.append(RoleDraft(kind, None, count))
        return roles


def resolve_roles(messages: list[ChatMessage]) -> list[RoleDraft]:
    arcade = any(_MENTIONS_ARCADE.search(fold(m.text)) for m in messages)
    helium = any(re.search(r"\bheliu\b", fold(m.text)) for m in messages)
    booking = _Booking()
    for index, message in enumerate(messages):
        items = items_in(message, arcade, helium)
        if not items:
            continue
        if message.from_client:
            booking.apply(items)
            continue
        folded = fold(message.text)
        reply = next((m for m in messages[index + 1 :] if m.from_client), None)
        confirms = bool(_STAFF_CONFIRMS.search(folded))
        accepted = reply is not None and (
            bool(_ACCEPT.search(fold(reply.text))) or _answers_detail_question(folded, reply)
        )
        segments = labelled_segments(message.text)
        if segments:
            # A menu of labelled options: only the option the client names counts.
            picked = _picked_segment(segments, reply)
            if picked is not None:
                start, end = picked
                booking.apply([i for i in items if start <= i.pos < end and not i.negated])
            continue
        # A price list (three or more priced lines) offers choices too, not a booking of all.
        # ("cash sau card" about the payment is no choice between services.)
        offers_alternatives = any(
            _ALTERNATIVES.search(folded[sp.start : sp.end])
            for sp in sentences(message.text)
            if any(sp.start <= i.pos < sp.end for i in items)
        ) or _is_price_list(message.text)
        if confirms or (accepted and not offers_alternatives):
            booking.apply([i for i in items if not i.negated or confirms])
            recap = confirms and re.search(r"\d", folded) is not None
            if recap and not any(i.kind == "ANIMATOR" for i in items):
                # A priced/dated staff recap without an animator: an unnamed one asked about
                # earlier was not booked.
                booking.generic_animator = False
                booking.animator_count = None
        else:
            # Staff removals still count ("am scos vata").
            booking.apply([i for i in items if i.negated])
    return booking.roles()


# The offer ends by asking for a detail of the booking ("… 450 lei. Adresa?"); a reply that
# gives it, without declining, takes the offer.
_DETAIL_QUESTION = re.compile(
    r"\b(?:adresa|unde|la\s+ce\s+ora|ce\s+ora|ora\s+si\s+adresa|cum\s+(?:o|il|se)\s+"
    r"(?:cheama|numeste)|cati\s+copii|cati\s+ani)\b[^.!?]*\?\s*\W*$"
)
_DECLINE = re.compile(
    r"\b(?:nu|scump\w*|prea\s+mult|ma\s+mai\s+gandesc|ne\s+mai\s+gandim|revin|altceva|alt\s+personaj)\b"
)


_PRICED_LINE = re.compile(r"(?m)^[^\n]*\d\s*(?:de\s+)?(?:lei|ron|euro|eur|€)[^\n]*$")


def _is_price_list(text: str) -> bool:
    return len(_PRICED_LINE.findall(fold(text))) >= 3


def _answers_detail_question(staff_folded: str, reply: ChatMessage) -> bool:
    answer = fold(reply.text)
    return bool(_DETAIL_QUESTION.search(staff_folded)) and not _DECLINE.search(answer)


def _picked_segment(
    segments: list[tuple[str, int, int]], reply: ChatMessage | None
) -> tuple[int, int] | None:
    if reply is None:
        return None
    words = set(re.findall(r"[\w-]+", fold(reply.text)))
    picked = [(start, end) for label, start, end in segments if label in words]
    return picked[0] if len(picked) == 1 else None


def booked_check(
    roles: list[RoleDraft], messages: list[ChatMessage]
) -> Callable[[str], bool | None]:
    """For a piece of text: True when it names a booked item, False when it names only items
    that were not booked, None when it names none."""
    kinds = {r.roleType for r in roles}
    characters = {r.character for r in roles if r.character}
    arcade = any(_MENTIONS_ARCADE.search(fold(m.text)) for m in messages)
    helium = any(re.search(r"\bheliu\b", fold(m.text)) for m in messages)
    stamp = messages[0].ts if messages else None

    counts = {r.roleType: r.count for r in roles if r.roleType != "ANIMATOR"}

    def check(text: str) -> bool | None:
        if stamp is None:
            return None
        items = [
            i
            for i in items_in(ChatMessage("segment", "outbound", text, stamp), arcade, helium)
            if not i.negated
        ]
        if not items:
            return None
        for item in items:
            if item.character is not None and item.character in characters:
                return True
            if item.character is None and item.kind in kinds:
                # "3 ursitoare – 700 lei; 4 ursitoare – 850 lei": the booked quantity only
                booked_count = counts.get(item.kind)
                if item.count is None or booked_count is None or item.count == booked_count:
                    return True
        return False

    return check
