"""Questions a verified debtor asks that no intent of the model covers, read from their words.

The classifier reads these as out of scope ("will this go on my credit report?", "can I mail
a check?") or as something close ("what are my options" for the check), and a mid-negotiation
out-of-scope reply used to drop what was on the table. Each topic here has an honest answer
(what this chat can and cannot do, and who can help), after which the dialogue picks up what
was pending. A balance asked in idiom ("how bad is it money wise", "what's the damage") is the
balance question.
"""

from __future__ import annotations

import re
from typing import Final

from parley.dialogue import texts

_TOPICS: Final[tuple[tuple[str, re.Pattern[str]], ...]] = (
    (
        "credit_report",
        re.compile(
            r"\bcredit\s*(?:report\w*|score|bureaus?|rating|file|history)|\b(?:equifax|experian|"
            r"transunion)\b|\breport(?:ed|ing)?\b.{0,30}\b(?:bureaus?|credit)\b",
            re.I,
        ),
    ),
    (
        "by_mail",
        re.compile(
            r"\b(?:mail|post|send)\w*\s+(?:you\s+|in\s+)?(?:a\s+|the\s+)?(?:check|cheque|money "
            r"order|payment)|\b(?:pay|paying)\s+(?:by|with|via)\s+(?:a\s+)?(?:check|cheque|money "
            r"order|cash)|\bmailing address\b|\bwhere (?:do|can|should) i (?:send|mail)\b",
            re.I,
        ),
    ),
    (
        "balance",
        re.compile(
            r"\bhow bad\b.{0,25}\b(?:money|damage|owe|is it)|\bwhat'?s the damage\b|\bthe damage\b|"
            r"\bhow (?:deep|far behind|much in the hole)\b|\bwhat (?:am i|are we) looking at\b"
            r"(?!.{0,20}\b(?:plan|payments?)\b)",
            re.I,
        ),
    ),
)

ANSWERS: Final[dict[str, str]] = {
    "credit_report": texts.CREDIT_REPORT,
    "by_mail": texts.PAY_BY_MAIL,
}


def topic(text: str) -> str | None:
    """The topic the words ask about (`credit_report`, `by_mail`, `balance`), else None."""
    plain = text.replace("\u2019", "'")
    return next((name for name, pattern in _TOPICS if pattern.search(plain)), None)
