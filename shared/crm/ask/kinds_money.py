"""Question kinds about money: still to pay, paid, spent, average, dearest and cheapest, one
party's price, how and whether a party was paid. Cancelled and archived parties never count."""

from __future__ import annotations

from shared.crm.ask.answer import AskAnswer, Kind, one_or_more, reply
from shared.crm.ask.party import Party
from shared.crm.ask.question import Question
from shared.crm.ask.render import (
    METHOD_WORDS,
    STATUS_WORDS,
    capitalize,
    day_text,
    describe,
    money,
    parties_word,
    party_ref,
    sum_text,
)
from shared.crm.ask.scope import Scope


def _amount(p: Party) -> str:
    return f"{money(p.amount)} {p.currency}" if p.amount is not None else "sumă netrecută"


def _dated_amounts(parties: list[Party]) -> str:
    return "; ".join(f"{day_text(p.day)}: {_amount(p)}" for p in parties)


def _unknown_note(parties: list[Party]) -> str:
    unknown = [p for p in parties if p.amount is None]
    if not unknown:
        return ""
    return f" Suma nu este trecută la {parties_word(len(unknown))} ({_dated_amounts(unknown)})."


def unpaid(q: Question, scope: Scope) -> AskAnswer:
    owed = [p for p in scope.active if p.status == "UNPAID"]
    if not owed:
        return reply(f"Nu are nimic de plătit{scope.suffix}: nicio petrecere neplătită.", [])
    return reply(
        f"Clientul mai are de plătit {sum_text(owed)}{scope.suffix} "
        f"({parties_word(len(owed), 'neplătită', 'neplătite')}: {_dated_amounts(owed)})."
        + _unknown_note(owed),
        owed,
    )


def paid(q: Question, scope: Scope) -> AskAnswer:
    done = [p for p in scope.active if p.status == "PAID"]
    detail = f": {_dated_amounts(done)}" if done else ""
    return reply(
        f"Clientul a plătit {sum_text(done)}{scope.suffix} "
        f"({parties_word(len(done), 'plătită', 'plătite')}{detail}).",
        done,
    )


def paid_count(q: Question, scope: Scope) -> AskAnswer:
    done = [p for p in scope.active if p.status == "PAID"]
    return reply(
        f"Clientul a plătit integral {parties_word(len(done))}{scope.suffix}: "
        f"{sum_text(done)} în total ({_dated_amounts(done)}).",
        done,
    )


def spent(q: Question, scope: Scope) -> AskAnswer:
    active = scope.active
    done = [p for p in active if p.status == "PAID"]
    owed = [p for p in active if p.status == "UNPAID"]
    return reply(
        f"Clientul a cheltuit în total {sum_text(active)}{scope.suffix} "
        f"pe {parties_word(len(active))} "
        f"(plătit: {sum_text(done)}; de plătit: {sum_text(owed)})." + _unknown_note(active),
        active,
    )


def average(q: Question, scope: Scope) -> AskAnswer:
    priced = [p for p in scope.active if p.amount is not None]
    if not priced:
        return reply(f"Nu există petreceri cu sumă pentru o medie{scope.suffix}.")
    mean = sum(p.amount or 0.0 for p in priced) / len(priced)
    return reply(
        f"O petrecere a costat în medie {money(round(mean, 2))} lei{scope.suffix} "
        f"({parties_word(len(priced))}, total {sum_text(priced)}).",
        priced,
    )


def _extreme(q: Question, scope: Scope, dearest: bool) -> AskAnswer:
    priced = [p for p in scope.active if p.amount is not None]
    if not priced:
        return reply(f"Nicio petrecere cu sumă{scope.suffix}.")
    pick = max if dearest else min
    top = pick(priced, key=lambda p: p.amount or 0.0)
    word = "scumpă" if dearest else "ieftină"
    return reply(
        f"Cea mai {word} petrecere{scope.suffix}: {_amount(top)}, pe {day_text(top.day)} "
        f"({describe(top)}).",
        [top],
    )


def dearest(q: Question, scope: Scope) -> AskAnswer:
    return _extreme(q, scope, True)


def cheapest(q: Question, scope: Scope) -> AskAnswer:
    return _extreme(q, scope, False)


def price(q: Question, scope: Scope) -> AskAnswer:
    chosen = one_or_more(q, scope)
    if not chosen:
        return reply(f"Nicio petrecere{scope.suffix}." + (f" {scope.note}." if scope.note else ""))
    lines = [
        f"{party_ref(p.day)}: {_amount(p)} ({STATUS_WORDS.get(p.status, '')})"
        if p.amount is not None
        else f"{party_ref(p.day)}: suma nu este trecută"
        for p in chosen
    ]
    total = f" În total {sum_text(chosen)}." if len(chosen) > 1 else ""
    return reply(capitalize("; ".join(lines)) + "." + total, chosen)


def method(q: Question, scope: Scope) -> AskAnswer:
    chosen = [p for p in one_or_more(q, scope) if p.status == "PAID"] or one_or_more(q, scope)
    if not chosen:
        return reply(f"Nicio petrecere plătită{scope.suffix}.")
    lines = []
    for p in chosen:
        how = METHOD_WORDS.get(p.method or "", None)
        state = STATUS_WORDS.get(p.status, "")
        if how:
            lines.append(f"{party_ref(p.day)} ({_amount(p)}, {state}): {how}")
        else:
            lines.append(
                f"{party_ref(p.day)} ({_amount(p)}, {state}): metoda de plată nu este trecută"
            )
    return reply(capitalize("; ".join(lines)) + ".", chosen)


def paid_or_not(q: Question, scope: Scope) -> AskAnswer | None:
    """ "E plătită petrecerea din martie?": yes/no for the parties asked about."""
    if not scope.narrowed:
        return None
    chosen = scope.active or scope.chosen
    if not chosen:
        return None
    lines = [
        f"{party_ref(p.day)} ({_amount(p)}) este {STATUS_WORDS.get(p.status, '')}" for p in chosen
    ]
    yes = all(p.status == "PAID" for p in chosen)
    return reply(("Da: " if yes else "Nu: ") + "; ".join(lines) + ".", chosen)


_BOTH = (
    r"\bplatit\w*\s+(?:sau|si|ori)\s+(?:nu\b|ne\s*platit\w*|neplatit\w*)|\bindiferent\b|"
    r"\b(?:si|cu\s+tot\s+cu|inclusiv)\s+(?:cele\s+)?neplatit\w*"
)
_HOW_MUCH = r"\bcat\b|\bcati\s+bani\b|\bce\s+suma\b|\bsuma\b|\bcate\s+parale\b"

KINDS = [
    Kind(
        "payment_method",
        r"\bcum\s+(?:a|au|s-a|se)\s+(?:platit|achitat|plateste|plati)|\bmetod\w*\s+de\s+plata|"
        r"\bmodalitat\w*\s+de\s+plata|\b(?:cash|numerar|card|cardul|transfer|ordin\s+de\s+plata)\b",
        method,
    ),
    Kind(
        "unpaid",
        r"\bmai\s+(?:are|avem|au|trebuie)\s+(?:\w+\s+)?de\s+(?:platit|incasat|achitat|dat)|"
        r"\bde\s+achitat\b|\bde\s+plata\b|\bdatoreaz\w*|\brestant\w*|\bneplatit\w*|"
        r"\bneachitat\w*|\bnu\s+a\s+(?:platit|achitat)|\brest\w*\s+de\s+plata|\bde\s+incasat|"
        r"\bdatori\w*|\bmai\s+(?:are|avem)\s+de\s+dat\b|\bmai\s+are\s+(?:ceva\s+)?de\b",
        unpaid,
        unless=_BOTH,
    ),
    Kind(
        "paid_or_not",
        r"^(?:si\s+)?(?:a|au|e|este|era|s-a|sunt)\s+(?:\w+\s+)?(?:platit\w*|achitat\w*)\b",
        paid_or_not,
        unless=_HOW_MUCH,
    ),
    Kind(
        "paid_count",
        r"\b(?:cate|cati|numarul)\b.*(?:\bplatit\w*\s+integral|\bplatite\b|\bachitat\w*|"
        r"\bplatit\w*\s+complet|\bintegral)",
        paid_count,
        unless=_BOTH,
    ),
    Kind("average", r"\bmedi[ea]\b|\bin\s+medie\b|\bmediu\b", average),
]

LATER_KINDS = [
    Kind(
        "paid",
        r"\b(?:a\s+platit|platit\s+deja|a\s+achitat|incasat\w*|s-a\s+platit|a\s+dat|ne-a\s+dat|"
        r"ne-au\s+dat|am\s+primit|platit[ae]?|achitat[ae]?|platile|achitari)\b",
        paid,
        unless=r"\bcheltuit|" + _BOTH,
    ),
    Kind(
        "spent",
        _BOTH + r"|\bcheltuit\w*|\bcheltuieli|\bin\s+total\b|\bvaloare\w*|\bsuma\s+totala|"
        r"\bbani\b|\bimpreuna\b|\btoate\s+petrecerile\b|\bcat\s+au\s+costat\b|\btotal\w*",
        spent,
    ),
    Kind(
        "dearest",
        r"\bcea\s+mai\s+scump\w*|\bcel\s+mai\s+scump\w*|\bcea\s+mai\s+mare\s+suma|"
        r"\bcel\s+mai\s+mult\b",
        dearest,
    ),
    Kind(
        "cheapest",
        r"\bcea\s+mai\s+ieftin\w*|\bcel\s+mai\s+ieftin\w*|\bcel\s+mai\s+putin\b|"
        r"\bcea\s+mai\s+mica\s+suma",
        cheapest,
    ),
    Kind(
        "price",
        r"\bcat\s+(?:a\s+)?cost\w*|\bpret\w*|\bcat\s+a\s+fost\b|\bcat\s+face\b|\btarif\w*|"
        r"\bce\s+suma\b|\bcat\s+plateste\b|\bcat\s+a\s+platit\s+pe\b|\bsuma\b",
        price,
    ),
]
