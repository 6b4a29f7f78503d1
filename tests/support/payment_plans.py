"""Builders for payment tests: an account with a conversation and a stored plan, no bot."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from devstack.stack import free_port
from parley.core.clock import utcnow
from parley.core.db import transaction
from parley.core.settings import Settings
from parley.payments import events
from parley.tables import Account, Conversation, Installment, PaymentPlan

_refs = itertools.count(1)
ZONE = "America/New_York"
PUBLIC = "https://parley.example"
# 14:00 in New York on a weekday: inside every quiet-hours window for the test accounts.
AFTERNOON = datetime(2025, 6, 10, 18, 0, tzinfo=timezone.utc)


def settings_for(db_url: str, **extra: Any) -> Settings:
    dead = f"http://127.0.0.1:{free_port()}"
    values: dict[str, Any] = {
        "DATABASE_URL": db_url,
        "PARLEY_RASA_URL": dead,
        "PARLEY_ACTION_SERVER_URL": dead,
        "PARLEY_RASA_TIMEOUT": 2,
        "PARLEY_PUBLIC_URL": PUBLIC,
        "PARLEY_JOBS_INTERVAL_SECONDS": 0,
        **extra,
    }
    return Settings(**values)


def make_plan(
    factory: sessionmaker[Session],
    amounts: tuple[int, ...] = (10000, 10000, 10000),
    *,
    kind: str = "installments",
    first_due: date = date(2025, 6, 10),
    balance_cents: int | None = None,
    channel: str = "web",
    phone: str | None = None,
    status: str = "agreed",
    payment_method: str | None = None,
) -> int:
    """Store an account, a conversation and a plan (monthly-ish dates); returns the plan id."""
    n = next(_refs)
    balance = sum(amounts) if balance_cents is None else balance_cents
    with transaction(factory) as session:
        account = Account(
            account_ref=f"PAY-T{n}",
            first_name="Pat",
            last_name="Payer",
            last_name_key="payer",
            dob_hash="x" * 64,
            zip_hash="y" * 64,
            zip_timezones=[ZONE],
            phone=phone,
            timezone=ZONE,
            creditor="Acme Capital",
            original_creditor="Acme Card",
            account_last4="4242",
            description="Credit card balance",
            principal_cents=balance,
            interest_cents=0,
            fees_cents=0,
            payments_credits_cents=0,
            itemization_date=date(2025, 1, 1),
        )
        session.add(account)
        session.flush()
        conversation = Conversation(channel=channel, phone=phone, account_id=account.id)
        session.add(conversation)
        session.flush()
        plan = PaymentPlan(
            account_id=account.id,
            conversation_id=conversation.id,
            kind=kind,
            status=status,
            total_cents=sum(amounts),
            balance_at_agreement_cents=balance,
            frequency="monthly" if len(amounts) > 1 else None,
            policy_name="default",
            policy_values={"failed_payment_tolerance": 2, "payment_retry_days": 3},
            timezone=ZONE,
            agreed_at=AFTERNOON,
            stripe_customer_id="cus_test_1" if payment_method else None,
            payment_method_id=payment_method,
        )
        session.add(plan)
        session.flush()
        for sequence, amount in enumerate(amounts, start=1):
            session.add(
                Installment(
                    plan_id=plan.id,
                    sequence=sequence,
                    due_date=first_due + timedelta(days=30 * (sequence - 1)),
                    amount_cents=amount,
                )
            )
        return plan.id


def process(factory: sessionmaker[Session], event: dict[str, Any], settings: Settings) -> str:
    """A Stripe event applied in one unit of work, as the webhook does."""
    with transaction(factory) as session:
        return events.process_event(session, settings, event, utcnow())
