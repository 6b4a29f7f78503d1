"""Payment schedules on real calendar dates, and splitting a total into installments (SPEC §6).

Everything is integer cents and `datetime.date`; nothing here knows about policies, so the
engine can build a candidate plan first and ask `negotiation.violations` about it afterwards.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import Literal

Frequency = Literal["weekly", "biweekly", "monthly"]
FREQUENCIES: tuple[Frequency, ...] = ("weekly", "biweekly", "monthly")
# Payments per year, used to compare what a debtor can pay at one frequency with another.
PER_YEAR: dict[Frequency, int] = {"weekly": 52, "biweekly": 26, "monthly": 12}
# How each frequency is said to a debtor ("$50.00 every two weeks").
SPOKEN: dict[str, str] = {
    "weekly": "weekly",
    "biweekly": "every two weeks",
    "monthly": "monthly",
}


def add_months(start: date, months: int) -> date:
    """Same day of month `months` later, clamped to the month end (Jan 31 + 1 -> Feb 28/29)."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def nth_due(first: date, frequency: Frequency, index: int) -> date:
    """The `index`-th due date (0 = first), computed from `first` so clamping never drifts."""
    if frequency == "weekly":
        return first + timedelta(days=7 * index)
    if frequency == "biweekly":
        return first + timedelta(days=14 * index)
    return add_months(first, index)


def schedule(first: date, frequency: Frequency, count: int) -> list[date]:
    """`count` due dates starting on `first`; monthly keeps the first date's day of month."""
    if count < 0:
        raise ValueError("count must not be negative")
    return [nth_due(first, frequency, i) for i in range(count)]


def max_payments_within(first: date, frequency: Frequency, max_days: int) -> int:
    """How many payments starting on `first` fit with the last at most `max_days` after it."""
    count = 1
    while (nth_due(first, frequency, count) - first).days <= max_days:
        count += 1
    return count


def split_total(total_cents: int, count: int) -> list[int]:
    """`count` equal installments of a total; the last absorbs the rounding so the sum is exact."""
    if count < 1:
        raise ValueError("count must be at least 1")
    if total_cents < 0:
        raise ValueError("total must not be negative")
    base = total_cents // count
    return [base] * (count - 1) + [total_cents - base * (count - 1)]


def split_by_amount(total_cents: int, amount_cents: int) -> list[int]:
    """Installments of `amount_cents` until the total is paid; the last is the remainder.

    The remainder rule (docs/negotiation.md): the final payment is whatever is left, so it may be
    smaller than the others, and even below `min_installment`. It is never folded into the one
    before, because that would make a payment larger than the debtor said they can afford.
    """
    if amount_cents < 1:
        raise ValueError("amount must be at least one cent")
    if total_cents < 1:
        raise ValueError("total must be at least one cent")
    count = -(-total_cents // amount_cents)
    return [amount_cents] * (count - 1) + [total_cents - amount_cents * (count - 1)]
