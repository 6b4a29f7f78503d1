"""What every initiated message must and must not say (SPEC §14, Reg F 1006.18(e)).

- it says it is from a debt collector: the configured statement is appended when the text
  does not carry it already (the channel then appends its opt-out line);
- a first-contact (or no-reply follow-up) message names nothing about the debt: no amount, no
  creditor or original creditor, no description, no account number digits. Templates are
  checked for the fields they use at start-up; `discloses` checks the rendered text too, since
  a first name or the company name could itself carry such a thing.
"""

from __future__ import annotations

import re

from parley.core.settings import Settings
from parley.tables import Account

_AMOUNT = re.compile(r"[$€£]\s?\d|\d[\d,]*\.\d{2}\b|\b\d+\s?(?:dollars|usd)\b", re.I)


def collector_statement(settings: Settings) -> str:
    return settings.collector_statement.replace("{company}", settings.company_name)


def with_collector_statement(text: str, settings: Settings) -> str:
    statement = collector_statement(settings)
    if statement.lower() in text.lower():
        return text
    return f"{text.rstrip()} {statement}"


def discloses(text: str, account: Account) -> str | None:
    """What about the debt `text` names (for the blocked reason's detail), or None."""
    lowered = text.lower()
    if _AMOUNT.search(text):
        return "amount"
    for label, value in (
        ("creditor", account.creditor),
        ("original_creditor", account.original_creditor),
        ("description", account.description),
    ):
        if value and len(value.strip()) >= 3 and value.strip().lower() in lowered:
            return label
    if account.account_last4 and re.search(
        rf"(?<!\d){re.escape(account.account_last4)}(?!\d)", text
    ):
        return "account_number"
    return None
