"""The validation period's calendar (SPEC §14, Reg F 12 CFR 1006.34(b)(5)): which days are
business days, when an electronic notice is taken as received, and when the period ends.

Pure date arithmetic, no database: the notice, the dispute flag and the settlement wording all
call these same three functions, so they can never disagree about a date.

The rules, and why:

- Receipt is assumed 5 days after sending, "excluding legal public holidays identified in 5
  U.S.C. 6103(a), Saturdays, and Sundays" (1006.34(b)(5)). The holidays come from the
  maintained `holidays` package: `holidays.US` with the PUBLIC category only, i.e. exactly the
  eleven federal holidays of 5 U.S.C. 6103(a) (New Year's Day, Martin Luther King Jr. Day,
  Washington's Birthday, Memorial Day, Juneteenth, Independence Day, Labor Day, Columbus Day,
  Veterans Day, Thanksgiving, Christmas). Not `holidays.financial` (the NYSE calendar): it adds
  Good Friday and leaves out Columbus Day and Veterans Day, so it is a different list.
- `holidays.US` also lists the day a holiday is *observed* when it falls on a weekend (6103(b)):
  e.g. Friday 3 July 2026 for Independence Day. Those days are skipped too. Skipping one more
  day can only make the assumed receipt later, and the rule allows assuming receipt on "any date
  that is at least five days" after sending, so this is always compliant and never shortens the
  debtor's time.
- The period ends 30 calendar days after receipt. When day 30 falls on a Saturday, Sunday or
  one of those holidays, the end date moves to the next business day. Reg F does not require
  this, but it permits it (a later assumed receipt date gives the same end date), it matches the
  general rule for computing deadlines (e.g. Fed. R. Civ. P. 6(a)(1)(C)), and it means a
  debtor who writes on the last day is never told the office was closed.

"Sending" is a calendar date. The notice's send date is the date in the debtor's zone (the same
calendar every date Parley tells the debtor is in); see `parley.documents.notices`.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache
from typing import Final

import holidays

RECEIPT_BUSINESS_DAYS: Final = 5
VALIDATION_PERIOD_DAYS: Final = 30


def _calendar(year: int) -> holidays.HolidayBase:
    """`holidays.US`, federal (PUBLIC) category only, observed days included."""
    return holidays.country_holidays("US", years=year, categories=(holidays.PUBLIC,), observed=True)


@lru_cache(maxsize=64)
def _federal_holidays(year: int) -> frozenset[date]:
    """The 5 U.S.C. 6103(a) holidays of `year`, with the days they are observed on."""
    return frozenset(_calendar(year))


def federal_holiday_name(day: date) -> str | None:
    """The holiday's name (e.g. "Christmas Day (observed)"), or None on an ordinary day."""
    name = _calendar(day.year).get(day)
    return str(name) if name is not None else None


def is_business_day(day: date) -> bool:
    """Monday to Friday and not a federal holiday (nor the day one is observed on)."""
    return day.weekday() < 5 and day not in _federal_holidays(day.year)


def next_business_day(day: date) -> date:
    """`day` itself when it is a business day, else the first business day after it."""
    while not is_business_day(day):
        day += timedelta(days=1)
    return day


def assumed_receipt(sent: date) -> date:
    """The day an electronic notice sent on `sent` is taken as received: the fifth day after it
    that is not a Saturday, Sunday or federal holiday (the sending day itself does not count)."""
    day, counted = sent, 0
    while counted < RECEIPT_BUSINESS_DAYS:
        day += timedelta(days=1)
        if is_business_day(day):
            counted += 1
    return day


def validation_period_end(sent: date) -> date:
    """The last day of the validation period for a notice sent on `sent`: 30 days after the
    assumed receipt, moved to the next business day when that is a weekend or holiday."""
    return next_business_day(assumed_receipt(sent) + timedelta(days=VALIDATION_PERIOD_DAYS))
