"""What an escalation does besides queueing (SPEC §10): the rules an adapter must not decide.

- dispute, bankruptcy, attorney and cease-communication pause collection on the verified
  account at once;
- a wrong-number report opts the number out and flags every account listing that phone;
- "stop contacting me" on SMS revokes consent to texts exactly like STOP (FCC 2024 order);
- a dispute gets its kind (not mine, already paid, wrong amount, fraud) from the words.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from parley.conversations.state import verified_account
from parley.escalations.queue import open_escalation, pause_collection
from parley.escalations.reasons import PAUSING_REASONS, dispute_kind
from parley.escalations.summaries import summary
from parley.records.audit import Kind, record
from parley.sms import optout
from parley.tables import (
    Account,
    Channel,
    Conversation,
    Escalation,
    EscalationReason,
    OptOutSource,
)


@dataclass(frozen=True)
class Escalated:
    """What happened, for the adapter's acknowledgement: whether the escalation is new and
    whether the debtor is verified (the wording differs before verification)."""

    escalation: Escalation
    created: bool
    verified: bool


def escalate(
    session: Session,
    conversation: Conversation,
    reason: EscalationReason,
    said: str,
    sub_reason: str | None = None,
) -> Escalated:
    """Open (or find) the escalation and apply the reason's rules."""
    reason = EscalationReason(reason)
    account = verified_account(session, conversation)
    if reason == EscalationReason.DISPUTE and sub_reason is None:
        sub_reason = dispute_kind(said)
    if reason in PAUSING_REASONS and account is not None:
        pause_collection(session, account, reason)
    if reason == EscalationReason.WRONG_NUMBER:
        flag_wrong_number(session, conversation)
    if (
        reason == EscalationReason.CEASE_COMMUNICATION
        and conversation.channel == Channel.SMS
        and conversation.phone
    ):
        # The gateway sees the opt-out after this turn and sends the confirmation as the last SMS.
        optout.opt_out(
            session, conversation.phone, OptOutSource.REQUEST, "stop_contact", conversation.id
        )
    escalation, created = open_escalation(
        session,
        conversation,
        reason,
        sub_reason,
        summary(session, conversation, reason, sub_reason, said),
    )
    return Escalated(escalation, created, account is not None)


def flag_wrong_number(session: Session, conversation: Conversation) -> list[str]:
    """Opt the number out of SMS and flag the phone of every account that lists it for review.
    Returns the flagged account refs. A web chat has no number to opt out; the escalation itself
    is then the review flag."""
    phone = conversation.phone
    if not phone:
        return []
    optout.opt_out(session, phone, OptOutSource.WRONG_NUMBER, conversation_id=conversation.id)
    accounts = list(session.scalars(select(Account).where(Account.phone == phone)))
    for account in accounts:
        record(
            session,
            Kind.ACCOUNT_PHONE_FLAGGED,
            conversation_id=conversation.id,
            account_id=account.id,
            reason="wrong_number",
        )
    return [account.account_ref for account in accounts]
