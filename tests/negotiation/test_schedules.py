"""Calendar schedules and exact splitting of totals into installments."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.negotiation.schedules import (
    add_months,
    max_payments_within,
    schedule,
    split_by_amount,
    split_total,
)


def test_monthly_keeps_the_day_and_clamps_to_month_end() -> None:
    assert schedule(date(2024, 1, 31), "monthly", 4) == [
        date(2024, 1, 31),
        date(2024, 2, 29),  # leap year
        date(2024, 3, 31),  # back to the 31st: computed from the first date, not chained
        date(2024, 4, 30),
    ]
    assert schedule(date(2023, 1, 31), "monthly", 2) == [date(2023, 1, 31), date(2023, 2, 28)]
    assert schedule(date(2024, 2, 29), "monthly", 13)[-1] == date(2025, 2, 28)
    assert schedule(date(2024, 11, 30), "monthly", 3) == [
        date(2024, 11, 30),
        date(2024, 12, 30),
        date(2025, 1, 30),
    ]


def test_weekly_and_biweekly_cross_months_and_years() -> None:
    assert schedule(date(2024, 12, 25), "weekly", 3) == [
        date(2024, 12, 25),
        date(2025, 1, 1),
        date(2025, 1, 8),
    ]
    assert schedule(date(2024, 2, 22), "biweekly", 3) == [
        date(2024, 2, 22),
        date(2024, 3, 7),
        date(2024, 3, 21),
    ]
    assert schedule(date(2024, 1, 1), "weekly", 0) == []


def test_add_months_handles_negative_and_year_wrap() -> None:
    assert add_months(date(2024, 3, 31), -1) == date(2024, 2, 29)
    assert add_months(date(2024, 12, 15), 1) == date(2025, 1, 15)


def test_max_payments_within() -> None:
    assert max_payments_within(date(2024, 1, 1), "monthly", 365) == 12  # 2024 has 366 days
    assert max_payments_within(date(2023, 1, 1), "monthly", 365) == 13
    assert max_payments_within(date(2024, 1, 1), "weekly", 6) == 1
    assert max_payments_within(date(2024, 1, 1), "weekly", 7) == 2
    assert max_payments_within(date(2024, 1, 31), "monthly", 29) == 2  # Feb 29 is 29 days on


def test_split_total_last_absorbs_rounding() -> None:
    assert split_total(1000, 3) == [333, 333, 334]
    assert split_total(1, 3) == [0, 0, 1]
    assert split_total(500, 1) == [500]
    with pytest.raises(ValueError):
        split_total(100, 0)


def test_split_by_amount_remainder_last() -> None:
    assert split_by_amount(10_000, 3_000) == [3_000, 3_000, 3_000, 1_000]
    assert split_by_amount(9_000, 3_000) == [3_000, 3_000, 3_000]
    assert split_by_amount(500, 3_000) == [500]
    with pytest.raises(ValueError):
        split_by_amount(500, 0)


@given(st.integers(0, 10**12), st.integers(1, 500))
def test_split_total_is_exact(total: int, count: int) -> None:
    parts = split_total(total, count)
    assert sum(parts) == total and len(parts) == count
    assert max(parts) - min(parts) < count or count == 1
    assert parts[-1] == max(parts)


@given(st.integers(1, 10**9), st.integers(1, 10**9))
def test_split_by_amount_is_exact(total: int, amount: int) -> None:
    if -(-total // amount) > 10_000:
        return
    parts = split_by_amount(total, amount)
    assert sum(parts) == total
    assert all(p == amount for p in parts[:-1]) and 0 < parts[-1] <= amount


@given(st.dates(date(2000, 1, 1), date(2100, 1, 1)), st.integers(1, 40))
def test_monthly_dates_increase_and_keep_the_day(first: date, count: int) -> None:
    dates = schedule(first, "monthly", count)
    assert all(a < b for a, b in zip(dates, dates[1:], strict=False))
    assert all(d.day == first.day or d.day < first.day for d in dates)
