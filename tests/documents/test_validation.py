"""The validation period's end date (SPEC §14, Reg F 1006.34(b)(5)) on fixed dates.

Every expected date below was counted by hand on a calendar: receipt is the 5th day after
sending that is not a Saturday, Sunday or federal holiday (nor the day one is observed on); the
period ends 30 days after receipt, moved to the next business day when that is not one.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.documents.validation import (
    assumed_receipt,
    federal_holiday_name,
    is_business_day,
    validation_period_end,
)

CASES = [
    # sent, assumed receipt, period end, what the case is about
    (date(2025, 3, 3), date(2025, 3, 10), date(2025, 4, 9), "plain weeks: a weekend inside"),
    (date(2025, 3, 8), date(2025, 3, 14), date(2025, 4, 14), "sent Saturday; day 30 a Sunday"),
    (date(2025, 11, 24), date(2025, 12, 2), date(2026, 1, 2), "Thanksgiving; day 30 New Year"),
    (date(2025, 12, 22), date(2025, 12, 30), date(2026, 1, 29), "Christmas (Thursday)"),
    (date(2025, 11, 18), date(2025, 11, 25), date(2025, 12, 26), "day 30 on Christmas"),
    (date(2021, 12, 27), date(2022, 1, 4), date(2022, 2, 3), "New Year observed Fri Dec 31"),
    (date(2025, 6, 16), date(2025, 6, 24), date(2025, 7, 24), "Juneteenth (Thursday)"),
    (date(2027, 6, 14), date(2027, 6, 22), date(2027, 7, 22), "Juneteenth observed Fri Jun 18"),
    (date(2026, 1, 13), date(2026, 1, 21), date(2026, 2, 20), "a Monday holiday (MLK Day)"),
    (date(2025, 8, 27), date(2025, 9, 4), date(2025, 10, 6), "Labor Day; day 30 a Saturday"),
    (date(2026, 10, 20), date(2026, 10, 27), date(2026, 11, 27), "day 30 on Thanksgiving"),
    (date(2026, 6, 29), date(2026, 7, 7), date(2026, 8, 6), "July 4 observed Fri Jul 3"),
    (date(2025, 11, 10), date(2025, 11, 18), date(2025, 12, 18), "Veterans Day (Tuesday)"),
]


@pytest.mark.parametrize(("sent", "receipt", "end", "about"), CASES, ids=[c[3] for c in CASES])
def test_receipt_and_end_date(sent: date, receipt: date, end: date, about: str) -> None:
    assert assumed_receipt(sent) == receipt
    assert validation_period_end(sent) == end


def test_the_holidays_are_those_of_5_usc_6103a_and_their_observed_days() -> None:
    assert federal_holiday_name(date(2025, 11, 27)) == "Thanksgiving Day"
    assert federal_holiday_name(date(2025, 6, 19)) == "Juneteenth National Independence Day"
    assert federal_holiday_name(date(2026, 1, 19)) == "Martin Luther King Jr. Day"
    assert federal_holiday_name(date(2025, 10, 13)) == "Columbus Day"  # not a NYSE holiday
    assert "observed" in (federal_holiday_name(date(2026, 7, 3)) or "")
    # Good Friday closes the stock exchange but is no federal holiday; Christmas Eve neither.
    assert federal_holiday_name(date(2025, 4, 18)) is None
    assert federal_holiday_name(date(2025, 12, 24)) is None
    assert is_business_day(date(2025, 4, 18))
    assert not is_business_day(date(2025, 12, 25))
    assert not is_business_day(date(2025, 12, 27))  # a Saturday


@given(st.dates(min_value=date(2021, 1, 1), max_value=date(2035, 12, 31)))
def test_any_sending_date(sent: date) -> None:
    receipt = assumed_receipt(sent)
    between = [sent + timedelta(days=n) for n in range(1, (receipt - sent).days + 1)]
    assert sum(is_business_day(day) for day in between) == 5
    assert is_business_day(receipt)
    end = validation_period_end(sent)
    assert is_business_day(end)
    assert receipt + timedelta(days=30) <= end < receipt + timedelta(days=30 + 5)
    # Never earlier than the plain count: 5 business days take at least 5 days, then 30.
    assert (end - sent).days >= 35
