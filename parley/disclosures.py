"""What a verified debtor is told about the debt (SPEC §5), and the record that it was told.

The texts are pure functions of an account so they can be tested without a bot, and so the
amounts always come from integer cents formatted in one place.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from parley.models import Account, AuditEvent, Conversation, utcnow
from parley.money import format_cents
from parley.settings import get_settings

DISCLOSURE_KIND = "disclosure.debt_collector"

DISPUTE_RIGHT = (
    "If you think this is wrong you can dispute it — just tell me, e.g. 'I dispute this'."
)


def disclosure_text(company: str) -> str:
    """The debt-collector disclosure required in the first message about the debt."""
    return (
        f"This is {company}, a debt collector. This is an attempt to collect a debt and any "
        "information obtained will be used for that purpose."
    )


def record_disclosure(
    session: Session, conversation: Conversation, company: str | None = None
) -> bool:
    """Record that the disclosure was given; False (and nothing written) if it already was.

    The audit row keeps the exact wording shown, since the company name is configurable.
    """
    if conversation.disclosed_at is not None:
        return False
    company = company or get_settings().company_name
    now = utcnow()
    conversation.disclosed_at = now
    session.add(
        AuditEvent(
            kind=DISCLOSURE_KIND,
            conversation_id=conversation.id,
            account_id=conversation.account_id,
            data={"text": disclosure_text(company)},
            created_at=now,
        )
    )
    return True


def _long_date(day: date) -> str:
    return f"{day:%B} {day.day}, {day.year}"


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
            f"Since {_long_date(account.itemization_date)}:",
            f"Principal: {format_cents(account.principal_cents)}",
            f"Interest: {format_cents(account.interest_cents)}",
            f"Fees: {format_cents(account.fees_cents)}",
            f"Payments and credits: -{format_cents(account.payments_credits_cents)}",
            f"Total: {format_cents(account.balance_cents)}",
        ]
    )
