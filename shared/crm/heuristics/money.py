"""Price, currency and payment status from a Romanian chat, from both sides (staff usually
quote the price). Per message: amounts with a currency (`1.200 RON`, `650 lei`, `150 de euro`,
`1050ron`) and, in a confirmation, a bare number (`Rămâne 900.`). Deposits (`avans`, `restul`),
refunds, unit prices (`15 lei/buc.`), corrected values (`în loc de 1.350`) are not the price.
A total wins within a message; listed components are summed; offered alternatives are skipped
unless the other side picks one by its label. The last message with a price wins."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from shared.crm.heuristics.text import (
    PHONE_NUMBER,
    TEEN_WORDS,
    TENS_WORDS,
    UNIT_WORDS,
    clause_at,
    fold,
    labelled_segments,
    sentences,
)
from shared.crm.types import ChatMessage

_NUM = (
    r"(?P<n>\d{1,3}(?:[.,\u202f\u00a0]\d{3})+(?:,\d{2}(?!\d))?"
    r"|\d{1,3}\s\d{3}(?=\s*(?:de\s+)?(?:lei|ron|euro|eur))"
    r"|\d+(?:,\d{1,2})?)"
)
_CURRENCY = r"(?P<c>lei|leu|ron|euro|eur|€)"
_AFTER = re.compile(rf"(?<![\d.,]){_NUM}\s*(?:de\s+)?{_CURRENCY}(?![a-z])")
_BEFORE = re.compile(rf"(?<![a-z])(?P<c>ron|eur|€)\s*{_NUM}(?![\d])")
_BARE = re.compile(r"(?<![\d.,:/])(?P<n>\d{1,2}\.\d{3}|\d{3,5})(?![\d.,:/]\d|\d)")
_PER_UNIT = re.compile(
    r"^\s*(?:/|pe\s+|per\s+|de\s+(?:persoana|copil))\s*(?:buc|bucata|bucati|personaj|ora|h\b|copil|"
    r"persoana|cap|zi|animator|balon|aparat|ursitoare)"
)
_SUM = re.compile(
    r"(?<![\d.,:/])(?:\d{1,2}\.\d{3}|\d{2,5})(?:\s*(?:lei|ron))?"
    r"(?:\s*\+\s*(?:\d{1,2}\.\d{3}|\d{2,5})(?![\d.,:/]\d|\d)(?:\s*(?:lei|ron))?)+"
)
_LIST_TOTAL = re.compile(r"\+[^.!?\n:=]{2,60}[:=]\s*(?P<n>\d{1,2}\.\d{3}|\d{3,5})(?![\d.,:/]\d|\d)")
_DEPOSIT = re.compile(r"\b(?:avans\w*|aconto|arvun\w*|garantie|restul|rest\s+de|diferent\w*)")
_REFUND = re.compile(r"\b(?:returna\w*|inapoi|rambursa\w*|despagub\w*|returnare\w*)")
# "îi dăm 50 lei bacșiș": a tip for the animator is not the price.
_TIP = re.compile(r"\b(?:bacsis\w*|ciubuc\w*|tips|as\s+a\s+tip)\b")
# "facem 900", "vă putem face 1.500 lei", "vă las la 800": the price the staff settle on.
_SETTLED_BEFORE = re.compile(
    r"\b(?:(?:va|ti|iti|v-o|v-l)\s+)?(?:(?:putem|pot)\s+)?(?:facem|face|fac|las|lasam|reducem|redus)"
    r"\s+(?:(?:doar|numai|fix|la|cu\s+tot\s+cu\s+\w+)\s+)*$"
)
# "1350 cu tot cu transport", "1.200 în total": a bare number said as the total.
_BARE_TOTAL = re.compile(
    r"(?<![\d.,:/])(?P<n>\d{1,2}\.\d{3}|\d{3,5})(?![\d.,:/]\d|\d)\s+"
    r"(?:cu\s+tot\s+cu|in\s+total|total|cu\s+totul|toate\s+inclus\w*)\b"
)
_REJECTED_BEFORE = re.compile(r"(?:in\s+loc\s+de|\bnu)\s*$")
_TOTAL = re.compile(
    r"\b(?:total\w*|in\s+total|pentru\s+tot|cu\s+totul|cu\s+tot\s+cu|suma\s+totala|"
    r"toata\s+suma)\b|="
)
_OPTIONS = re.compile(r"\b(?:sau|daca|ori|intre|varianta|optiun\w*)\b")
_UNIT_WORDS = re.compile(
    r"^\s*(?:de\s+)?(?:ani|copii|copiii|ore|minute|min|km|baloane|persoane|invitati|buc|m\b|metri|"
    r"zile|luni|%)"
)
_ADDRESS_BEFORE = re.compile(
    r"(?:\bnr|\bnumarul|\bbl|\bap|\bsc|\bet|\bsector|\bsect|\bcod|\bkm|\bcam|\bvreo|\baprox\w*)\.?\s*$"
)
_CONFIRM = re.compile(
    r"\b(?:ramane|ramanem|e\s+bine|e\s+ok|ok|bine|bun|perfect|deci|total|confirm\w*|corect|"
    r"de\s+acord|ar\s+fi|asa|bn|exact|super|pret\w*|costa|suma|platim|da)\b"
)
_PAID = re.compile(
    r"\b(?:am|a|au|s-a|ati|am\s+si)\s+(?:platit|achitat|virat|transferat|dat|trimis|facut\s+plata)\b"
    r"[^.!?]{0,40}?\b(?:integral\w*|toata\s+suma|toata\s+plata|tot\b|toti\s+banii|intreaga\s+suma|"
    r"suma\s+intreaga|complet\w*|restul|diferenta|suma\s+totala)"
    # "plătit integral", not "plătim integral la eveniment" (a promise)
    r"|\bplatit\w*\s+integral\w*\b(?![^.!?]{0,10}\b(?:acum|maine|azi|la\s+final))"
    r"|\bplata\s+(?:a\s+fost\s+)?(?:primita|incasata)\s+(?:integral|complet|in\s+totalitate)"
    r"|\bplata\s+integrala\s+(?:a\s+fost\s+)?(?:primita|incasata)\b"
    r"|\b(?:achitat\w*|platit\w*)\s+(?:integral|complet|in\s+totalitate)"
    r"|\bam\s+primit\s+(?:plata|banii|suma|restul|toata\s+suma|toti\s+banii)"
    r"|\b(?:incasat\w*|achitat\w*|platit\w*)\s+(?:integral|tot\b|100\s*%)"
    r"|\bplata\s+(?:integrala\s+)?(?:e|este|a\s+fost)\s+(?:facuta|efectuata|confirmata)\b(?!\s+partial)"
    r"|\bgata\s+am\s+(?:dat|platit|achitat|virat|trimis)\s+(?:toti\s+)?banii"
    # English: "I've sent the full amount", "paid in full", "fully paid"
    r"|\b(?:sent|paid|transferred)\s+(?:you\s+)?(?:the\s+)?(?:full|whole|entire|total)\b"
    r"|\b(?:fully\s+paid|paid\s+in\s+full)\b"
)
_PAID_VERB = re.compile(
    r"\b(?:am|a|au|s-a|ati)\s+(?:platit|achitat|virat|transferat|dat|trimis|"
    r"facut\s+(?:transferul|viramentul|plata))\b"
)
_FUTURE_PAY = re.compile(r"\b(?:cand|daca|dupa\s+ce|inainte\s+sa)\s+(?:am|a)\s+(?:platit|achitat)")
_FUTURE = re.compile(r"\b(?:voi|vom|o\s+sa|urmeaza|fac|facem|platim)\b")
_METHODS = (
    ("CASH", re.compile(r"\b(?:cash|numerar|cu\s+bani\s+gheata)\b")),
    ("CARD", re.compile(r"\bcu\s+cardul\b|\bcard\b")),
    ("TRANSFER", re.compile(r"\b(?:transfer|virament|iban|in\s+cont|am\s+virat|op\b)")),
)


@dataclass(frozen=True)
class Amount:
    value: float
    currency: str | None
    pos: int
    is_total: bool


def _parse_number(raw: str) -> float | None:
    raw = raw.replace("\u202f", "").replace("\u00a0", "").replace(" ", "")
    if re.fullmatch(r"\d{1,3}(?:\.\d{3})+,\d{2}", raw):  # 1.200,50
        raw = raw.replace(".", "").replace(",", ".")
    elif re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+", raw):
        raw = re.sub(r"[.,]", "", raw)
    else:
        raw = raw.replace(",", ".")
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if 0 < value < 1_000_000 else None


_NUMBER_WORD = "|".join(
    sorted(
        [*UNIT_WORDS, *TEEN_WORDS, *TENS_WORDS, "suta", "sute", "mie", "mii", "si", "de"],
        key=len,
        reverse=True,
    )
)
# "o mie cinci sute de lei", "nouă sute lei", "două mii de lei": a whole number in words
_WORDS_AMOUNT = re.compile(
    rf"(?<![\w-])(?P<w>(?:(?:{_NUMBER_WORD})\s+)*?(?:suta|sute|mie|mii|zeci|{'|'.join(TENS_WORDS)})"
    rf"(?:\s+(?:si\s+)?(?:{'|'.join([*UNIT_WORDS, *TEEN_WORDS, *TENS_WORDS])}))*)"
    r"\s+(?:de\s+)?(?P<c>lei|ron|euro)\b"
)


def words_to_number(words: str) -> int | None:
    """'o mie cinci sute' → 1500, 'noua sute cincizeci' → 950; None when it is not a number."""
    total, current = 0, 0
    for word in words.split():
        if word in ("si", "de"):
            continue
        if word in UNIT_WORDS:
            current += UNIT_WORDS[word]
        elif word in TEEN_WORDS:
            current += TEEN_WORDS[word]
        elif word in TENS_WORDS:
            current += TENS_WORDS[word]
        elif word in ("suta", "sute"):
            current = max(current, 1) * 100
        elif word in ("mie", "mii"):
            total += max(current, 1) * 1000
            current = 0
        else:
            return None
    value = total + current
    return value or None


def _currency(raw: str | None) -> str | None:
    if not raw:
        return None
    return "EUR" if raw in ("euro", "eur", "€") else "RON"


# "Am plătit jumătate acum, 475 lei": a part of the price paid, not a price.
_PARTIAL_PAYMENT = re.compile(
    r"\b(?:platit|achitat|virat|transferat|trimis|dat)\s+(?:\w+\s+)?"
    r"(?:jumatate|o\s+parte|partial\w*|o\s+transa|prima\s+transa|\d{1,2}\s*%)"
)


def _excluded(folded: str, start: int, end: int) -> bool:
    clause = clause_at(folded, start)
    previous = clause_at(folded, max(0, clause.start - 2)) if clause.start else clause
    text = folded[clause.start : clause.end]
    before = folded[previous.start : clause.start]
    if _DEPOSIT.search(text) or _REFUND.search(text) or _DEPOSIT.search(before):
        return True
    if _TIP.search(text):
        return True
    sentence = next((sp for sp in sentences(folded) if sp.start <= start < sp.end), None)
    if sentence and _PARTIAL_PAYMENT.search(folded[sentence.start : sentence.end]):
        return True
    if _REJECTED_BEFORE.search(folded[max(0, start - 14) : start]):
        return True
    return bool(_PER_UNIT.match(folded[end:]))


def amounts_in(message: ChatMessage, previous: ChatMessage | None) -> list[Amount]:
    folded = fold(message.text)
    if previous is not None and previous.direction != message.direction:
        asked = fold(previous.text)
        if _DEPOSIT.search(asked) and "?" in asked and len(folded) < 80:
            return []  # the answer to "how much is the deposit?"
    found: list[Amount] = []
    taken: list[tuple[int, int]] = []
    for pattern in (_AFTER, _BEFORE):
        for m in pattern.finditer(folded):
            taken.append(m.span())
            if _excluded(folded, m.start(), m.end()):
                continue
            value = _parse_number(m.group("n"))
            if value is None:
                continue
            clause = clause_at(folded, m.start())
            is_total = bool(_TOTAL.search(folded[clause.start : clause.end]))
            found.append(Amount(value, _currency(m.group("c")), m.start(), is_total))
    for m in _BARE_TOTAL.finditer(folded):
        if any(s <= m.start() < e for s, e in taken) or _excluded(folded, m.start(), m.end()):
            continue
        if _ADDRESS_BEFORE.search(folded[max(0, m.start() - 10) : m.start()]):
            continue
        value = _parse_number(m.group("n"))
        if value is not None and value >= 100 and not 2020 <= value <= 2035:
            found.append(Amount(value, None, m.start(), True))
            taken.append(m.span("n"))
    for m in re.finditer(r"(?<![\d.,:/])(?:\d{1,2}\.\d{3}|\d{3,5})(?![\d.,:/]\d|\d)", folded):
        # "facem 900 în loc de 1000", "vă putem face 1500 lei": the settled price wins
        if not _SETTLED_BEFORE.search(folded[max(0, m.start() - 40) : m.start()]):
            continue
        if _excluded(folded, m.start(), m.end()) or _UNIT_WORDS.match(folded[m.end() :]):
            continue
        value = _parse_number(m.group())
        if value is None or value < 100 or 2020 <= value <= 2035:
            continue
        found = [a for a in found if a.pos != m.start()]
        found.append(Amount(value, None, m.start(), True))
        taken.append(m.span())
    for m in _WORDS_AMOUNT.finditer(folded):
        value = words_to_number(m.group("w"))
        if value is None or value < 50 or _excluded(folded, m.start(), m.end()):
            continue
        clause = clause_at(folded, m.start())
        is_total = bool(_TOTAL.search(folded[clause.start : clause.end]))
        found.append(Amount(float(value), _currency(m.group("c")), m.start(), is_total))
        taken.append(m.span())
    for m in _SUM.finditer(folded):
        # "750 + 100 transport": a price and its extras, summed
        if any(s <= m.start() < e for s, e in taken) or _excluded(folded, m.start(), m.end()):
            continue
        if _UNIT_WORDS.match(folded[m.end() :]) or re.match(r"\s*=", folded[m.end() :]):
            continue
        terms = [_parse_number(t) for t in re.findall(r"\d[\d.]*", m.group())]
        if all(t is not None and t >= 20 for t in terms):
            found.append(Amount(sum(t for t in terms if t), None, m.start(), True))
            taken.append(m.span())
    for m in _LIST_TOTAL.finditer(folded):
        # "Două animatoare + vată + transport: 1500": the number closing a list of items
        if any(s <= m.start("n") < e for s, e in taken) or _UNIT_WORDS.match(folded[m.end() :]):
            continue
        value = _parse_number(m.group("n"))
        if value is not None and value >= 100 and not _excluded(folded, m.start("n"), m.end()):
            found.append(Amount(value, None, m.start("n"), True))
            taken.append((m.start("n"), m.end()))
    if not found and _CONFIRM.search(folded):
        # Phone numbers are not prices: blank their digits out first.
        masked = PHONE_NUMBER.sub(lambda p: re.sub(r"\d", "x", p.group()), folded)
        for m in _BARE.finditer(masked):
            if any(s <= m.start() < e for s, e in taken):
                continue
            before = folded[max(0, m.start() - 10) : m.start()]
            if _ADDRESS_BEFORE.search(before) or _UNIT_WORDS.match(folded[m.end() :]):
                continue
            value = _parse_number(m.group("n"))
            if value is None or value < 100 or 2020 <= value <= 2035:
                continue
            if _excluded(folded, m.start(), m.end()):
                continue
            clause = clause_at(folded, m.start())
            is_total = bool(_TOTAL.search(folded[clause.start : clause.end]))
            found.append(Amount(value, None, m.start(), is_total))
    found.sort(key=lambda a: a.pos)
    return found


def _menu(message: ChatMessage) -> dict[str, float]:
    """Labelled options in one message ("Mini: … 400 lei. Standard: … 600 lei.") → label: price."""
    menu: dict[str, float] = {}
    for label, start, end in labelled_segments(message.text):
        segment = ChatMessage(message.id, message.direction, message.text[start:end], message.ts)
        amounts = amounts_in(segment, None)
        if amounts:
            menu[label] = amounts[-1].value
    return menu if len(menu) >= 2 else {}


@dataclass(frozen=True)
class PriceDecision:
    amount: float | None
    currency: str | None
    reason: str


BookedCheck = Callable[[str], bool | None]
_PICK_FIRST = re.compile(
    r"\b(?:prima(?:\s+varianta)?|varianta\s+(?:1|unu|intai)|optiunea\s+1|primul\s+pachet|"
    r"cea\s+mica|pachetul\s+mic)\b"
)
_PICK_SECOND = re.compile(
    r"\b(?:(?:varianta|optiunea)\s+(?:a\s+doua|2|doi)|a\s+doua\s+(?:varianta|optiune)|"
    r"al\s+doilea\s+pachet|cea\s+de-a\s+doua)\b"
)
_PICK_LAST = re.compile(r"\b(?:ultima\s+varianta|varianta\s+ultima|cea\s+mare|pachetul\s+mare)\b")


def _picked_option(reply: ChatMessage | None) -> int | None:
    """0 for the first alternative, 1 for the second, -1 for the last; None if no pick."""
    if reply is None:
        return None
    text = fold(reply.text)
    if _PICK_SECOND.search(text):
        return 1
    if _PICK_LAST.search(text):
        return -1
    if _PICK_FIRST.search(text):
        return 0
    return None


_AMOUNT_TAIL = re.compile(r"[\d.,\s\u202f\u00a0]*(?:de\s+)?(?:lei|leu|ron|euro|eur|€)?")


def _priced_items(
    message: ChatMessage, amounts: list[Amount], booked: BookedCheck
) -> list[Amount] | None:
    """Prices listed per item ("Elsa – 600 lei, Batman – 650 lei"): the amounts whose item
    (named just before the amount) was booked; None when no amount names an item."""
    folded = fold(message.text)
    kept: list[Amount] = []
    named = False
    cursor = 0
    for amount in amounts:
        verdict = booked(message.text[cursor : amount.pos])
        tail = _AMOUNT_TAIL.match(folded, amount.pos)
        cursor = tail.end() if tail else amount.pos
        if verdict is None:
            continue
        named = True
        if verdict:
            kept.append(amount)
    return kept if named else None


def _message_price(
    message: ChatMessage,
    previous: ChatMessage | None,
    reply: ChatMessage | None,
    booked: BookedCheck | None = None,
) -> tuple[float, str | None] | None:
    menu = _menu(message)
    if menu:
        if reply is not None:
            words = set(re.findall(r"[\w-]+", fold(reply.text)))
            picked = [label for label in menu if label in words]
            if len(picked) == 1:
                return menu[picked[0]], None
        return None
    amounts = amounts_in(message, previous)
    if not amounts:
        return None
    totals = [a for a in amounts if a.is_total]
    if totals:
        return totals[-1].value, totals[-1].currency
    if len(amounts) == 1:
        return amounts[0].value, amounts[0].currency
    folded = fold(message.text)
    if _OPTIONS.search(folded[amounts[0].pos : amounts[-1].pos]):
        # Alternatives offered: the one the reply picks ("varianta a doua"), else wait.
        pick = _picked_option(reply)
        if pick is not None and len(amounts) >= 2:
            chosen = amounts[0] if pick == 0 else amounts[-1] if pick == -1 else amounts[1]
            return chosen.value, chosen.currency
        return None
    if booked is not None:
        priced = _priced_items(message, amounts, booked)
        if priced is not None:
            if not priced:
                return None  # only items the client did not book
            return sum(a.value for a in priced), priced[-1].currency
    return sum(a.value for a in amounts), amounts[-1].currency


def resolve_price(messages: list[ChatMessage], booked: BookedCheck | None = None) -> PriceDecision:
    amount: float | None = None
    currency: str | None = None
    seen_currency: str | None = None
    for index, message in enumerate(messages):
        previous = messages[index - 1] if index else None
        reply = next((m for m in messages[index + 1 :] if m.direction != message.direction), None)
        price = _message_price(message, previous, reply, booked)
        for a in amounts_in(message, previous):
            seen_currency = a.currency or seen_currency
        if price is not None:
            amount, currency = price
    if amount is None:
        return PriceDecision(None, None, "price: not found")
    value = int(amount) if float(amount).is_integer() else amount
    return PriceDecision(value, currency or seen_currency or "RON", "price: last quoted total")


_PAID_PLAIN = re.compile(
    r"\b(?:am|a|s-a|am\s+si)\s+(?:facut\s+plata|platit|achitat|virat\s+(?:banii|suma|plata))\b"
    r"(?!\s+(?:avans|o\s+parte|partial|jumatate))"
)


def resolve_payment_status(messages: list[ChatMessage], amount: float | None) -> str:
    everything = " ".join(fold(m.text) for m in messages)
    if not _DEPOSIT.search(everything) and any(
        m.from_client and _PAID_PLAIN.search(fold(m.text)) and not _FUTURE_PAY.search(fold(m.text))
        for m in messages
    ):
        return "PAID"  # "am făcut plata" and no deposit was ever mentioned
    for message in messages:
        folded = fold(message.text)
        for m in _PAID.finditer(folded):
            clause = folded[clause_at(folded, m.start()).start : m.end() + 20]
            if re.search(r"\bavans", clause) or _PARTIAL_PAYMENT.search(m.group()):
                continue  # "am plătit jumătate, restul la final": not all of it yet
            return "PAID"
        if amount is None:
            continue
        for m in _PAID_VERB.finditer(folded):
            sentence = folded[m.start() : m.start() + 60]
            if re.search(r"\bavans", sentence) or _FUTURE.search(
                folded[max(0, m.start() - 10) : m.start()]
            ):
                continue
            values = [
                a.value
                for a in amounts_in(
                    ChatMessage(
                        message.id,
                        message.direction,
                        message.text[m.start() : m.start() + 60],
                        message.ts,
                    ),
                    None,
                )
            ]
            if values and max(values) >= amount:
                return "PAID"
    return "UNPAID"


def resolve_method(messages: list[ChatMessage]) -> str | None:
    method = None
    for message in messages:
        folded = fold(message.text)
        if not re.search(
            r"\b(?:plat\w*|achit\w*|vira\w*|transfer\w*|cash|card\w*|numerar)", folded
        ):
            continue
        for name, pattern in _METHODS:
            if pattern.search(folded):
                method = name
    return method
