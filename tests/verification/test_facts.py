"""Reading identity facts out of a debtor's message (parley.verification, pure functions)."""

from __future__ import annotations

from datetime import date

import pytest

from parley.verification.facts import extract_facts, extract_last_name

TODAY = date(2025, 5, 1)


@pytest.mark.parametrize(
    ("text", "dob", "zip5", "ssn4", "name"),
    [
        ("Garcia 03/14/1985 94107", date(1985, 3, 14), "94107", None, "Garcia"),
        ("garcia, march 14 1985, zip 94107", date(1985, 3, 14), "94107", None, "garcia"),
        ("my last name is O'Brien", None, None, None, "O'Brien"),
        ("it's De La Cruz", None, None, None, "De La Cruz"),
        ("dob 1985-03-14 ssn 1234", date(1985, 3, 14), None, "1234", None),
        ("14th of March 1985", date(1985, 3, 14), None, None, None),
        ("3/14/85", date(1985, 3, 14), None, None, None),
        ("94107-1234", None, "94107", None, None),
        ("the last 4 are 1234", None, None, "1234", None),
        ("$1000", None, None, None, None),
        ("Account ending 6612. ssn last 4 is 1234", None, None, "1234", None),
        ("ref # 94107", None, None, None, None),
        ("1,000 dollars", None, None, None, None),
    ],
)
def test_extract_facts(
    text: str, dob: date | None, zip5: str | None, ssn4: str | None, name: str | None
) -> None:
    facts = extract_facts(text, today=TODAY)
    assert (facts.dob, facts.zip, facts.ssn4) == (dob, zip5, ssn4)
    assert extract_last_name(facts.rest) == name


def test_the_year_of_a_date_is_never_an_ssn4() -> None:
    assert extract_facts("03/14/1985", today=TODAY).ssn4 is None


@pytest.mark.parametrize("text", ["", "12 34", "a b c d e f", "idk 123"])
def test_not_a_name(text: str) -> None:
    assert extract_last_name(text) is None


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("my last name is farrow, first name dana", "farrow"),
        ("first name dana, last name farrow", "farrow"),
        ("farrow and my first name is dana", "farrow"),
        ("farow... sorry farrow", "farrow"),
        ("smtih i mean smith", "smith"),
        ("garica* garcia", "garcia"),
        ("okonkwo (thats my surname)", "okonkwo"),
        ("garcia thats my last name", "garcia"),
        ("Thatcher", "Thatcher"),
        ("Winslow, sorry", "Winslow"),  # a sorry that corrects nothing
        ("It's Hollingsworth, ma'am.", "Hollingsworth"),
    ],
)
def test_the_surname_said_with_the_first_name_or_a_correction(text: str, name: str) -> None:
    assert extract_last_name(text) == name


@pytest.mark.parametrize(
    ("text", "others", "name"),
    [
        ("Hello, this is Gordon now. My last name is Mackey.", False, "Mackey"),
        ("hi its sean, surname: o'brien", False, "o'brien"),
        ("Farrow, and my birthday is   if you need that too", True, "Farrow"),
        ("Farrow, and my birthday is   if you need that too", False, None),
        ("St. Clair", False, "St. Clair"),
    ],
)
def test_the_surname_in_a_longer_message(text: str, others: bool, name: str | None) -> None:
    assert extract_last_name(text, with_other_facts=others) == name
