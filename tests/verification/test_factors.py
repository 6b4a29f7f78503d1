"""Identity factors: lenient parsing of what debtors type, strict hashing (SPEC §3, §4)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date

import pytest

from parley.verification.factors import (
    factor_hash,
    is_plausible_birth_date,
    last_name_key,
    parse_date_of_birth,
    parse_ssn4,
    parse_zip,
)

TODAY = date(2025, 6, 1)
SECRET = "test-secret"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("O'Brien-Smith ", "obriensmith"),
        ("GARCÍA", "garcia"),
        ("  garcia", "Garcia"),
        ("Müller", "muller"),
        ("Straße", "STRASSE"),
        ("de la Cruz", "DeLaCruz"),
        ("Nguyễn", "nguyen"),
    ],
)
def test_last_name_key_matches_variants(a: str, b: str) -> None:
    assert last_name_key(a) == last_name_key(b)


def test_last_name_key_keeps_only_letters() -> None:
    assert last_name_key("O'Brien-Smith 3rd.") == "obriensmithrd"
    assert last_name_key("123 -'") == ""
    assert last_name_key("Garcia") != last_name_key("Garcias")


@pytest.mark.parametrize(
    "text",
    [
        "1985-03-14",
        "1985/3/14",
        "03/14/1985",
        "3/14/1985",
        "3/14/85",
        "3.14.85",
        "03-14-1985",
        "03 14 1985",
        "03141985",
        "19850314",
        "031485",
        "14 March 1985",
        "14th of March, 1985",
        "March 14, 1985",
        "march 14th 1985",
        "Mar. 14, 1985",
        "mar 14 85",
        "MAR 14 1985",
        "14/03/1985",  # day-first only when the first number cannot be a month
        "my dob is 3/14/85 thanks",
        "born march 14 1985",
        "March fourteenth, 1985",  # the day in words
        "the fourteenth of march 85",
        "march the 14th, 1985",
    ],
)
def test_parse_date_of_birth_formats(text: str) -> None:
    assert parse_date_of_birth(text, today=TODAY) == date(1985, 3, 14)


def test_ambiguous_numeric_dates_are_month_first() -> None:
    assert parse_date_of_birth("03/04/1985", today=TODAY) == date(1985, 3, 4)
    assert parse_date_of_birth("sept 3 1990", today=TODAY) == date(1990, 9, 3)


def test_two_digit_years_never_land_in_the_future() -> None:
    assert parse_date_of_birth("1/1/05", today=TODAY) == date(2005, 1, 1)
    assert parse_date_of_birth("5/31/25", today=TODAY) == date(2025, 5, 31)
    assert parse_date_of_birth("6/2/25", today=TODAY) == date(1925, 6, 2)
    assert parse_date_of_birth("12/31/30", today=TODAY) == date(1930, 12, 31)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello",
        "2/30/1990",  # no such day
        "13/13/1990",
        "1/1/2030",  # future
        "6/2/2025",  # tomorrow
        "1/1/1900",  # more than 120 years ago
        "1985",
        "94107",
        "Smarch 14 1985",
    ],
)
def test_parse_date_of_birth_rejects(text: str) -> None:
    assert parse_date_of_birth(text, today=TODAY) is None


def test_plausible_birth_date_bounds() -> None:
    assert is_plausible_birth_date(TODAY, TODAY)
    assert is_plausible_birth_date(date(1905, 6, 1), TODAY)
    assert not is_plausible_birth_date(date(1905, 5, 31), TODAY)
    assert is_plausible_birth_date(date(1904, 2, 29), date(2024, 2, 29))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("94107", "94107"),
        ("94107-1234", "94107"),
        ("my zip is 02134", "02134"),
        ("zip 10027 or maybe 60614", "10027"),
        ("9410", None),
        ("941071", None),
        ("call me at 4155550101", None),
        ("", None),
    ],
)
def test_parse_zip(text: str, expected: str | None) -> None:
    assert parse_zip(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1234", "1234"),
        ("last four: 0042", "0042"),
        (" 1234 ", "1234"),
        ("123", None),
        ("12345", None),
        ("123-45-6789", None),
        ("1234 5678", None),
        ("", None),
    ],
)
def test_parse_ssn4(text: str, expected: str | None) -> None:
    assert parse_ssn4(text) == expected


def test_factor_hash_is_hmac_sha256_of_factor_and_normalised_value() -> None:
    expected = hmac.new(SECRET.encode(), b"dob:1985-03-14", hashlib.sha256).hexdigest()
    assert factor_hash(SECRET, "dob", "1985-03-14") == expected
    assert factor_hash(SECRET, "dob", "3/14/85") == expected
    assert factor_hash(SECRET, "zip", "94107-1234") == factor_hash(SECRET, "zip", "94107")
    assert factor_hash(SECRET, "ssn4", " 1234 ") == factor_hash(SECRET, "ssn4", "1234")


def test_factor_hash_depends_on_secret_and_factor() -> None:
    assert factor_hash(SECRET, "ssn4", "1234") != factor_hash("other", "ssn4", "1234")
    assert factor_hash(SECRET, "ssn4", "1234") != factor_hash(SECRET, "zip", "01234")
    assert len(factor_hash(SECRET, "zip", "94107")) == 64


@pytest.mark.parametrize(
    ("factor", "value"), [("dob", "yesterday"), ("zip", "abc"), ("ssn4", "12"), ("dob", "")]
)
def test_factor_hash_rejects_unnormalisable_values(factor: str, value: str) -> None:
    with pytest.raises(ValueError):
        factor_hash(SECRET, factor, value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("January thirtieth, 1941", date(1941, 1, 30)),
        ("june twenty-first 1980", date(1980, 6, 21)),
        ("twenty first of june 1980", date(1980, 6, 21)),
        ("may second 1999", date(1999, 5, 2)),
    ],
)
def test_a_day_in_words(text: str, expected: date) -> None:
    assert parse_date_of_birth(text, today=TODAY) == expected
