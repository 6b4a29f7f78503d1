"""What a verified debtor is told about the debt (SPEC §5): the balance, who it is owed to and
why, and the itemization adding up to the balance.

Pure functions of an account, so they can be tested without a bot and the amounts always come
from integer cents formatted in one place.
"""

from __future__ import annotations

from parley.core.dates import long_date
from parley.core.money import format_cents
from parley.tables import Account

DISPUTE_RIGHT = (
    "If you think this is wrong you can dispute it — just tell me, e.g. 'I dispute this'."
)


def _account_phrase(account: Account) -> str:
    """The account as the debtor knows it: the original creditor and the original last 4."""
    return f"your {account.original_creditor} account ending {account.account_last4}"


def balance_text(account: Account) -> str:
    """The total balance, exact to the cent."""
    text = f"Your balance is {format_cents(account.balance_cents)} for {_account_phrase(account)}."
    if account.creditor != account.original_creditor:
        text += f" The current creditor is {account.creditor}."
    return text


def details_text(account: Account) -> str:
    """Who the debt is owed to and what it is for."""
    lines = [f"Creditor: {account.creditor}."]
    if account.original_creditor != account.creditor:
        lines.append(f"Original creditor: {account.original_creditor}.")
    else:
        lines.append(f"Original creditor: {account.original_creditor} (the same).")
    lines.append(f"Account ending {account.account_last4}.")
    if account.description:
        lines.append(f"What it's for: {account.description}")
    return " ".join(line if line.endswith(".") else line + "." for line in lines)


def itemization_text(account: Account) -> str:
    """The itemization since the itemization date, adding up to the balance (Reg F style)."""
    return "\n".join(
        [
            f"Since {long_date(account.itemization_date)}:",
            f"Principal: {format_cents(account.principal_cents)}",
            f"Interest: {format_cents(account.interest_cents)}",
            f"Fees: {format_cents(account.fees_cents)}",
            f"Payments and credits: -{format_cents(account.payments_credits_cents)}",
            f"Total: {format_cents(account.balance_cents)}",
        ]
    )
