"""The dispute sub-reason read from the debtor's words (parley.escalations.dispute_kind)."""

from __future__ import annotations

import pytest

from parley.escalations.reasons import dispute_kind


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("this is not my debt", "not_mine"),
        ("i never opened any account with them", "not_mine"),
        ("I don't owe you people anything", "not_mine"),
        ("i already paid this last spring", "already_paid"),
        ("I paid the whole thing off in 2022", "already_paid"),
        ("got a receipt that says it's done", "already_paid"),
        ("the amount is wrong", "wrong_amount"),
        ("you're charging me way more than i owe", "wrong_amount"),
        ("it was only $200 back then", "wrong_amount"),
        ("someone stole my identity and opened this", "fraud"),
        ("this is fraud", "fraud"),
        ("that card charge was not me, never authorized it", "fraud"),
        ("I want to dispute this", "other"),
        ("I disagree", "other"),
    ],
)
def test_dispute_kind(text: str, kind: str) -> None:
    assert dispute_kind(text) == kind
