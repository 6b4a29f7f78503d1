"""What debtors say about money and time, as `parse_offer` understands it (many phrasings)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from parley.negotiation.terms import (
    DebtorOffer,
    is_refusal,
    normalize,
    parse_offer,
    proposed_terms,
)

TODAY = date(2024, 1, 31)  # a Wednesday, the last day of a month, in a leap year
FRI = date(2024, 2, 2)


def offer(**fields: Any) -> DebtorOffer:
    return DebtorOffer(**fields)


CASES: list[tuple[str, DebtorOffer | None]] = [
    # amounts
    ("$50", offer(amount_cents=5000)),
    ("50 bucks", offer(amount_cents=5000)),
    ("fifty", offer(amount_cents=5000)),
    ("fifty dollars", offer(amount_cents=5000)),
    ("1,200.50", offer(amount_cents=120050)),
    ("$1,200.50", offer(amount_cents=120050)),
    ("$1.2k", offer(amount_cents=120000)),
    ("2k", offer(amount_cents=200000)),
    ("40 dollars", offer(amount_cents=4000)),
    ("$ 75.5", offer(amount_cents=7550)),
    ("I can do twelve hundred", offer(amount_cents=120000)),
    ("I can pay 2000", offer(amount_cents=200000)),
    ("maybe a hundred", offer(amount_cents=10000)),
    ("twenty-five dollars", offer(amount_cents=2500)),
    # amount per period
    ("I can do $50 a month", offer(amount_cents=5000, frequency="monthly")),
    ("50 per month", offer(amount_cents=5000, frequency="monthly")),
    ("$50/mo", offer(amount_cents=5000, frequency="monthly")),
    ("cn u do 50/mo", offer(amount_cents=5000, frequency="monthly")),
    ("50 a mo", offer(amount_cents=5000, frequency="monthly")),
    ("i can pay 50 monthly", offer(amount_cents=5000, frequency="monthly")),
    ("monthly payments of $80", offer(amount_cents=8000, frequency="monthly")),
    ("each month I could send 60", offer(amount_cents=6000, frequency="monthly")),
    ("two hundred and fifty a month", offer(amount_cents=25000, frequency="monthly")),
    ("40 bucks every two weeks", offer(amount_cents=4000, frequency="biweekly")),
    ("i can pay 40 evry 2 weeks", offer(amount_cents=4000, frequency="biweekly")),
    ("40 every 2 wks", offer(amount_cents=4000, frequency="biweekly")),
    ("$45 biweekly", offer(amount_cents=4500, frequency="biweekly")),
    ("$45 bi-weekly", offer(amount_cents=4500, frequency="biweekly")),
    ("every other week $45", offer(amount_cents=4500, frequency="biweekly")),
    ("60 fortnightly", offer(amount_cents=6000, frequency="biweekly")),
    ("100 twice a month", offer(amount_cents=10000, frequency="biweekly")),
    ("twenty five a week", offer(amount_cents=2500, frequency="weekly")),
    ("$30 weekly", offer(amount_cents=3000, frequency="weekly")),
    ("30/wk", offer(amount_cents=3000, frequency="weekly")),
    ("30 per week", offer(amount_cents=3000, frequency="weekly")),
    ("$30 every friday", offer(amount_cents=3000, frequency="weekly", first_date=FRI)),
    (
        "i get paid fridays so 35 every friday",
        offer(amount_cents=3500, frequency="weekly", first_date=FRI),
    ),
    (
        "50 a month starting the 15th",
        offer(amount_cents=5000, frequency="monthly", first_date=date(2024, 2, 15)),
    ),
    # counts
    ("6 payments", offer(count=6)),
    ("in 6 installments", offer(count=6)),
    ("can i split it into six payments", offer(count=6)),
    ("3 pmts", offer(count=3)),
    ("over 6 months", offer(count=6, frequency="monthly")),
    ("over the next 12 months", offer(count=12, frequency="monthly")),
    ("over 8 weeks", offer(count=8, frequency="weekly")),
    ("4 biweekly payments", offer(count=4, frequency="biweekly")),
    ("6 payments of $50", offer(amount_cents=5000, count=6)),
    ("6 x $50", offer(amount_cents=5000, count=6)),
    ("in one payment on friday", offer(first_date=FRI, lump_sum=True)),
    # mixed
    (
        "200 now and 50 a month",
        offer(amount_cents=5000, frequency="monthly", down_payment_cents=20000),
    ),
    (
        "$200 now and the rest monthly",
        offer(frequency="monthly", down_payment_cents=20000, rest_frequency=True),
    ),
    (
        "$300 down and the remainder over 6 months",
        offer(count=6, frequency="monthly", down_payment_cents=30000, rest_frequency=True),
    ),
    (
        "100 today then 25 a week",
        offer(amount_cents=2500, frequency="weekly", down_payment_cents=10000),
    ),
    ("$120 on Friday", offer(amount_cents=12000, first_date=FRI, lump_sum=True)),
    (
        "i can send 500 tomorrow",
        offer(amount_cents=50000, first_date=date(2024, 2, 1), lump_sum=True),
    ),
    ("I can pay 200 today", offer(amount_cents=20000, first_date=TODAY, lump_sum=True)),
    ("i could do a lump sum of 700", offer(amount_cents=70000, lump_sum=True)),
    ("i can pay it all on the 15th", offer(first_date=date(2024, 2, 15), lump_sum=True)),
    ("pay in full tomorrow", offer(first_date=date(2024, 2, 1), lump_sum=True)),
    ("i'll pay off the whole thing next friday", offer(first_date=FRI, lump_sum=True)),
    # dates alone
    ("I get paid on the 15th", offer(first_date=date(2024, 2, 15))),
    ("on payday the 1st", offer(first_date=date(2024, 2, 1))),
    ("the first", offer(first_date=date(2024, 2, 1))),
    ("the 31st", offer(first_date=TODAY)),
    ("on the 30th", offer(first_date=date(2024, 2, 29))),  # clamped to the end of February
    ("next Friday", offer(first_date=FRI)),
    ("on Friday", offer(first_date=FRI)),
    ("next wednesday", offer(first_date=date(2024, 2, 7))),
    ("wednesday", offer(first_date=TODAY)),
    ("tomorrow", offer(first_date=date(2024, 2, 1))),
    ("tmrw", offer(first_date=date(2024, 2, 1))),
    ("Dec 1", offer(first_date=date(2024, 12, 1))),
    ("december 1st", offer(first_date=date(2024, 12, 1))),
    ("1st of march", offer(first_date=date(2024, 3, 1))),
    ("Jan 15", offer(first_date=date(2025, 1, 15))),  # already past this year
    ("12/01", offer(first_date=date(2024, 12, 1))),
    ("2/29", offer(first_date=date(2024, 2, 29))),
    ("in 2 weeks", offer(first_date=date(2024, 2, 14))),
    ("in a month", offer(first_date=date(2024, 2, 29))),
    ("end of the month", offer(first_date=TODAY)),
    # not amounts: birth dates, ZIP codes, years, phone numbers, percentages
    ("my zip is 90210", None),
    ("90210", None),
    ("born 01/15/1985", None),
    ("my dob is 1/15/85", None),
    ("in 2025", None),
    ("call me at 555-123-4567", None),
    ("would you take 50%", None),
    ("my zip is 90210 and i can do 50 a month", offer(amount_cents=5000, frequency="monthly")),
    (
        "I get paid on the 15th, can do 100",
        offer(amount_cents=10000, first_date=date(2024, 2, 15), lump_sum=True),
    ),
    ("hello", None),
    # a weekday repeated: weekly, or every other one (the coming one first unless said)
    ("$40 every friday", offer(amount_cents=4000, frequency="weekly", first_date=FRI)),
    ("$60 every other friday", offer(amount_cents=6000, frequency="biweekly", first_date=FRI)),
    ("50 every 2nd friday", offer(amount_cents=5000, frequency="biweekly", first_date=FRI)),
    (
        "$60 every other Friday, starting feb 16",
        offer(amount_cents=6000, frequency="biweekly", first_date=date(2024, 2, 16)),
    ),
    (
        "25 each friday starting the 9th",
        offer(amount_cents=2500, frequency="weekly", first_date=date(2024, 2, 9)),
    ),
    # the balance in equal parts
    (
        "half now and half next month",
        offer(count=2, frequency="monthly", first_date=TODAY),
    ),
    ("a third each month", offer(count=3, frequency="monthly")),
    ("half now and the rest in 2 weeks", offer(count=2, frequency="biweekly", first_date=TODAY)),
    ("pay on the third", offer(first_date=date(2024, 2, 3))),  # a day, not a fraction
    ("would you take half?", None),  # a settlement question, not two payments
    # "in about 2 weeks": a date; the figure said with it is the amount
    (
        "my refund should hit in about 2 weeks, can i pay 300 then?",
        offer(amount_cents=30000, first_date=date(2024, 2, 14), lump_sum=True),
    ),
    ("I can't pay anything right now", None),
    ("", None),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] or "empty" for c in CASES])
def test_parse_offer(text: str, expected: DebtorOffer | None) -> None:
    assert parse_offer(text, TODAY) == expected


def test_relative_dates_follow_today() -> None:
    leap_end = date(2024, 2, 29)  # Thursday
    assert parse_offer("the 29th", date(2023, 2, 1)) == offer(first_date=date(2023, 2, 28))
    assert parse_offer("the 15th", date(2024, 1, 15)) == offer(first_date=date(2024, 1, 15))
    assert parse_offer("the 15th", date(2024, 1, 16)) == offer(first_date=date(2024, 2, 15))
    assert parse_offer("thursday", leap_end) == offer(first_date=leap_end)
    assert parse_offer("next thursday", leap_end) == offer(first_date=date(2024, 3, 7))
    assert parse_offer("feb 29", date(2024, 3, 1)) == offer(first_date=date(2028, 2, 29))
    assert parse_offer("12/31", date(2024, 12, 31)) == offer(first_date=date(2024, 12, 31))


def test_normalize_expands_shorthand_and_number_words() -> None:
    assert normalize("cn u do fifty/mo") == "cn u do 50/month"
    assert normalize("40 evry 2 wks") == "40 every 2 weeks"
    assert normalize("every other week") == "every 2 weeks"


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("100 a month but i cant start until the 20th", date(2024, 2, 20)),
        ("50 a month, not until the 15th", date(2024, 2, 15)),
        ("$80 monthly, can't begin payments before the 10th", date(2024, 2, 10)),
    ],
)
def test_a_later_start_is_no_refusal(text: str, first: date) -> None:
    assert not is_refusal(text)
    terms = proposed_terms(text, TODAY)
    assert terms is not None and terms.first_date == first and terms.frequency == "monthly"


def test_a_refusal_is_still_a_refusal() -> None:
    assert is_refusal("i cant pay that much")
    assert is_refusal("no way, can't do it")
