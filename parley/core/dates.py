"""One date grammar for everything debtors type: dates of birth (SPEC §4), and payment dates and
promise dates in a negotiation (SPEC §6).

This module only *finds* calendar dates in text and says what was written (month, day, and the
year as typed, if any); what a date means is the caller's business: a date of birth resolves a
two-digit year into the past and must be plausible, a payment date resolves into the future.
The words for days ("the 15th", "next friday", "in 2 weeks") are relative by nature and live
with the negotiation's terms (`parley.negotiation.terms`).

Ambiguous numeric dates are US month-first ("03/04/1985" is 4 March) unless the first number
cannot be a month ("14/03/1985").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Literal

MONTH_NAMES = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
# A month name or any abbreviation of three letters or more ("mar", "sept", "novem").
MONTH = (
    r"(?:"
    + "|".join(f"{name[:3]}(?:{name[3:]}|[a-z]{{0,{len(name) - 3}}})" for name in MONTH_NAMES)
    + r")"
)
ORDINAL = r"(?:st|nd|rd|th)?"
_ORDINAL_WORDS = (
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
)
# "January thirtieth", "the fourteenth of march": a day of the month in words, as ordinals.
DAY_WORDS: dict[str, int] = {word: number for number, word in enumerate(_ORDINAL_WORDS, 1)}
DAY_WORDS |= {"twentieth": 20, "thirtieth": 30}
for _tens, _base in (("twenty", 20), ("thirty", 30)):
    for _unit, _word in enumerate(_ORDINAL_WORDS[: 9 if _base == 20 else 1], 1):
        for _joint in ("-", " ", ""):
            DAY_WORDS[f"{_tens}{_joint}{_word}"] = _base + _unit
_DAY_WORD = "|".join(sorted((w.replace(" ", r"\s+") for w in DAY_WORDS), key=len, reverse=True))
# A day of the month: digits (with an ordinal suffix) or an ordinal word.
_DAY = rf"((?<!\d)\d{{1,2}}(?={ORDINAL}\b|\D|$)|\b(?:{_DAY_WORD})\b)"
_SEP = r"[-/.\s]"
_YEAR = r"(\d{4}|\d{2})"

Shape = Literal["iso", "numeric", "day_month", "month_day", "month_slash_day", "compact"]

# In priority order: when one text holds several shapes, the earlier shape is read first.
_PATTERNS: tuple[tuple[Shape, re.Pattern[str]], ...] = (
    ("iso", re.compile(rf"(?<!\d)(\d{{4}}){_SEP}(\d{{1,2}}){_SEP}(\d{{1,2}})(?!\d)")),
    ("numeric", re.compile(rf"(?<!\d)(\d{{1,2}}){_SEP}(\d{{1,2}}){_SEP}{_YEAR}(?!\d)")),
    (
        "day_month",
        re.compile(rf"{_DAY}{ORDINAL}\s*(?:of\s+)?({MONTH})\b\.?(?:,?\s*{_YEAR}(?!\d))?"),
    ),
    (
        "month_day",
        re.compile(rf"\b({MONTH})\b\.?\s*(?:the\s+)?{_DAY}{ORDINAL}\b(?:,?\s*{_YEAR}(?!\d))?"),
    ),
    ("month_slash_day", re.compile(r"(?<![\d$.,/])\b(\d{1,2})/(\d{1,2})\b(?!/)")),
    ("compact", re.compile(r"(?<!\d)(\d{8}|\d{6})(?!\d)")),
)


@dataclass(frozen=True)
class DateMention:
    """A calendar date as written: `year` is the digits typed (2 or 4), or None if none were."""

    start: int
    end: int
    shape: Shape
    month: int
    day: int
    year: str | None

    def with_year(self, year: int) -> date | None:
        """The date in `year`, or None when that day does not exist (31 April, 29 Feb)."""
        try:
            return date(year, self.month, self.day)
        except ValueError:
            return None


def month_number(word: str) -> int | None:
    """Month from a name or an abbreviation of at least three letters ("mar", "sept")."""
    word = word.lower().rstrip(".")
    if len(word) < 3:
        return None
    for number, name in enumerate(MONTH_NAMES, start=1):
        if name.startswith(word):
            return number
    return None


def _day_number(written: str) -> int:
    if written.isdigit():
        return int(written)
    return DAY_WORDS[" ".join(written.split())]


def _valid(month: int, day: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= 31


def _mentions(shape: Shape, match: re.Match[str]) -> Iterator[DateMention]:
    """The readings of one match (a compact 8-digit run has two: MMDDYYYY and YYYYMMDD)."""
    start, end = match.start(), match.end()
    groups = match.groups()
    if shape == "iso":
        year, month, day = groups
        yield DateMention(start, end, shape, int(month), int(day), year)
    elif shape == "numeric":
        first, second, year = int(groups[0]), int(groups[1]), groups[2]
        if first > 12 >= second:  # unambiguous day-first ("14/03/1985")
            first, second = second, first
        yield DateMention(start, end, shape, first, second, year)
    elif shape == "day_month":
        month = month_number(groups[1])
        if month is not None:
            yield DateMention(start, end, shape, month, _day_number(groups[0]), groups[2])
    elif shape == "month_day":
        month = month_number(groups[0])
        worded = not groups[1].isdigit()
        if month is not None and not (worded and month == 5 and groups[2] is None):
            # "may first" without a year is more often "I may first ..." than the 1st of May.
            yield DateMention(start, end, shape, month, _day_number(groups[1]), groups[2])
    elif shape == "month_slash_day":
        yield DateMention(start, end, shape, int(groups[0]), int(groups[1]), None)
    else:  # compact
        digits = groups[0]
        yield DateMention(start, end, shape, int(digits[:2]), int(digits[2:4]), digits[4:])
        if len(digits) == 8:
            yield DateMention(start, end, shape, int(digits[4:6]), int(digits[6:]), digits[:4])


def find_dates(
    text: str, *, shapes: tuple[Shape, ...] | None = None, year_required: bool = False
) -> list[DateMention]:
    """Every calendar date written in `text` (lower-cased first), in the grammar's priority
    order (see `_PATTERNS`), then left to right. Overlapping readings are all returned: the
    caller keeps the first one that makes sense to it."""
    lowered = text.casefold()
    found: list[DateMention] = []
    for shape, pattern in _PATTERNS:
        if shapes is not None and shape not in shapes:
            continue
        for match in pattern.finditer(lowered):
            for mention in _mentions(shape, match):
                if _valid(mention.month, mention.day) and (mention.year or not year_required):
                    found.append(mention)
    return found


def long_date(day: date) -> str:
    """ "March 5, 2025": how a date is written in a sentence."""
    return f"{day:%B} {day.day}, {day.year}"


def short_date(day: date) -> str:
    """ "Mar 5, 2025": unambiguous, short enough for SMS."""
    return f"{day:%b} {day.day}, {day.year}"
