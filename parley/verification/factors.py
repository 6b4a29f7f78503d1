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
from typing import Literal, cast

from parley.core.dates import DateMention, find_dates

Factor = Literal["dob", "zip", "ssn4"]
MAX_AGE_YEARS = 120

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


def find_date_of_birth(text: str, *, today: date | None = None) -> tuple[date, DateMention] | None:
    """The first plausible date of birth written in `text`, and where it was written.

    Any shape of the one date grammar with a year counts (`parley.core.dates`); two-digit years
    take the latest century that does not put the birth in the future. `today` is for tests.
    """
    today = today or date.today()
    for mention in find_dates(text, year_required=True):
        assert mention.year is not None  # noqa: S101 - year_required
        found = _make(mention.year, mention.month, mention.day, today)
        if found is not None:
            return found, mention
    return None


def parse_date_of_birth(text: str, *, today: date | None = None) -> date | None:
    """Read a date of birth however the debtor wrote it; None unless it is a plausible one.

    Ambiguous numeric dates are US month-first ("03/04/1985" is 4 March).
    """
    found = find_date_of_birth(text, today=today)
    return found[0] if found else None


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


class FactorHasher:
    """`factor_hash` for many values under one secret: the same HMAC-SHA256, key prepared once.

    `hmac.new` derives the padded inner and outer keys on every call, which is most of its cost
    when an import hashes three factors on each of a million rows. Here the two keyed SHA-256
    states are computed once (RFC 2104: a key longer than the block is hashed first) and copied
    per value; the hashes are byte for byte those of `factor_hash` (tests/verification).
    """

    def __init__(self, secret: str) -> None:
        key = secret.encode()
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(key.translate(_IPAD))
        self._outer = hashlib.sha256(key.translate(_OPAD))

    def __call__(self, factor: Factor, value: str) -> str:
        """`factor_hash(secret, factor, value)`; raises ValueError like it."""
        return self.normalized(factor, _normalize(factor, value))

    def normalized(self, factor: Factor, value: str) -> str:
        """The hash of a value already in normal form (an ISO date, 5 or 4 digits), as an
        import holds it after validation; normalising it again would change nothing."""
        inner = self._inner.copy()
        inner.update(f"{factor}:{value}".encode())
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


_BLOCK = hashlib.sha256().block_size
_IPAD = bytes(byte ^ 0x36 for byte in range(256))
_OPAD = bytes(byte ^ 0x5C for byte in range(256))


SEALED = "sealed:"


def seal(secret: str, factor: Factor, value: str) -> str:
    """A fact as it may travel through the bot: its keyed hash, tagged with the factor.

    The Rasa tracker persists every slot value; a sealed fact there is no more than the
    database holds (`factor_hash`), and `check_identity` compares it as it is.
    Raises ValueError when `value` cannot be normalised.
    """
    return f"{SEALED}{factor}:{factor_hash(secret, factor, value)}"


def unseal(value: str) -> tuple[Factor, str] | None:
    """The factor and hash of a sealed fact; None for a plain value."""
    if not value.startswith(SEALED):
        return None
    factor, _, digest = value[len(SEALED) :].partition(":")
    if factor not in ("dob", "zip", "ssn4") or not digest:
        return None
    return cast(Factor, factor), digest
