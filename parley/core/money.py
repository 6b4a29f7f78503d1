"""Money as integer cents. Amounts are parsed with `Decimal` so no float rounding ever creeps in."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

# Far above any real debt, far below the BIGINT limit: a typo like a pasted account number fails.
MAX_CENTS = 10**14
_MONEY = re.compile(r"\$?(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d*))?")


def parse_money(text: str) -> int:
    """Parse "1234.56", "1,234.56" or "$1,234.56" into cents.

    Strict because it reads operator files: at most two decimal places, never negative, and
    thousands separators only where they belong. Raises ValueError saying what is wrong.
    """
    value = text.strip()
    if not value:
        raise ValueError("amount is empty")
    if value.startswith("-") or value.startswith("$-"):
        raise ValueError(f"amount {value!r} is negative")
    match = _MONEY.fullmatch(value)
    if match is None:
        raise ValueError(f"amount {value!r} is not a decimal number like 1234.56")
    frac = match.group("frac")
    if frac is not None and len(frac) > 2:
        raise ValueError(f"amount {value!r} has more than 2 decimal places")
    if frac == "":
        raise ValueError(f"amount {value!r} has no digits after the decimal point")
    try:
        amount = Decimal(match.group("int").replace(",", "") + "." + (frac or "0"))
    except InvalidOperation as exc:  # pragma: no cover - the regex already guarantees digits
        raise ValueError(f"amount {value!r} is not a decimal number") from exc
    cents = int(amount * 100)
    if cents > MAX_CENTS:
        raise ValueError(f"amount {value!r} is implausibly large")
    return cents


def format_cents(cents: int) -> str:
    """Format cents as US currency, e.g. 123456 -> "$1,234.56" and -500 -> "-$5.00"."""
    sign = "-" if cents < 0 else ""
    dollars, rest = divmod(abs(cents), 100)
    return f"{sign}${dollars:,}.{rest:02d}"
