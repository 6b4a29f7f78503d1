"""Agreed plans (SPEC §6, §8): storing what the debtor confirmed, with its schedule, and asking
for its payment link. Installments add up to the agreed total exactly (the engine built them).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from parley.core.clock import debtor_zone, utcnow
from parley.core.settings import Settings
from parley.negotiation.engine import Proposal
from parley.negotiation.policies import Policy, policy_record
from parley.payments import links
from parley.records.audit import Kind, record
from parley.tables import (
    LIVE_PLAN,
    Account,
    Conversation,
    Installment,
    PaymentPlan,
    PlanStatus,
)


def live_plan(session: Session, account: Account) -> PaymentPlan | None:
    """The plan in force on the account, if one was agreed."""
    return session.scalars(
        select(PaymentPlan)
        .where(PaymentPlan.account_id == account.id, PaymentPlan.status.in_(LIVE_PLAN))
        .order_by(PaymentPlan.id.desc())
        .limit(1)
    ).first()


def store_plan(
    session: Session,
    conversation: Conversation,
    account: Account,
    proposal: Proposal,
    policy_name: str,
    policy: Policy,
) -> PaymentPlan:
    """Store an agreed proposal with its schedule; installments add up to the total exactly."""
    plan = PaymentPlan(
        account_id=account.id,
        conversation_id=conversation.id,
        kind=proposal.kind,
        status=PlanStatus.AGREED,
        total_cents=proposal.total_cents,
        balance_at_agreement_cents=account.balance_cents,
        frequency=proposal.frequency,
        policy_name=policy_name,
        policy_values=policy_record(policy),
        timezone=debtor_zone(account.zone_names),
        agreed_at=utcnow(),
    )
    session.add(plan)
    session.flush()
    for sequence, payment in enumerate(proposal.payments, start=1):
        session.add(
            Installment(
                plan_id=plan.id,
                sequence=sequence,
                due_date=payment.due,
                amount_cents=payment.amount_cents,
            )
        )
    record(
        session,
        Kind.PLAN_AGREED,
        conversation_id=conversation.id,
        account_id=account.id,
        plan_id=plan.id,
        kind=str(plan.kind),
        total_cents=plan.total_cents,
    )
    session.flush()
    session.refresh(plan)
    return plan


def request_payment_link(session: Session, settings: Settings, plan: PaymentPlan) -> str | None:
    """Create the agreed plan's payment link (SPEC §8) and return the message that carries it.

    The link is said in the same turn as the written confirmation, on either channel (an SMS
    turn's replies go out as its TwiML). If Stripe cannot be reached the plan still stands:
    the failure is recorded and None returned, so the chat's "a link will follow" stays true
    for a person to follow up from the console.
    """
    conversation_id, account_id = plan.conversation_id, plan.account_id
    record(
        session,
        Kind.PLAN_LINK_REQUESTED,
        conversation_id=conversation_id,
        account_id=account_id,
        plan_id=plan.id,
    )
    try:
        with session.begin_nested():
            link = links.create_link(session, settings, plan)
    except Exception as exc:  # Stripe down or refusing: keep the agreement, record why
        record(
            session,
            Kind.PAYMENT_LINK_FAILED,
            conversation_id=conversation_id,
            account_id=account_id,
            plan_id=plan.id,
            error=type(exc).__name__,
        )
        return None
    return links.link_text(link, plan)


def plan_proposal(plan: PaymentPlan) -> Proposal:
    """A stored plan as a proposal, to show it with the same words as before agreement."""
    return Proposal.from_dict(
        {
            "kind": plan.kind,
            "frequency": plan.frequency,
            "payments": [
                {"due": i.due_date.isoformat(), "amount_cents": i.amount_cents}
                for i in plan.installments
            ],
        }
    )
