"""SMS rendering (SPEC §7): segments, numbered choices, combining a turn, keywords."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parley.conversations.bot_client import OutMessage
from parley.sms.encoding import is_gsm7, segment_count, smart_encode
from parley.sms.optout import keyword
from parley.sms.render import Part, choice_payload, pack, render, with_statement

STATEMENT = "Reply STOP to opt out"


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("a" * 459, 3),
        ("a" * 460, 4),
        ("€" * 80, 1),  # extension characters cost two septets: 160
        ("€" * 81, 2),
        ("aa" + "€" * 152, 3),  # 306 septets, but no escape pair is split: 152 + 152 + 2
        ("é" * 160, 1),  # é is in the GSM-7 basic set
        ("ê" * 70, 1),  # ê is not: UCS-2
        ("ê" * 71, 2),
        ("ê" * 134, 2),
        ("ê" * 135, 3),
        ("😀" * 35, 1),  # surrogate pairs: 70 UTF-16 units
        ("😀" * 36, 2),
        ("a" * 66 + "😀", 1),  # 68 units
        ("a" * 66 + "😀" * 34, 3),  # 134 units, but no pair is split: 66 + 66 + 2
    ],
)
def test_segment_count(text: str, segments: int) -> None:
    assert segment_count(text) == segments


def test_smart_punctuation_stays_gsm7() -> None:
    text = smart_encode("You\u2019re set \u2014 \u201cthanks\u201d\u2026")
    assert text == 'You\'re set - "thanks"...'
    assert is_gsm7(text)
    assert smart_encode("Hernández") == "Hernández"  # letters are never changed


def test_buttons_become_numbered_choices_across_the_turn() -> None:
    parts = render(
        [
            OutMessage(
                "Your balance is $1,219.50.",
                [
                    {"title": "Why this amount?", "payload": "/ask_debt_details"},
                    {"title": "Payment options", "payload": "/ask_payment_options"},
                ],
            ),
            OutMessage(
                "Anything else?", [{"title": "Talk to a person", "payload": "/request_human"}]
            ),
        ]
    )
    assert parts[0].text.endswith("Reply 1 for Why this amount? or 2 for Payment options.")
    assert parts[1].text.endswith("Reply 3 for Talk to a person.")
    buttons = parts[0].buttons + parts[1].buttons
    assert choice_payload("1", buttons) == "/ask_debt_details"
    assert choice_payload(" 3. ", buttons) == "/request_human"
    assert choice_payload("4", buttons) is None
    assert choice_payload("1 or 2", buttons) is None
    assert choice_payload("12/31/1980", buttons) is None


def test_a_short_turn_is_one_sms_with_one_statement() -> None:
    bodies = pack([Part("Thanks, Maria, you're verified."), Part("How can I help?")], STATEMENT, 3)
    assert [b.text for b in bodies] == [
        f"Thanks, Maria, you're verified.\nHow can I help?\n{STATEMENT}"
    ]


texts = st.text(alphabet=st.sampled_from("abcdefghij klmnop$.,'€ê😀\n"), min_size=1, max_size=700)


@settings(max_examples=300, deadline=None)
@given(st.lists(texts, min_size=1, max_size=6), st.integers(min_value=1, max_value=4))
def test_pack_keeps_order_fits_and_carries_the_statement_once(
    replies: list[str], max_segments: int
) -> None:
    parts = [Part(t) for t in replies]
    bodies = pack(parts, STATEMENT, max_segments)
    for body in bodies:
        assert body.text.endswith("\n" + STATEMENT)
        assert body.text.count(STATEMENT) == 1
        assert segment_count(body.text) <= max_segments
    # Nothing lost, nothing reordered (splitting only removes the spaces it cut at).
    sent = "".join(b.text.removesuffix("\n" + STATEMENT) for b in bodies)
    assert sent.replace("\n", "").replace(" ", "") == "".join(replies).replace("\n", "").replace(
        " ", ""
    )


def test_pack_combines_only_while_it_fits() -> None:
    long = "word " * 60  # 300 characters: two segments alone
    bodies = pack([Part(long.strip()), Part(long.strip()), Part("Short.")], STATEMENT, 3)
    assert len(bodies) == 2
    assert all(segment_count(b.text) <= 3 for b in bodies)
    assert bodies[-1].text.endswith(f"Short.\n{STATEMENT}")


def test_outbound_body_carries_the_statement_exactly_once() -> None:
    assert with_statement("Hi", STATEMENT) == f"Hi\n{STATEMENT}"
    assert with_statement(f"Hi\n{STATEMENT}", STATEMENT) == f"Hi\n{STATEMENT}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("STOP", "stop"),
        ("stop", "stop"),
        (" Stop. ", "stop"),
        ("STOPALL", "stop"),
        ("unsubscribe", "stop"),
        ("Cancel", "stop"),
        ("END", "stop"),
        ("quit", "stop"),
        ("REVOKE", "stop"),
        ("opt out", "stop"),
        ("OPT-OUT", "stop"),
        ("optout", "stop"),
        ("START", "start"),
        ("unstop", "start"),
        ("help", "help"),
        ("Info", "help"),
        ("stop texting me", None),
        ("please stop", None),
        ("I want to cancel my plan", None),
        ("the end", None),
        ("helpful", None),
        ("", None),
    ],
)
def test_keywords_are_whole_messages(text: str, expected: str | None) -> None:
    assert keyword(text) == expected
