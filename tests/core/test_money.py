"""Money parsing is strict and exact; formatting round-trips (SPEC §3, §5)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.core.money import MAX_CENTS, format_cents, parse_money


@pytest.mark.parametrize(
    ("text", "cents"),
    [
        ("0", 0),
        ("0.00", 0),
        ("1200.00", 120000),
        ("84.5", 8450),
        ("35", 3500),
        (" 19.99 ", 1999),
        ("1,234.56", 123456),
        ("$1,234,567.89", 123456789),
        ("0.01", 1),
    ],
)
def test_parse_money_accepts_decimals(text: str, cents: int) -> None:
    assert parse_money(text) == cents


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("-5.00", "negative"),
        ("$-5.00", "negative"),
        ("1.234", "more than 2 decimal places"),
        ("0.005", "more than 2 decimal places"),
        ("12.", "no digits after the decimal point"),
        ("abc", "not a decimal number"),
        ("1e3", "not a decimal number"),
        ("NaN", "not a decimal number"),
        ("12,34.00", "not a decimal number"),
        ("1 000", "not a decimal number"),
        (".50", "not a decimal number"),
        ("99999999999999999", "implausibly large"),
    ],
)
def test_parse_money_rejects_with_reason(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_money(text)


@pytest.mark.parametrize(
    ("cents", "text"),
    [
        (0, "$0.00"),
        (5, "$0.05"),
        (121950, "$1,219.50"),
        (-500, "-$5.00"),
        (100000000, "$1,000,000.00"),
    ],
)
def test_format_cents(cents: int, text: str) -> None:
    assert format_cents(cents) == text


@given(st.integers(min_value=0, max_value=MAX_CENTS))
def test_format_then_parse_round_trips(cents: int) -> None:
    assert parse_money(format_cents(cents)) == cents


@given(st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False))
def test_parse_is_exact_for_two_place_decimals(amount: Decimal) -> None:
    assert parse_money(f"{amount:.2f}") == int(amount * 100)
