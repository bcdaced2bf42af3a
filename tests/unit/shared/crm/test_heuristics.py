"""The Romanian heuristic extractor, field by field, on phrasings written for these tests (not
the corpus): each rule must hold for chats it has never seen."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from shared.crm.heuristics import extract
from shared.crm.heuristics.address import resolve_address
from shared.crm.heuristics.dates import orthodox_easter, resolve_date
from shared.crm.heuristics.money import resolve_payment_status, resolve_price
from shared.crm.heuristics.people import resolve_child_age, resolve_child_name
from shared.crm.heuristics.services import resolve_roles
from shared.crm.heuristics.text import fold, sentences
from shared.crm.heuristics.times import resolve_time
from shared.crm.types import ChatMessage, Direction

MONDAY = "2026-03-02T10:00:00+02:00"  # a Monday


def chat(*lines: str, start: str = MONDAY) -> list[ChatMessage]:
    """Lines prefixed 'C:' (client) or 'S:' (staff), one minute apart."""
    t0 = datetime.fromisoformat(start)
    out = []
    for i, line in enumerate(lines):
        who, text = line.split(":", 1)
        direction: Direction = "inbound" if who.strip() == "C" else "outbound"
        out.append(ChatMessage(f"m{i}", direction, text.strip(), t0 + timedelta(minutes=i)))
    return out


def day(messages: list[ChatMessage]) -> str | None:
    value = resolve_date(messages).value
    return value.strftime("%d-%m-%Y") if value else None


# ---- text ----------------------------------------------------------------------------------


def test_fold_keeps_offsets_and_strips_diacritics() -> None:
    text = "Șoseaua Ștefănești, sâmbătă"
    assert fold(text) == "soseaua stefanesti, sambata"
    assert len(fold(text)) == len(text)


def test_sentences_do_not_split_after_address_abbreviations() -> None:
    text = "Adresa e Str. Morii nr. 4, bl. 2. Venim la 5."
    spans = sentences(text)
    assert [text[s.start : s.end].strip() for s in spans] == [
        "Adresa e Str. Morii nr. 4, bl. 2.",
        "Venim la 5.",
    ]


# ---- dates ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ne-ar trebui cineva pe 3 aprilie.", "03-04-2026"),
        ("Ar fi pe 5.06, dacă se poate.", "05-06-2026"),
        ("Data: 12/07/2026", "12-07-2026"),
        ("pe 10 iun la noi", "10-06-2026"),
        ("Sambata 17 octombrie facem ziua", "17-10-2026"),
        ("Vrem pe 10 ianuarie", "10-01-2027"),  # long past this year: next year
        ("Pe 30 mai, vă rog.", "30-05-2026"),
    ],
)
def test_explicit_dates(text: str, expected: str) -> None:
    assert day(chat(f"C: {text}")) == expected


def test_a_date_a_few_days_back_is_a_past_party_not_next_year() -> None:
    assert day(chat("C: Am avut petrecere cu voi pe 25 februarie, a fost super.")) is None


def test_mai_as_an_adverb_is_not_may() -> None:
    assert day(chat("C: Aveți 2 mai multe animatoare? Mai e loc de 3 copii?")) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Se poate mâine?", "03-03-2026"),
        ("Ar fi poimaine.", "04-03-2026"),
        ("Vineri la 17 ar fi perfect.", "06-03-2026"),
        ("Peste o săptămână, tot luni.", "09-03-2026"),
        ("peste 10 zile", "12-03-2026"),
        ("Într-o săptămână, dacă se poate.", "09-03-2026"),
        ("În două săptămâni, sâmbătă.", "14-03-2026"),
    ],
)
def test_relative_dates_resolve_against_the_message_time(text: str, expected: str) -> None:
    assert day(chat(f"C: {text}")) == expected


def test_next_saturday_is_ambiguous_and_left_empty() -> None:
    assert day(chat("C: Ar fi sâmbăta viitoare.", "S: Sâmbătă e liber.")) is None


def test_day_alone_takes_the_month_of_an_earlier_mention() -> None:
    messages = chat("C: Putem pe 14 aprilie?", "C: Pardon, pe 21, nu pe 14.")
    assert day(messages) == "21-04-2026"


def test_day_alone_without_context_is_the_next_such_day() -> None:
    assert day(chat("C: Ne puteți face ziua pe 20?", start="2026-03-25T10:00:00+02:00")) == (
        "20-04-2026"
    )


def test_weekday_with_day_number_picks_the_month_where_it_falls() -> None:
    # 2026-05-10 is a Sunday; 10 April 2026 is a Friday.
    assert day(chat("C: Duminică, pe 10, la prânz.", start="2026-04-01T10:00:00+03:00")) == (
        "10-05-2026"
    )


def test_later_correction_wins_and_choice_between_offers() -> None:
    assert day(chat("C: Pe 9 mai.", "C: Ne-am răzgândit, pe 16 mai.")) == "16-05-2026"
    offers = chat("S: Avem 11 aprilie sau 18 aprilie. Care vă convine?", "C: A doua, vă rog.")
    assert day(offers) == "18-04-2026"


def test_orthodox_easter_and_the_day_after() -> None:
    assert orthodox_easter(2025) == date(2025, 4, 20)
    assert orthodox_easter(2027) == date(2027, 5, 2)
    assert day(chat("C: Facem petrecerea lunea de Paște.", start="2027-01-10T10:00:00+02:00")) == (
        "03-05-2027"
    )


# ---- times ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Începem la ora 15.", "15:00"),
        ("pe la 6 seara", "18:00"),
        ("de la 4 după-amiază", "16:00"),
        ("la 10 dimineata", "10:00"),
        ("la 14 și jumătate", "14:30"),
        ("ora 16.45", "16:45"),
        ("Venim la 3.", "15:00"),
        ("Începe 18:15, durează 2 ore.", "18:15"),
        ("Pe la 17h, merge?", "17:00"),
        ("la 5pm", "17:00"),
    ],
)
def test_start_times(text: str, expected: str) -> None:
    assert resolve_time(chat(f"C: {text}")) == expected


def test_durations_end_times_and_counts_are_not_start_times() -> None:
    assert (
        resolve_time(chat("C: Programul ține 2 ore, până la 19:00, cu până la 20 de copii."))
        is None
    )
    assert resolve_time(chat("C: Ora 17.", "S: Sala e ocupată până la 16:30.")) == "17:00"


# ---- money ---------------------------------------------------------------------------------


def price(*lines: str) -> tuple[float | None, str | None]:
    decision = resolve_price(chat(*lines))
    return decision.amount, decision.currency


def test_amounts_and_currencies() -> None:
    assert price("S: Pachetul costă 800 de lei.") == (800, "RON")
    assert price("S: Total: 2.500 RON") == (2500, "RON")
    assert price("S: Sunt 200 € pentru tot.") == (200, "EUR")


def test_deposits_unit_prices_and_replaced_prices_are_not_the_price() -> None:
    assert price("S: Costă 900 lei. Avansul e 250 lei.") == (900, "RON")
    assert price("S: Baloanele sunt 12 lei/bucată, iar animatorul 700 lei.")[0] == 700
    assert price("S: Vă facem 1.000 lei în loc de 1.150.")[0] == 1000


def test_total_wins_components_sum_and_confirmation_number() -> None:
    assert price("S: Animator 600 lei, vată 250 lei, în total 850 lei.")[0] == 850
    assert price("S: Animatorul e 600 lei, popcornul 200 lei.")[0] == 800
    assert price("S: Ar fi 1.300 lei.", "C: Bine, 1250 și batem palma?", "S: Ok, 1250.")[0] == 1250


def test_labelled_options_take_the_one_the_client_picks() -> None:
    menu = "S: Basic: un personaj, 1 oră – 350 lei. Premium: două personaje, 2 ore – 900 lei."
    assert price(menu, "C: Luăm Premium.")[0] == 900


def test_payment_status() -> None:
    assert resolve_payment_status(chat("C: Am achitat integral azi."), 700) == "PAID"
    assert resolve_payment_status(chat("C: Am trimis avansul de 200 lei."), 700) == "UNPAID"
    assert resolve_payment_status(chat("C: Am plătit 700 lei prin card."), 700) == "PAID"
    assert resolve_payment_status(chat("C: Plătim la final."), 700) == "UNPAID"


# ---- addresses -----------------------------------------------------------------------------


def test_full_street_address_with_block_and_sector() -> None:
    address = resolve_address(
        chat("C: Ne găsiți pe Calea Victoriei nr. 12, bl. C, ap. 3, Sector 1, București. Mersi!")
    )
    assert address == "Calea Victoriei nr. 12, bl. C, ap. 3, Sector 1, București"


def test_venue_before_the_street_is_kept() -> None:
    address = resolve_address(chat("C: Sala e la Restaurant Lacul Verde, str. Pinului 4, Brașov."))
    assert address is not None and address.startswith("Restaurant Lacul Verde")
    assert "Pinului 4" in address and address.endswith("Brașov")


def test_lowercase_abbreviated_address_is_expanded() -> None:
    address = resolve_address(chat("C: adresa e b-dul unirii nr 20 sect 4 buc"))
    assert address == "Bd. Unirii nr. 20, Sector 4, București"


def test_the_last_address_wins_and_a_recap_does_not_shorten_it() -> None:
    messages = chat(
        "C: La Str. Florilor nr. 2, Arad.",
        "C: Schimbare: facem la Club Sportiv Delta, Str. Zimbrului nr. 8, Arad.",
        "S: Am notat Str. Zimbrului nr. 8, Arad.",
    )
    assert resolve_address(messages) == "Club Sportiv Delta, Str. Zimbrului nr. 8, Arad"


# ---- child -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "name", "age"),
    [
        (["C: E ziua lui Tudor, face 6 ani."], "Tudor", 6),
        (["C: Organizăm petrecerea Ioanei, care împlinește 4 anișori."], "Ioana", 4),
        (["C: Fiica noastră, Ilinca, împlinește 7 ani."], "Ilinca", 7),
        (["C: pentru Radu, 5 ani, vă rog"], "Radu", 5),
        (["S: Cum îl cheamă pe sărbătorit?", "C: Matei Andrei"], "Matei Andrei", None),
        (["C: ziua lui victor de 9 ani"], "Victor", 9),
        (["C: Facem aniversarea de 5 ani a Mariei."], "Maria", 5),
        (["C: Petrecerea e pentru ziua de naștere a lui Matei."], "Matei", None),
    ],
)
def test_child_name_and_age(lines: list[str], name: str, age: int | None) -> None:
    messages = chat(*lines)
    assert resolve_child_name(messages) == name
    assert resolve_child_age(messages) == age


def test_other_peoples_ages_and_corrections() -> None:
    messages = chat("C: Sofia face 5 ani, iar sora ei are 9 ani.")
    assert resolve_child_age(messages) == 5
    assert resolve_child_age(chat("C: Luca face 4 ani.", "C: Scuze, face 5, nu 4.")) == 5
    assert resolve_child_age(chat("C: Eu am 30 de ani și vreau o petrecere.")) is None


# ---- roles ---------------------------------------------------------------------------------


def kinds(lines: list[str]) -> list[tuple[str, str | None, int]]:
    return [(r.roleType, r.character, r.count) for r in resolve_roles(chat(*lines))]


def test_characters_and_services() -> None:
    assert kinds(["C: Vrem Spiderman și o mașină de floricele."]) == [
        ("ANIMATOR", "Spider-Man", 1),
        ("POPCORN", None, 1),
    ]
    assert kinds(["C: Doi animatori: Mickey și Minnie, plus 30 de baloane cu heliu."]) == [
        ("ANIMATOR", "Mickey", 1),
        ("ANIMATOR", "Minnie", 1),
        ("HELIUM_BALLOONS", None, 30),
    ]
    assert kinds(["C: La botez vrem 3 ursitoare și fum greu."]) == [
        ("URSITOARE", None, 3),
        ("DRY_ICE", None, 1),
    ]
    assert kinds(["C: Ne trebuie Moș Crăciun pe 24."]) == [("SANTA_CLAUS", None, 1)]
    assert kinds(["C: Și baloane cu heliu – 20 buc."]) == [("HELIUM_BALLOONS", None, 20)]


def test_removals_only_and_unnamed_animator() -> None:
    assert kinds(["C: Vrem Batman și vată de zahăr.", "C: Fără vată, până la urmă."]) == [
        ("ANIMATOR", "Batman", 1)
    ]
    assert kinds(["C: Aveți Elsa sau Anna?", "S: Da.", "C: Vrem doar Anna."]) == [
        ("ANIMATOR", "Anna", 1)
    ]
    assert kinds(["C: Vrem un animator, orice supererou."]) == [("ANIMATOR", None, 1)]


def test_staff_offers_count_only_when_accepted_or_confirmed() -> None:
    assert kinds(["C: Vrem Sonic.", "S: Avem și popcorn, 200 lei.", "C: Nu, mersi."]) == [
        ("ANIMATOR", "Sonic", 1)
    ]
    assert kinds(["C: Vrem Sonic.", "S: Sonic + popcorn, 800 lei?", "C: Da, perfect."]) == [
        ("ANIMATOR", "Sonic", 1),
        ("POPCORN", None, 1),
    ]


# ---- whole conversations -------------------------------------------------------------------


def test_a_booking_end_to_end() -> None:
    fields = extract(
        chat(
            "C: Bună! Aș vrea să rezerv Ladybug pentru ziua fetiței mele, Carina, face 6 ani.",
            "S: Bună! Ce dată și unde?",
            "C: Sâmbătă, 21 martie, ora 11, la Str. Teiului nr. 3, Cluj-Napoca. Vin vreo 14 copii.",
            "S: Ladybug, 2 ore: 650 lei. V-am notat!",
        )
    )
    assert fields.intent == "BOOKING"
    assert (fields.date, fields.startTime, fields.childName, fields.childAge) == (
        "21-03-2026",
        "11:00",
        "Carina",
        6,
    )
    assert fields.address == "Str. Teiului nr. 3, Cluj-Napoca"
    assert fields.numChildren == 14
    assert (fields.payment.amount, fields.payment.status) == (650, "UNPAID")
    assert [r.roleType for r in fields.roles] == ["ANIMATOR"]
    assert 0 < fields.confidence <= 1


@pytest.mark.parametrize(
    "lines",
    [
        ["C: Cât costă un animator?", "S: 600 lei pentru 2 ore.", "C: Mulțumesc, vă mai scriu."],
        ["C: Vreau să anulez petrecerea de pe 14 aprilie, ne pare rău."],
        ["C: Am fost nemulțumiți, animatorul a întârziat o oră. Vrem banii înapoi."],
        ["C: Bună, caut de lucru ca animator, vă pot trimite CV-ul?"],
        ["C: Ai ajuns acasă?", "S: Cred că ați greșit numărul."],
        ["C: Cât costă Elsa pe 14 martie?", "S: 650 lei pentru 2 ore.", "C: Ok, mersi."],
        ["C: Vreau să știu cât costă un animator pe 14 martie.", "S: 650 lei.", "C: Mulțumesc."],
        [
            "C: Aveți liber pe 14 martie pentru Batman?",
            "S: Da, 600 lei.",
            "C: Vorbesc cu soțul și vă scriu mâine.",
        ],
    ],
)
def test_not_bookings(lines: list[str]) -> None:
    fields = extract(chat(*lines))
    assert fields.intent == "OTHER"
    assert fields.reasons


def test_empty_and_media_only_chats_are_other() -> None:
    assert extract([]).intent == "OTHER"
    assert extract(chat("C: <media omisă>")).intent == "OTHER"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Pe 15 luna viitoare, dacă se poate.", "15-04-2026"),
        ("Sâmbăta asta la 12?", "07-03-2026"),
        ("Facem ceva de Ziua Copilului.", "01-06-2026"),
        ("Petrecerea e de Revelion.", "31-12-2026"),
        ("Facem a doua zi de Rusalii.", "01-06-2026"),  # Orthodox Pentecost 2026: 31 May
    ],
)
def test_more_relative_dates_and_holidays(text: str, expected: str) -> None:
    assert day(chat(f"C: {text}")) == expected


def test_age_in_words_and_time_ranges() -> None:
    messages = chat("C: Matei face cinci ani, programul ar fi între orele 16-18.")
    assert resolve_child_name(messages) == "Matei"
    assert resolve_child_age(messages) == 5
    assert resolve_time(messages) == "16:00"
    assert resolve_child_age(chat("C: Ne face o petrecere frumoasă?")) is None


def test_next_week_and_this_weekend_days() -> None:
    assert day(chat("C: Vineri, săptămâna viitoare, se poate?")) == "13-03-2026"
    assert day(chat("C: Weekendul ăsta, duminică, la 11.")) == "08-03-2026"


def test_ursitoare_at_a_bare_hour_are_in_the_evening() -> None:
    fields = extract(
        chat("C: Vrem 3 ursitoare la botez pe 20 martie, pe la 10, Str. Mare 1, Iași.")
    )
    assert fields.startTime == "22:00"
    assert extract(chat("C: Vrem Elsa pe 20 martie, pe la 10, Str. Mare 1, Iași.")).startTime == (
        "10:00"
    )


def test_decimal_amounts_and_plain_payment_without_deposit() -> None:
    assert price("S: Prețul final: 1.200,00 lei.")[0] == 1200
    assert resolve_payment_status(chat("S: 700 lei.", "C: Am făcut plata."), 700) == "PAID"
    deposit = chat("S: 700 lei, avans 200.", "C: Am făcut plata.")
    assert resolve_payment_status(deposit, 700) == "UNPAID"


def test_first_venue_word_before_the_street_starts_the_address() -> None:
    address = resolve_address(chat("C: La Restaurant Grădina Verde, Str. Teilor nr. 9, Arad."))
    assert address == "Restaurant Grădina Verde, Str. Teilor nr. 9, Arad"


def test_deadlines_and_arrival_times_are_not_the_party() -> None:
    messages = chat(
        "C: Vrem Elsa pe 20 martie la ora 16.",
        "S: Perfect. Avansul până pe 10 martie, vă rog. Animatoarea ajunge la 15:30.",
    )
    assert day(messages) == "20-03-2026"
    assert resolve_time(messages) == "16:00"


def test_a_cancellation_is_never_a_booking_even_with_all_details() -> None:
    fields = extract(
        chat(
            "C: Bună, vrem să anulăm rezervarea pentru Batman de pe 20 martie, ora 16, "
            "Str. Mare nr. 1, Iași, ziua lui Dan, 6 ani.",
            "S: Am anulat, ne pare rău.",
        )
    )
    assert fields.intent == "OTHER"


def test_a_price_list_counts_only_the_booked_items() -> None:
    fields = extract(
        chat(
            "C: Ce personaje aveți pentru ziua lui Dan, pe 20 martie, la Str. Mare 1, Iași?",
            "S: Avem: Elsa – 600 lei, Spider-Man – 650 lei, Batman – 700 lei.",
            "C: Batman, vă rog.",
            "S: Notat!",
        )
    )
    assert fields.payment.amount == 700
    services = extract(
        chat(
            "C: Vrem vată de zahăr și decor pe 20 martie, la Str. Mare 1, Iași.",
            "S: Vata – 300 lei, decorul – 400 lei, iar popcornul ar fi 200 lei.",
            "C: Ok, fără popcorn.",
        )
    )
    assert services.payment.amount == 700


def test_a_staff_recap_form_and_a_phone_number() -> None:
    fields = extract(
        chat(
            "C: Bună, vrem Elsa pentru Ioana, 5 ani. Tel 0722 123 456, ok?",
            "S: Rezervare confirmată!\n📅 Data: 14.03.2026\nOra: 16:00\n"
            "📍 Adresa: Str. Mare nr. 1, Iași\nPersonaj: Elsa\nPreț: 650 lei\nAvans: 200 lei",
            "C: Mulțumim!",
        )
    )
    assert (fields.date, fields.startTime, fields.address) == (
        "14-03-2026",
        "16:00",
        "Str. Mare nr. 1, Iași",
    )
    assert (fields.payment.amount, fields.payment.status) == (650, "UNPAID")
    assert [(r.roleType, r.character) for r in fields.roles] == [("ANIMATOR", "Elsa")]


def test_a_plain_yes_to_a_priced_offer_is_a_booking() -> None:
    fields = extract(chat("C: Pentru 14 martie, Elsa, ora 16?", "S: Da, 650 lei.", "C: Ok."))
    assert fields.intent == "BOOKING"
    assert (fields.date, fields.startTime, fields.payment.amount) == ("14-03-2026", "16:00", 650)


def test_a_bare_weekday_counts_once_staff_book_it() -> None:
    booked = extract(
        chat("C: Vrem Elsa sâmbătă la 16 pentru Ana, 5 ani.", "S: 650 lei. V-am notat!")
    )
    assert (booked.intent, booked.date) == ("BOOKING", "07-03-2026")
    visit = extract(
        chat(
            "C: Ce program aveți sâmbăta? Vreau să trec pe la sediu.",
            "S: Între 10 și 14, pe Str. Libertății nr. 5, Iași.",
            "C: Ok, mersi!",
        )
    )
    assert visit.intent == "OTHER"


# ---- rules added for chats written apart from the corpus (data/extraction_fresh) ----


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        # a range "între X și Y" starts at X
        (["C: Ar fi între 11 și 13, la noi în curte."], "11:00"),
        (["C: intre 10:30 si 12:30 e perfect"], "10:30"),
        # "12:00–14:00": the second clock time ends the range
        (["C: Pe 9 mai.", "S: Notat, 16:00–18:00."], "16:00"),
        # unit words are whole words: "animator" after the hour is not "ani"
        (["C: rezervare ora 16 animator batman"], "16:00"),
        (["C: Ora 17 animatoarea, apoi tortul."], "17:00"),
    ],
)
def test_time_ranges_and_words_after_the_hour(lines: list[str], expected: str) -> None:
    assert resolve_time(chat(*lines)) == expected


def test_an_age_range_is_not_a_time_range() -> None:
    assert resolve_time(chat("C: Vin copii între 6 și 9 ani.")) is None


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        # the hour before "animator" is not a number of animators
        (["C: pe 3 mai ora 12 animator sonic"], [("ANIMATOR", "Sonic", 1)]),
        (["C: Vrem la 16 animatori? Nu, un singur animator."], [("ANIMATOR", None, 1)]),
        # more characters
        (["C: Vrem Batman și Robin."], [("ANIMATOR", "Batman", 1), ("ANIMATOR", "Robin", 1)]),
        (
            ["C: Mickey, Goofy și Donald, vă rog."],
            [("ANIMATOR", "Mickey", 1), ("ANIMATOR", "Goofy", 1), ("ANIMATOR", "Donald", 1)],
        ),
        # "franchise (character)": the character in brackets is the one role
        (["C: Testoasele, adică Ninja (Raphael)."], [("ANIMATOR", "Raphael", 1)]),
        # entertainers who are not costumed characters
        (["C: Vrem un show de magie."], [("ANIMATOR", "Vrăjitor", 1)]),
        (["C: Ne place bubble show-ul, îl luăm."], [("ANIMATOR", "Bubble show", 1)]),
        # soap bubbles are not balloons
        (["C: Vrem show cu baloane de săpun."], [("ANIMATOR", "Bubble show", 1)]),
        # floral/balloon arrangements are decorations
        (["C: Vrem un aranjament pentru masa copiilor."], [("DECORATIONS", None, 1)]),
    ],
)
def test_more_characters_and_services(
    lines: list[str], expected: list[tuple[str, str | None, int]]
) -> None:
    assert kinds(lines) == expected


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        # "Y în loc de X": X leaves, Y stays
        (
            ["C: Vrem Ariel.", "C: Mai bine Belle în loc de Ariel, vă rog."],
            [("ANIMATOR", "Belle", 1)],
        ),
        (["C: Vrem Stitch în locul lui Sonic."], [("ANIMATOR", "Stitch", 1)]),
        # a character from a party last year is not booked again
        (
            ["C: Data trecută a venit Batman. Acum băiatul vrea Hulk."],
            [("ANIMATOR", "Hulk", 1)],
        ),
        (
            ["C: Anul trecut am avut Minnie, anul acesta vrem Peppa."],
            [("ANIMATOR", "Peppa Pig", 1)],
        ),
        # "și o animatoare pentru …": one more animator besides the character
        (
            [
                "C: Vrem Superman.",
                "S: Superman 600 lei. Mai putem trimite și un animator pentru baloane modelate.",
                "C: Îl luăm și pe el.",
            ],
            [("ANIMATOR", "Superman", 1), ("ANIMATOR", None, 1), ("BALLOONS", None, 1)],
        ),
        # …but not when the sentence names who that animator is
        (
            ["C: Vrem vată de zahăr și o animatoare pentru fete, Rapunzel."],
            [("ANIMATOR", "Rapunzel", 1), ("COTTON_CANDY", None, 1)],
        ),
    ],
)
def test_replacements_past_parties_and_extra_animators(
    lines: list[str], expected: list[tuple[str, str | None, int]]
) -> None:
    assert kinds(lines) == expected


def test_answering_the_staffs_detail_question_takes_the_offer() -> None:
    offer = "S: Vineri la 18:00 putem trimite un Moș Crăciun, 400 lei. Unde să vină?"
    assert kinds(["C: Vrem pe cineva cu cadouri pentru copii.", offer, "C: Str. Lunii nr. 3"]) == [
        ("SANTA_CLAUS", None, 1)
    ]
    assert kinds(["C: Ce aveți pentru copii?", offer, "C: Nu, e prea scump."]) == []


@pytest.mark.parametrize(
    ("lines", "name", "age"),
    [
        # double given names
        (["C: Ziua fiicei mele, Maria Ioana, 4 ani."], "Maria Ioana", 4),
        (["C: e pt fetita mea ana sofia, face 6 ani"], "Ana Sofia", 6),
        (["C: Botezul lui Luca Andrei, pe 3 mai."], "Luca Andrei", None),
        # "petrecerea de 1 an a lui …"
        (["C: organizam petrecerea de 1 an a lui tudor"], "Tudor", 1),
        # several children described before their age
        (["C: Pentru Mara și Ioana (gemene, 3 ani)."], "Mara și Ioana", 3),
        (["C: pentru Vlad si Radu, fratii, 8 ani"], "Vlad și Radu", 8),
    ],
)
def test_double_names_first_birthday_and_siblings(
    lines: list[str], name: str, age: int | None
) -> None:
    messages = chat(*lines)
    assert resolve_child_name(messages) == name
    assert resolve_child_age(messages) == age


def test_age_after_a_word_for_the_child_and_other_peoples_ages_after_a_comma() -> None:
    assert resolve_child_age(chat("C: Vrem Elsa pentru fetiță, 3 ani.")) == 3
    assert resolve_child_age(chat("C: E pentru băiețel (5 ani).")) == 5
    messages = chat("C: Luca are 7 ani (vine și fratele lui, de 2 ani).")
    assert resolve_child_age(messages) == 7


def test_a_bare_weekday_reply_picks_the_offered_date_on_that_weekday() -> None:
    # Monday 2 March 2026: the staff offers Saturday 14 and Sunday 15, the client picks Saturday
    messages = chat(
        "C: Ce aveți liber weekendul viitor?",
        "S: Sâmbătă 14 martie la 11 sau duminică 15 martie la 17.",
        "C: Sâmbăta ne convine.",
    )
    assert day(messages) == "14-03-2026"
    # without an offered date a bare weekday is still only the next such day
    assert day(chat("C: Vineri la 5?")) == "06-03-2026"


@pytest.mark.parametrize(
    "lines",
    [
        ["S: Elsa 2 ore: 700 lei.", "C: Am plătit jumătate azi, 350 lei, restul la final."],
        ["S: Pachetul e 700 lei.", "C: Am virat o parte: 300 lei."],
    ],
)
def test_a_partial_payment_is_neither_the_price_nor_full_payment(lines: list[str]) -> None:
    messages = chat(*lines)
    assert resolve_price(messages).amount == 700
    assert resolve_payment_status(messages, 700) == "UNPAID"


def test_national_road_with_kilometre_is_a_street() -> None:
    address = resolve_address(chat("C: Suntem la Pensiunea Bradul, DN7 km 140, Sălătrucel."))
    assert address == "Pensiunea Bradul, DN7 km 140, Sălătrucel"


# ---- rules from the blind set (data/extraction_blind.jsonl), on new sentences ----


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        # a range of a count is not a day and a month
        (["C: Pe 18 aprilie, vin 10-12 copii."], "18-04-2026"),
        (["C: Sâmbătă, 4 aprilie. Invitații au 5-6 ani."], "04-04-2026"),
        # the weekday may come before "peste N săptămâni"; never back into the week before
        (["C: Vineri peste două săptămâni?"], "20-03-2026"),
        (["C: Sâmbătă peste o săptămână, se poate?"], "14-03-2026"),
        (["C: Duminică peste o săptămână."], "15-03-2026"),
        # "mâine" for a payment or an answer is not the party day
        (["C: Vrem pe 28 martie.", "C: Vă trimit avansul mâine."], "28-03-2026"),
        (["C: Pe 11 aprilie ar fi.", "C: Mâine vă dau un răspuns final."], "11-04-2026"),
        (["C: Ne puteți face ziua pe 4 aprilie?", "C: Plata o fac mâine, ok?"], "04-04-2026"),
        (["C: Aveți pe cineva mâine la 12?"], "03-03-2026"),
    ],
)
def test_blind_date_rules(lines: list[str], expected: str) -> None:
    assert day(chat(*lines)) == expected


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        # minutes in words do not make a morning clock: parties are in the afternoon
        (["C: Pe 9 mai la 5 și jumătate."], "17:30"),
        (["C: Începem la 3 și un sfert."], "15:15"),
        (["C: Pe la 17:30 sau la 6 și jumătate."], "18:30"),
        (["C: La 10:30 dimineața, ora 10 și jumătate."], "10:30"),
        # a bare hour range whose end is past noon
        (["C: Pe 20 iunie, 15-17, la noi."], "15:00"),
        (["C: Sâmbătă 11-13 ar fi ideal."], "11:00"),
        (["C: Pe 3 mai vin 10-12 copii."], None),
        # two hours offered, a later message picks one
        (["S: Avem la 11:00 sau la 16:30.", "C: A doua variantă, vă rog."], "16:30"),
        (["S: Putem la 10 sau la 14.", "C: Prima."], "10:00"),
        (["C: Ne gândim la ora 12 sau 17.", "S: Ambele sunt libere.", "C: Mai bine 17."], "17:00"),
        (["S: Se poate la 15:00 sau 18:00.", "C: 18 e perfect."], "18:00"),
        (["S: Se poate la 15:00 sau 18:00."], "18:00"),  # no pick: the last one said, as before
        # English
        (["C: Can we start at 4 pm?"], "16:00"),
    ],
)
def test_blind_time_rules(lines: list[str], expected: str | None) -> None:
    assert resolve_time(chat(*lines)) == expected


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (
            ["C: Petrecerea e la noi în sat, comuna Gruiu, sat Lipia nr. 40."],
            "Comuna Gruiu, sat Lipia nr. 40",
        ),
        (
            ["C: Adresa: sat Runcu nr. 7, com. Runcu, jud. Dâmbovița."],
            "Sat Runcu nr. 7, com. Runcu, jud. Dâmbovița",
        ),
        (
            ["C: Str. Morii nr. 3, bl. 2, ap. 5, interfon 5B, sector 5."],
            "Str. Morii nr. 3, bl. 2, ap. 5, interfon 5B, sector 5",
        ),
        (
            ["C: Suntem în grădina restaurantului Casa Veche, Str. Lungă nr. 9, Arad."],
            "Restaurantului Casa Veche, Str. Lungă nr. 9, Arad",
        ),
        (
            ["C: În Parcul Circului, lângă fântâna mare, sector 2."],
            "Parcul Circului, lângă fântâna mare, sector 2",
        ),
    ],
)
def test_blind_address_rules(lines: list[str], expected: str) -> None:
    assert resolve_address(chat(*lines)) == expected


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["S: Pachetul e două mii două sute de lei."], 2200),
        (["C: Deci nouă sute cincizeci de lei, da?"], 950),
        (["S: Ar fi o sută cincizeci lei pentru baloane."], 150),
        (["S: Animator: 600 + 150 deplasare. E ok?"], 750),
        (["S: Elsa + Anna + transport: 1250", "C: Ok."], 1250),
        (["S: 2 ore + 1 oră extra."], None),  # durations, not prices
    ],
)
def test_blind_amount_rules(lines: list[str], expected: int | None) -> None:
    assert resolve_price(chat(*lines)).amount == expected


def test_blind_a_transfer_is_a_payment_and_a_line_menu_takes_the_named_package() -> None:
    paid = chat("S: 700 lei, plata în avans pe IBAN.", "C: Am făcut transferul, 700 lei.")
    assert resolve_payment_status(paid, 700) == "PAID"
    menu = chat(
        "S: Pachete:\n• Mini – o animatoare 2 ore – 500 lei\n• Maxi – două animatoare + popcorn"
        " – 1.100 lei",
        "C: Luăm Mini, pe 4 aprilie.",
    )
    assert resolve_price(menu).amount == 500
    assert [r.roleType for r in resolve_roles(menu)] == ["ANIMATOR"]


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        # a character's name inside a venue name is the place
        (["C: Vrem Moș Crăciun la grădinița Stitch, str. Mare 3."], ["SANTA_CLAUS"]),
        (["C: Animatoare la locul de joacă Pikachu."], ["ANIMATOR"]),
        # a count after a sentence end is still a count
        (["S: Avem liber. Două animatoare, 900 lei.", "C: Bine."], ["ANIMATOR", "ANIMATOR"]),
        # accepting a numbered price list does not book every line
        (
            [
                "C: Cât costă un animator?",
                "S: 1) Animator – 500 lei\n2) Popcorn – 250 lei\n3) Arcade – 900 lei",
                "C: Ok, luăm animatorul.",
            ],
            ["ANIMATOR"],
        ),
        # sending the deposit takes the offer
        (
            ["C: Vrem ceva pe 9 mai.", "S: Clovn 2h 500 + fum greu 300.", "C: Am trimis avansul."],
            ["ANIMATOR", "DRY_ICE"],
        ),
    ],
)
def test_blind_role_rules(lines: list[str], expected: list[str]) -> None:
    assert [r.roleType for r in resolve_roles(chat(*lines))] == expected


@pytest.mark.parametrize(
    ("lines", "booking"),
    [
        (
            [
                "C: Moș Crăciun pentru copiii angajaților, pe 18 decembrie la sediul nostru, "
                "Str. Mare 2, Iași. Vrem să rezervăm."
            ],
            True,
        ),
        (["C: Angajați animatori? Am experiență, vă trimit CV-ul."], False),
        (
            [
                "C: Pe 9 mai, Str. Florilor 4, Elsa, 500 lei, rezervăm.",
                "C: Revin: nu mai facem acasă, am rezervat la Restaurant Lux, Str. Mare 1.",
            ],
            True,
        ),
        (
            [
                "C: Pe 9 mai, Str. Florilor 4, Elsa, 500 lei, rezervăm.",
                "C: Din păcate nu mai facem petrecerea.",
            ],
            False,
        ),
        (["S: Avem liber pe 9 mai, 500 lei.", "C: Ok, mersi, revin."], False),
    ],
)
def test_blind_intent_rules(lines: list[str], booking: bool) -> None:
    assert (extract(chat(*lines)).intent == "BOOKING") is booking


def test_blind_age_after_a_double_barrelled_name() -> None:
    assert resolve_child_age(chat("C: Pentru Ioana-Maria (6 ani), pe 9 mai.")) == 6
    assert resolve_child_age(chat("C: Ziua lui Radu-Ștefan, 8 ani.")) == 8


# ---- second blind set: rules generalized from it, tested on new sentences ---------------------


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        # an hour with "h" and no keyword; a small number with "h" is a duration
        (["C: Rezervare 9 mai, 16h, la noi."], "16:00"),
        (["C: Pe 9 mai, 11h, Batman 2h."], "11:00"),
        (["C: Batman 2h, pe 9 mai."], None),
        # a form label with a colon
        (["C: Data: 9 mai. Ora: 15. Loc: acasă."], "15:00"),
        # "de la X la Y": Y closes the range
        (["C: Pe 9 mai de la 10:30 la 13:30."], "10:30"),
        (["C: Duminică de la ora 12 la 15, în curte."], "12:00"),
        # one time per service in a message: the party starts with the first
        (["C: Animatorul la 16:00, vata de zahăr pe la 17:00."], "16:00"),
        (["C: Moșul pe la 19:30, iar fumul greu la 20:00."], "19:30"),
        # …but a correction of the same thing still wins
        (["C: Animatorul la 16, nu, mai bine la 17."], "17:00"),
        # a bare number answering the staff's time question
        (["S: La ce oră începeți?", "C: 15"], "15:00"),
        (["S: Ora 11:00 vă convine?", "C: nu, 12:30"], "12:30"),
        (["S: Perfect. Ce oră?", "C: da, pe la 6 seara"], "18:00"),
        (["S: Câți copii vin?", "C: 15"], None),
    ],
)
def test_blind2_time_rules(lines: list[str], expected: str | None) -> None:
    assert resolve_time(chat(*lines)) == expected


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["C: Hi, is April 18th free for a party?"], "18-04-2026"),
        (["C: We'd like the 25th of April, at 4pm."], "25-04-2026"),
        (["C: Could you come on March 21 2027?"], "21-03-2027"),
        (["C: We may invite 5 kids."], None),
    ],
)
def test_blind2_english_dates(lines: list[str], expected: str | None) -> None:
    assert day(chat(*lines)) == expected


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        # a tip for the animator is not the price
        (["S: Magicianul costă 700 lei.", "C: Ok, și îi lăsăm 100 lei bacșiș la final."], 700),
        (["S: 800 lei in total.", "C: Great, we'll add 50 lei as a tip."], 800),
        # the price the staff settle on wins over the list price said before it
        (["S: Pachetul e 1500 lei; pentru voi facem 1300."], 1300),
        (["S: Total 2000 lei, dar vă putem face 1.800 lei dacă rezervați azi."], 1800),
        (["S: Vă las la 950 lei, e ultimul preț."], 950),
        (["S: Facem 2 ore, 700 lei."], 700),
        # a bare number said as the total
        (["S: Animator 650 lei + transport 120 lei. 770 cu tot cu transportul."], 770),
        (["S: Trei servicii, 1.450 în total, vă convine?"], 1450),
    ],
)
def test_blind2_amount_rules(lines: list[str], expected: int | None) -> None:
    assert price(*lines)[0] == expected


@pytest.mark.parametrize(
    ("lines", "status"),
    [
        (["S: 700 lei.", "C: I've sent you the full amount by bank transfer."], "PAID"),
        (["S: 700 lei.", "S: Received, the party is paid in full."], "PAID"),
        (["S: 700 lei.", "C: We'll pay the full amount on the day."], "UNPAID"),
    ],
)
def test_blind2_english_payment(lines: list[str], status: str) -> None:
    messages = chat(*lines)
    assert resolve_payment_status(messages, resolve_price(messages).amount) == status


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        # the town said just before the street
        (["C: Stăm în Corbeanca, Str. Libertății 7, pe 9 mai."], "Corbeanca, Str. Libertății 7"),
        (
            ["C: Pe 9 mai, la bunici în Măgurele, Str. Atomiștilor 40."],
            "Măgurele, Str. Atomiștilor 40",
        ),
        # an address pasted from a map app: postal code after the city, then the country
        (
            ["C: Bulevardul Eroilor 12, Timișoara 300001, România"],
            "Bulevardul Eroilor 12, Timișoara 300001",
        ),
        # a reply that only adds the sector
        (
            ["C: Str. Fizicienilor 14, bl. 3, ap. 9.", "S: Ce sector?", "C: sectorul 3"],
            "Str. Fizicienilor 14, bl. 3, ap. 9, Sector 3",
        ),
        (["C: Calea Giulești 5, Sector 6.", "C: da, sector 6"], "Calea Giulești 5, Sector 6"),
    ],
)
def test_blind2_address_rules(lines: list[str], expected: str) -> None:
    assert resolve_address(chat(*lines)) == expected


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        # "și un animator" without a named character is the one animator
        (
            [
                "C: Vrem popcorn și un animator, pe 9 mai.",
                "S: Popcorn + animator: 900 lei.",
                "C: Da.",
            ],
            ["ANIMATOR", "POPCORN"],
        ),
        # …and one more next to a named character
        (["C: Vrem Elsa și o animatoare pentru face painting."], ["ANIMATOR", "ANIMATOR"]),
        # modelled balloons in the animator's show are not an order of balloons…
        (["C: Un clovn cu magie și baloane modelate, vă rog."], ["ANIMATOR"]),
        # …but an item of their own when added to it
        (["C: Un clovn + baloane modelate pentru fiecare copil."], ["ANIMATOR", "BALLOONS"]),
        # what a decoration is made of, and what balloons are for
        (["C: Vrem decorațiuni din baloane pentru sală."], ["DECORATIONS"]),
        (["C: Vrem 30 de baloane colorate pentru decor."], ["BALLOONS"]),
        (["C: Vrem decor floral și 10 baloane."], ["BALLOONS", "DECORATIONS"]),
        # a written confirmation accepted by "totul corect"
        (
            ["S: Confirmare rezervare: Batman, popcorn, 9 mai, 900 lei.", "C: Totul corect."],
            ["ANIMATOR", "POPCORN"],
        ),
        # "cash sau card" is about paying, not a choice between services
        (
            ["S: Sonic + vată: 900 lei. Plata cash sau card la final.", "C: ok"],
            ["ANIMATOR", "COTTON_CANDY"],
        ),
        (["S: Sonic sau Mario, 600 lei.", "C: ok"], []),
    ],
)
def test_blind2_role_rules(lines: list[str], expected: list[str]) -> None:
    assert sorted(r.roleType for r in resolve_roles(chat(*lines))) == sorted(expected)


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["C: Vrem Moana și Tamatoa pe 9 mai."], {"Moana", "Tamatoa"}),
        (["C: Vrem un Pikachu și un Charizard."], {"Pikachu", "Charizard"}),
        (["C: Vrem Gabby + Pandy Paws."], None),  # neither is known: no anchor
        (["C: Elsa și Maria, 5 ani, pe 9 mai."], {"Elsa"}),  # a child with an age
        (["C: Batman și Str. Lungă 4."], {"Batman"}),
    ],
)
def test_blind2_a_name_joined_to_a_known_character_is_a_character(
    lines: list[str], expected: set[str] | None
) -> None:
    characters = {r.character for r in resolve_roles(chat(*lines)) if r.character}
    assert characters == (expected or set())


@pytest.mark.parametrize(
    ("lines", "name", "age"),
    [
        # a capitalized name followed by "și" and the rest of the sentence is one name
        (["C: Sunt mama lui Petru și am o întrebare: face 4 ani pe 9 mai."], "Petru", 4),
        # a hyphenated name in the genitive
        (["C: Pentru botezul Mariei-Luiza vrem ursitoare."], "Maria-Luiza", None),
        # English
        (["C: It's for our son Jacob's 7th birthday on May 9th."], "Jacob", 7),
        (["C: My daughter, Emily, is turning 4 in May."], "Emily", 4),
        (["C: Our little girl Ava will be 3 years old."], "Ava", 3),
        (["C: Can we start at 4? Our son Leo turns 6."], "Leo", 6),
    ],
)
def test_blind2_child_rules(lines: list[str], name: str, age: int | None) -> None:
    messages = chat(*lines)
    assert resolve_child_name(messages) == name
    assert resolve_child_age(messages) == age


# ---- blind3: recaps, capitals, emoji, Roman months -------------------------------------------


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        # a number on the line before a recap label counts years or children, not animators
        (
            ["S: Rezumat:\nSărbătorită: Ioana, 8 ani\nPersonaje: Rapunzel\nPreț: 600 lei"],
            ["ANIMATOR"],
        ),
        (["S: Confirmat.\nInvitați: 18\nPersonaj: Batman\nTotal: 650 lei"], ["ANIMATOR"]),
        (["S: Notat: Dan, 9 ani | Personaje: Hulk, Thor | 1200 lei"], ["ANIMATOR", "ANIMATOR"]),
        # …while a count said right before the item still counts
        (["C: Vrem 2 animatori și 3 ursitoare."], ["ANIMATOR", "ANIMATOR", "URSITOARE"]),
        # a word that is a character only in context: after a character label or an article
        (["S: Confirmat. Personaje: pirat. 600 lei."], ["ANIMATOR"]),
        (["C: Vrem Batman și un pirat pentru băieți."], ["ANIMATOR", "ANIMATOR"]),
        # a capitalized name after "pentru" is the child, not a second character
        (["C: Vrem Mickey pentru Ilie și Sonic pentru Dan."], ["ANIMATOR", "ANIMATOR"]),
        # an arch with games is the arcade; a bare arch is decoration or balloons
        (["C: Vrem o arcadă cu jocuri pentru 4 ore."], ["ARCADE"]),
        (["C: Vrem o arcadă de baloane la intrare."], ["BALLOONS"]),
        (["C: Vrem arcadă și aranjament floral la intrare."], ["DECORATIONS"]),
    ],
)
def test_blind3_role_rules(lines: list[str], expected: list[str]) -> None:
    assert sorted(r.roleType for r in resolve_roles(chat(*lines))) == sorted(expected)


def test_blind3_a_person_after_pentru_is_not_a_character() -> None:
    roles = resolve_roles(chat("C: Vrem Mickey pentru Ilie și Sonic pentru Dan."))
    assert {r.character for r in roles} == {"Mickey", "Sonic"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ziua Irinei 🎂 5 ani ⏰ ora 12", "Ziua Irinei, 5 ani, ora 12"),
        ("👋 salut", "salut"),
        ("Str. Nucului nr. 2 🏠, Otopeni", "Str. Nucului nr. 2, Otopeni"),
        ("VREM ELSA PE 9 MAI", "vrem elsa pe 9 mai"),
        ("OK", "OK"),  # too short to be shouting
        ("Vrem ELSA", "Vrem ELSA"),
    ],
)
def test_blind3_readable_text(text: str, expected: str) -> None:
    from shared.crm.heuristics.text import readable

    assert readable(text) == expected


@pytest.mark.parametrize(
    ("lines", "name", "age"),
    [
        # a chat shouted in capitals reads like one in lowercase
        (["C: VREM UN CLOVN PENTRU FIUL MEU TEODOR CARE FACE 6 ANI, PE 9 MAI"], "Teodor", 6),
        (["C: ZIUA LUI PAUL, 9 ANI, PE 9 MAI, ORA 12"], "Paul", 9),
        # emoji between the name and the age
        (["C: Ziua lui Horia 🎈🎈 4 ani 🎉 pe 9 mai"], "Horia", 4),
        (["C: Petrecere pt Ilinca 💕 face 3 anișori"], "Ilinca", 3),
    ],
)
def test_blind3_capitals_and_emoji_child(lines: list[str], name: str, age: int) -> None:
    fields = extract(chat(*lines))
    assert (fields.childName, fields.childAge) == (name, age)


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["C: Petrecerea e pe 23 VII, ora 12."], "23-07-2026"),
        (["C: Data: 5.IX.2026"], "05-09-2026"),
        (["C: Pe 2 XII vrem Moș Crăciun."], "02-12-2026"),
        (["C: Vrem 2 X Elsa?"], None),  # a lone X is "times", not October
    ],
)
def test_blind3_roman_months(lines: list[str], expected: str | None) -> None:
    assert day(chat(*lines)) == expected


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        # an emoji separates the date from the time
        (["C: Pe 9.05 ⏰ ora 15"], "15:00"),
        # a numeric date right before the time does not make it a duration
        (["C: Vrem pe 23/05 de la ora 5"], "17:00"),
        (["C: Rezervăm 30.05.2026 la ora 11"], "11:00"),
        (["C: Durata 1 oră 30"], None),
    ],
)
def test_blind3_time_rules(lines: list[str], expected: str | None) -> None:
    assert extract(chat(*lines)).startTime == expected


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        # a bar separates the fields of a recap like a comma
        (["S: Notat | Total: 950 RON | Avans: 200 RON", "C: Ok"], 950),
        (["S: Elsa • Total: 700 lei • Avans: 0", "C: Da"], 700),
    ],
)
def test_blind3_amount_rules(lines: list[str], expected: int) -> None:
    assert price(*lines)[0] == expected


@pytest.mark.parametrize(
    ("lines", "status"),
    [
        # a promise to pay everything later is not a payment
        (["S: 700 lei.", "C: Plătim integral la petrecere."], "UNPAID"),
        (["S: 700 lei.", "C: Vom plăti integral în ziua evenimentului."], "UNPAID"),
        (["S: 700 lei.", "C: Am plătit integral."], "PAID"),
        # staff confirm that the whole payment came in
        (["S: 700 lei.", "C: Am trimis banii.", "S: Plata primită integral, mulțumim!"], "PAID"),
        (["S: 700 lei.", "S: Plata integrală a fost încasată."], "PAID"),
        (["S: 700 lei, avans 200.", "C: Trimis.", "S: Plata primită, mulțumim!"], "UNPAID"),
    ],
)
def test_blind3_payment_rules(lines: list[str], status: str) -> None:
    messages = chat(*lines)
    assert resolve_payment_status(messages, resolve_price(messages).amount) == status


@pytest.mark.parametrize(
    ("lines", "name", "age"),
    [
        # two children with different ages: the age of the child whose party it is (named first)
        (["C: Petrecere pentru Luana și Radu. Luana face 4 ani și Radu 9 ani."], "Luana", 4),
        (["S: Confirmat: Sărbătoriți: Dora (2 ani) și Emil (5 ani), 9 mai."], "Dora", 2),
        (["C: Pentru copiii noștri Sara (6 ani) și Ionel (3 ani)."], "Sara", 6),
        # one child corrected stays the last age said
        (["S: Sărbătorit: Vlad, 5 ani.", "C: Vlad face 6 ani, nu 5."], "Vlad", 6),
        # a double given name before the age
        (["C: Pentru Ana Sofia, 7 ani, vrem Elsa."], "Ana Sofia", 7),
        (["S: Sărbătorită: Maria Ioana (4 ani)"], "Maria Ioana", 4),
        # "aniversare" without the article, then the genitive
        (["C: Vrem baloane pentru prima aniversare a Roxanei, 1 an."], "Roxana", 1),
        # a recap label names the child
        (["S: Recapitulare:\nSărbătorit: Tudor\nData: 9 mai"], "Tudor", None),
    ],
)
def test_blind3_child_rules(lines: list[str], name: str, age: int | None) -> None:
    fields = extract(chat(*lines))
    assert (fields.childName, fields.childAge) == (name, age)


@pytest.mark.parametrize(
    ("lines", "amount", "roles"),
    [
        # packages written "Name (contents) price; …": only the one the client names counts
        (
            [
                "S: Avem Mini (1 personaj) 500 lei; Maxi (2 personaje + popcorn) 1200 lei",
                "C: Maxi, cu Hulk și Thor.",
            ],
            1200,
            ["ANIMATOR", "ANIMATOR", "POPCORN"],
        ),
        (
            [
                "S: Variante:\nStart (1 animator) 450 lei\nParty (1 animator + vată) 750 lei",
                "C: Vrem Start, mulțumim",
            ],
            450,
            ["ANIMATOR"],
        ),
        # items priced with their length in brackets are a bill, not packages
        (
            ["S: Elsa (2 ore) 600 lei; Olaf (2 ore) 600 lei; total 1200 lei", "C: Ok"],
            1200,
            ["ANIMATOR", "ANIMATOR"],
        ),
    ],
)
def test_blind3_packages_in_brackets(lines: list[str], amount: int, roles: list[str]) -> None:
    fields = extract(chat(*lines))
    assert fields.payment.amount == amount
    assert sorted(r.roleType for r in fields.roles) == sorted(roles)
