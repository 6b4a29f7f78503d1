"""A busy queue for the console's tests: accounts, conversations and open escalations written
directly (hundreds of them), with known names, phones, reasons and waiting times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from parley.escalations.reasons import PRIORITY
from parley.tables import (
    Account,
    Conversation,
    Escalation,
    EscalationReason,
    Message,
    utcnow,
)

REASONS = list(EscalationReason)


def make_account(
    session: Session, ref: str, first: str, last: str, phone: str | None = None
) -> Account:
    account = Account(
        account_ref=ref,
        first_name=first,
        last_name=last,
        last_name_key=last.lower(),
        dob_hash="x",
        zip_hash="y",
        phone=phone,
        creditor="Acme",
        original_creditor="Acme Card",
        account_last4="1234",
        description="Card",
        principal_cents=10000,
        interest_cents=0,
        fees_cents=0,
        payments_credits_cents=0,
        itemization_date=date(2025, 1, 1),
    )
    session.add(account)
    return account


@dataclass(frozen=True)
class Seeded:
    conversation_ids: list[str]  # in the order created: index i waited i+1 minutes less
    now: datetime


def seed_queue(session: Session, count: int, *, now: datetime | None = None) -> Seeded:
    """`count` verified conversations, each with one open escalation: reasons in turn, every
    third one on SMS, conversation i created (count - i) minutes before `now`, debtor
    "Debtor{i} Family{i % 7}", account `Q-{i:04d}`, phone +1415555{i:04d}."""
    now = now or utcnow()
    ids: list[str] = []
    accounts = [
        make_account(session, f"Q-{i:04d}", f"Debtor{i}", f"Family{i % 7}", f"+1415555{i:04d}")
        for i in range(count)
    ]
    session.flush()
    for i, account in enumerate(accounts):
        reason = REASONS[i % len(REASONS)]
        at = now - timedelta(minutes=count - i)
        channel = "sms" if i % 3 == 0 else "web"
        conversation = Conversation(
            channel=channel,
            account_id=account.id,
            status="queued",
            phone=account.phone if channel == "sms" else None,
            created_at=at,
        )
        session.add(conversation)
        session.flush()
        session.add(
            Message(
                conversation_id=conversation.id,
                direction="inbound",
                sender="debtor",
                text=f"message from debtor {i}",
                created_at=at,
            )
        )
        session.add(
            Escalation(
                conversation_id=conversation.id,
                account_id=account.id,
                reason=reason,
                summary=f"Reason: {reason}.",
                priority=PRIORITY[reason],
                created_at=at,
                updated_at=at,
            )
        )
        ids.append(conversation.id)
    session.flush()
    return Seeded(ids, now)
