"""Normalising and hashing the identity factors debtors give (SPEC §3, §4).

Parsers are lenient because debtors type fast on phones; the stored side is only ever a keyed hash,
so both import and verification must normalise a factor the same way before hashing it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from datetime import date
from typing import Literal

Factor = Literal["dob", "zip", "ssn4"]
MAX_AGE_YEARS = 120

_MONTHS = (
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
_SEP = r"[-/.\s]"
_YEAR = r"(\d{4}|\d{2})"
_ORD = r"(?:st|nd|rd|th)?"
_ISO = re.compile(rf"(?<!\d)(\d{{4}}){_SEP}(\d{{1,2}}){_SEP}(\d{{1,2}})(?!\d)")
_NUMERIC = re.compile(rf"(?<!\d)(\d{{1,2}}){_SEP}(\d{{1,2}}){_SEP}{_YEAR}(?!\d)")
_DAY_MONTH = re.compile(
    rf"(?<!\d)(\d{{1,2}}){_ORD}\s*(?:of\s+)?([a-z]{{3,9}})\.?,?\s*{_YEAR}(?!\d)"
)
_MONTH_DAY = re.compile(rf"\b([a-z]{{3,9}})\.?\s*(\d{{1,2}}){_ORD},?\s*{_YEAR}(?!\d)")
_COMPACT = re.compile(r"(?<!\d)(\d{8}|\d{6})(?!\d)")
_ZIP = re.compile(r"(?<!\d)(\d{5})(?:-\d{4})?(?!\d)")
_SSN4 = re.compile(r"(?<![\d-])(\d{4})(?![\d-])")


def last_name_key(name: str) -> str:
    """Comparable form of a last name: "O'Brien-Smith " and "obriensmith" match, as do accents."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(ch for ch in decomposed if ch.isalpha() and not unicodedata.combining(ch))


def is_plausible_birth_date(value: date, today: date | None = None) -> bool:
    """A date of birth is not in the future and at most `MAX_AGE_YEARS` ago."""
    today = today or date.today()
    return _years_before(today, MAX_AGE_YEARS) <= value <= today


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _month_number(word: str) -> int | None:
    """Month from a name or an abbreviation of at least three letters ("mar", "sept")."""
    for number, name in enumerate(_MONTHS, start=1):
        if name.startswith(word):
            return number
    return None


def _full_year(year: str, month: int, day: int, today: date) -> int | None:
    """Expand a two-digit year to the most recent century that does not put the birth ahead."""
    if len(year) == 4:
        return int(year)
    value = int(year)
    for century in (2000, 1900):
        try:
            if date(century + value, month, day) <= today:
                return century + value
        except ValueError:
            return None
    return None


def _make(year: str, month: int, day: int, today: date) -> date | None:
    full = _full_year(year, month, day, today)
    if full is None:
        return None
    try:
        result = date(full, month, day)
    except ValueError:
        return None
    return result if is_plausible_birth_date(result, today) else None


def _candidates(text: str, today: date) -> list[date | None]:
    found: list[date | None] = []
    for m in _ISO.finditer(text):
        found.append(_make(m[1], int(m[2]), int(m[3]), today))
    for m in _NUMERIC.finditer(text):
        first, second = int(m[1]), int(m[2])
        if first > 12 >= second:  # unambiguous day-first ("14/03/1985")
            first, second = second, first
        found.append(_make(m[3], first, second, today))
    for m in _DAY_MONTH.finditer(text):
        month = _month_number(m[2])
        found.append(_make(m[3], month, int(m[1]), today) if month else None)
    for m in _MONTH_DAY.finditer(text):
        month = _month_number(m[1])
        found.append(_make(m[3], month, int(m[2]), today) if month else None)
    for m in _COMPACT.finditer(text):
        digits = m[1]
        if len(digits) == 8:
            found.append(
                _make(digits[4:], int(digits[:2]), int(digits[2:4]), today)
                or _make(digits[:4], int(digits[4:6]), int(digits[6:]), today)
            )
        else:
            found.append(_make(digits[4:], int(digits[:2]), int(digits[2:4]), today))
    return found


def parse_date_of_birth(text: str, *, today: date | None = None) -> date | None:
    """Read a date of birth however the debtor wrote it; None unless it is a plausible one.

    Ambiguous numeric dates are US month-first ("03/04/1985" is 4 March); two-digit years take the
    latest century that does not put the birth in the future. `today` is for tests.
    """
    today = today or date.today()
    cleaned = text.casefold().strip()
    for candidate in _candidates(cleaned, today):
        if candidate is not None:
            return candidate
    return None


def parse_zip(text: str) -> str | None:
    """The first US ZIP in the text as 5 digits (ZIP+4 accepted); None if there is none."""
    match = _ZIP.search(text)
    return match[1] if match else None


def parse_ssn4(text: str) -> str | None:
    """The last four of an SSN: exactly one group of four digits standing alone, else None.

    Two such groups ("1985 1234") are ambiguous, and a group glued to other digits or dashes (a
    full SSN or a phone number) is not a last four.
    """
    groups = _SSN4.findall(text)
    return groups[0] if len(groups) == 1 else None


def _normalize(factor: Factor, value: str) -> str:
    if factor == "dob":
        try:
            return date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            parsed = parse_date_of_birth(value)
            if parsed is None:
                raise ValueError("not a date of birth") from None
            return parsed.isoformat()
    if factor == "zip":
        zip5 = parse_zip(value)
        if zip5 is None:
            raise ValueError("not a ZIP code")
        return zip5
    if factor == "ssn4":
        ssn4 = parse_ssn4(value)
        if ssn4 is None:
            raise ValueError("not the last four digits of an SSN")
        return ssn4
    raise ValueError(f"unknown factor {factor!r}")


def factor_hash(secret: str, factor: Factor, value: str) -> str:
    """Keyed hash of a normalised factor, so the database never holds the factor in plain text.

    The factor name is part of the message so equal values of different factors never collide.
    Raises ValueError when `value` cannot be normalised.
    """
    message = f"{factor}:{_normalize(factor, value)}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
