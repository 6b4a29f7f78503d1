"""SPEC §9: card numbers and full SSNs never survive redaction; ordinary numbers do."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from parley.records.redaction import CARD_PLACEHOLDER, SSN_PLACEHOLDER, luhn_valid, redact


def luhn_complete(body: str) -> str:
    for check in "0123456789":
        if luhn_valid(body + check):
            return body + check
    raise AssertionError("unreachable")


@st.composite
def card_numbers(draw: st.DrawFn) -> tuple[str, str]:
    length = draw(st.integers(13, 19))
    body = draw(st.text("0123456789", min_size=length - 1, max_size=length - 1))
    digits = luhn_complete(body)
    sep = draw(st.sampled_from(["", " ", "-", "."]))
    size = draw(st.sampled_from([4, 5, 6]))
    grouped = sep.join(digits[i : i + size] for i in range(0, len(digits), size))
    return digits, grouped


@given(
    card_numbers(),
    st.sampled_from(["", "my card is ", "use "]),
    st.sampled_from(["", " ok", " exp 12/29"]),
)
def test_every_luhn_valid_card_number_is_removed(
    card: tuple[str, str], before: str, after: str
) -> None:
    digits, grouped = card
    result = redact(f"{before}{grouped}{after}")
    assert digits not in result.text.replace(" ", "").replace("-", "").replace(".", "")
    assert CARD_PLACEHOLDER in result.text
    assert result.card_numbers == 1
    assert result.text.startswith(before)


def test_known_test_cards() -> None:
    for number in (
        "4111 1111 1111 1111",
        "5555-5555-5555-4444",
        "378282246310005",
        "6011111111111117",
        "4111.1111.1111.1111",
    ):
        assert redact(number).text == CARD_PLACEHOLDER


def test_ssn_forms() -> None:
    assert redact("ssn 123-45-6789").text == f"ssn {SSN_PLACEHOLDER}"
    assert redact("123 45 6789 is mine").text == f"{SSN_PLACEHOLDER} is mine"
    assert redact("my social is 123456789").text == f"my social is {SSN_PLACEHOLDER}"


def test_ordinary_numbers_are_kept() -> None:
    for text in (
        "zip 94107 dob 03/14/1985",
        "born 03.14.1985",
        "balance 1219.50",
        "I can pay $1,200.50 on the 15th",
        "call me at 415 555 0101",
        "+14155550101",
        "1-800-555-0100",
        "last 4 is 1234",
        "4111111111111112",  # fails the Luhn check
    ):
        result = redact(text)
        assert result.text == text
        assert not result.changed
