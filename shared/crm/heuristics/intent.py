"""Is this chat a party booking? Evidence for (a fixed date or place plus booking details) against
signs of something else (a cancellation, a complaint, a job application, a wrong number,
thanks for a past party, an inquiry the client will come back to)."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from shared.crm.heuristics.text import fold
from shared.crm.types import ChatMessage

_NEGATIVE: tuple[tuple[str, re.Pattern[str], int], ...] = (
    (
        "cancellation",
        re.compile(
            r"\banul(?:ez|am|ati|eaza|are|area|at|ata)\s+(?:\w+\s+){0,2}(?:rezervar\w*|petrecer\w*|"
            r"eveniment\w*|tot\w*|comand\w*)|\bnu\s+mai\s+(?:are\s+loc|avem\s+nevoie)\b"
            # "nu mai facem acasă, am rezervat la …" moves the party, it does not cancel it
            r"|\bnu\s+mai\s+facem\b(?!\s+(?:acasa|aici|acolo|la|in|pe|de\s+la|sambata|duminica|\d)\b)"
        ),
        10,
    ),
    (
        "cancellation",
        re.compile(r"\banul(?:ez|am|ati|eaza|are|area|at|ata)\b"),
        3,
    ),
    (
        "job application",
        re.compile(
            # "copiii angajaților" (the staff of a company booking a party) are not a job
            r"\b(?:cv-ul|cv|sa\s+lucrez|angaj(?!at(?:ilor|ii|ul|ului|ele|elor)\b)\w*|"
            r"post\s+de\s+animator|colabor\w*|"
            r"costume\s+proprii|experienta\s+la)\b"
        ),
        3,
    ),
    (
        "complaint",
        re.compile(
            r"\b(?:dezamagit\w*|nemultumit\w*|reclamati\w*|ne\s+cerem\s+scuze|returna\w*|"
            r"rambursa\w*|a\s+intarziat|inacceptabil)\b"
        ),
        3,
    ),
    (
        "wrong number",
        re.compile(r"\bgresit\w*\s+numarul|\bnumar\s+gresit|\bincurcat\s+numarul"),
        10,
    ),
    (
        "thanks for a past party",
        re.compile(
            r"\bmultum\w+[^.!?]{0,30}\bpentru\s+petrecerea\s+de\s+(?:azi|ieri|aseara|sambata|"
            r"duminica|weekend)|\bpetrecerea\s+de\s+(?:azi|ieri)\b[^.!?]{0,40}\ba\s+fost\b"
        ),
        3,
    ),
    (
        "after a past party",
        re.compile(
            r"\bam\s+avut\s+(?:o\s+)?petrecer\w*\s+(?:cu\s+voi|la\s+voi)|\ba\s+uitat\b|"
            r"\bdupa\s+petrecerea\s+de\s+(?:ieri|aseara|sambata|duminica)"
        ),
        3,
    ),
    (
        "administrative",
        re.compile(
            r"\bfactur\w*|\bdatele\s+(?:de\s+facturare|firmei)|(?<!\bla\s)\bsediu\w*|"
            r"\bprogram(?:ul)?\s+"
            r"(?:de\s+lucru|aveti)|\bce\s+program\b|\bcolabor\w*|\bteam\s+building|"
            r"\b(?:stergeti|scoateti)\s+numarul"
        ),
        3,
    ),
    (
        "undecided inquiry",
        re.compile(
            # "Revin: …" / "Revin, …" opens a follow-up with details; "revin" alone defers
            r"\bma\s+mai\s+gandesc|\brevin(?:em)?\b(?!\s*[:,]\s*\w)|\bnu\s+avem\s+(?:inca\s+)?data|"
            r"\binca\s+nu\s+avem\s+data|\bvorbesc\s+cu\s+(?:sotul|sotia|familia)|\bma\s+consult|"
            r"\bva\s+(?:mai\s+)?(?:scriu|anunt)\s+(?:eu\s+)?(?:maine|mai\s+tarziu|saptamana)"
        ),
        2,
    ),
)
_BOOKING_WORDS = re.compile(
    r"\b(?:rezerv\w*|vreau|vrem|as\s+dori|am\s+dori|am\s+vrea|as\s+vrea|confirm\w*|"
    r"facem\s+(?:ziua|petrecerea)|dorim)\b"
    # "vreau să știu cât costă" asks, it does not book
    r"(?!\s+(?:sa\s+)?(?:stiu|aflu|intreb|va\s+intreb|intrebam|stim|aflam)\b)"
)
_STAFF_BOOKED = re.compile(
    r"\b(?:v-am\s+notat|am\s+notat|notat|v-am\s+trecut|rezervarea|confirmat[ae]?|rezervat|"
    r"am\s+blocat|am\s+modificat|am\s+actualizat|am\s+mutat)\b"
)


_STRONG_ACCEPT = re.compile(
    r"\b(?:confirm\w*|rezerva\w*|luam|o\s+luam|il\s+luam|le\s+luam|mergem\s+pe|de\s+acord|"
    r"sa\s+fie|batem\s+palma|stabilit)\b"
)
_WEAK_ACCEPT = re.compile(r"^\W*(?:da|ok|okay|bine|perfect|super|suna\s+bine|e\s+bine)\b")
_THANKS = re.compile(r"\b(?:mersi|multumesc|multumim|revin|ma\s+mai\s+gandesc)\b")
_OFFER = re.compile(r"\d\s*(?:de\s+)?(?:lei|ron|euro|eur|€)|\d{1,2}[./]\d{1,2}|\b\d{1,2}:\d{2}\b")


def _accepted_an_offer(messages: list[ChatMessage]) -> bool:
    """The client says yes right after a staff message with a price, a date or a time."""
    for previous, message in itertools.pairwise(messages):
        if previous.from_client or not message.from_client:
            continue
        if not _OFFER.search(fold(previous.text)):
            continue
        reply = fold(message.text)
        if _STRONG_ACCEPT.search(reply) or (
            _WEAK_ACCEPT.search(reply) and not _THANKS.search(reply)
        ):
            return True
    return False


@dataclass(frozen=True)
class IntentEvidence:
    explicit_date: bool
    address: bool
    time: bool
    roles: bool
    amount: bool
    child: bool
    weekday_date: bool = False


@dataclass(frozen=True)
class IntentDecision:
    booking: bool
    score: int
    reasons: list[str]


def decide_intent(messages: list[ChatMessage], evidence: IntentEvidence) -> IntentDecision:
    score = 2 * evidence.explicit_date + 2 * evidence.address
    score += evidence.time + evidence.roles + evidence.amount + evidence.child
    reasons: list[str] = []
    client_text = " ".join(fold(m.text) for m in messages if m.from_client)
    staff_text = " ".join(fold(m.text) for m in messages if not m.from_client)
    if _BOOKING_WORDS.search(client_text):
        score += 1
    if _STAFF_BOOKED.search(staff_text):
        score += 1
    everything = client_text + " " + staff_text
    seen: set[str] = set()
    for name, pattern, weight in _NEGATIVE:
        if name not in seen and pattern.search(everything):
            seen.add(name)
            score -= weight
            reasons.append(f"looks like: {name}")
    # A commitment: the client asks for or confirms something, staff book it, or a place is given
    # (a bare price question with a date is not a booking).
    committed = (
        evidence.address
        or _BOOKING_WORDS.search(client_text)
        or _STAFF_BOOKED.search(staff_text)
        or _accepted_an_offer(messages)
    )
    # A bare weekday ("sâmbătă la 16") fixes the party only once staff book it.
    dated = evidence.explicit_date or (
        evidence.weekday_date and bool(_STAFF_BOOKED.search(staff_text))
    )
    score += 2 * (dated and not evidence.explicit_date)
    booking = (dated or evidence.address) and committed and score >= 4
    if not booking and not reasons:
        if not (evidence.explicit_date or evidence.address):
            reasons.append("no party date or address in the conversation")
        else:
            reasons.append("not enough booking details")
    return IntentDecision(bool(booking), score, reasons)
