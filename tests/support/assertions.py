"""Assertions shared by the suites (actions, end to end, browser, conversation quality)."""

from __future__ import annotations

import re
from collections.abc import Iterable

# Nothing before verification may reveal a debt, its amount, the creditor or what we do (SPEC §4).
DEBT_WORDING = re.compile(
    r"\$|\d+\.\d\d|\bdebts?\b|\bowe|balance|creditor|collect|northwind|pay|"
    r"\bamount|\bloan\b|\bbill\b|overdue|past due|owing",
    re.IGNORECASE,
)


def assert_no_debt_wording(replies: Iterable[str], asked: str = "") -> None:
    for reply in replies:
        assert not DEBT_WORDING.search(reply), f"{asked!r} got a revealing reply: {reply!r}"


def assert_waiting(replies: list[str]) -> None:
    """What a queued conversation answers (SPEC §7): nothing from the bot, only the short note
    that a person will reply (once every few minutes, so it may be nothing at all)."""
    assert len(replies) <= 1, replies
    for reply in replies:
        assert "a team member will reply here" in reply, reply
