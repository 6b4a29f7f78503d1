"""Handing a conversation to the human queue (SPEC §10): opening an escalation, and the
collection pause the legal-risk reasons put on the account."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from parley.conversations.state import queue
from parley.documents.notices import within_validation_period
from parley.escalations.reasons import PRIORITY
from parley.records.audit import Kind, record
from parley.tables import (
    ACTIVE_ESCALATION,
    Account,
    Conversation,
    Escalation,
    EscalationReason,
)


def open_escalation(
    session: Session,
    conversation: Conversation,
    reason: EscalationReason,
    sub_reason: str | None = None,
    summary: str = "",
    priority: int | None = None,
) -> tuple[Escalation, bool]:
    """Open an escalation and queue the conversation; returns (escalation, created).

    A second request for the same reason while one is open or claimed returns the existing one,
    so repeating "agent" never floods the queue.
    """
    reason = EscalationReason(reason)
    existing = session.scalars(
        select(Escalation)
        .where(
            Escalation.conversation_id == conversation.id,
            Escalation.reason == reason,
            Escalation.status.in_(ACTIVE_ESCALATION),
        )
        .order_by(Escalation.id)
    ).first()
    queue(conversation)
    if existing is not None:
        return existing, False
    escalation = Escalation(
        conversation_id=conversation.id,
        account_id=conversation.account_id,
        reason=reason,
        sub_reason=sub_reason,
        summary=summary,
        priority=PRIORITY[reason] if priority is None else priority,
    )
    if reason == EscalationReason.DISPUTE and conversation.account_id is not None:
        account = session.get(Account, conversation.account_id)
        if account is not None:
            # Reg F: a dispute by the validation period's end stops collection until verified.
            escalation.within_validation_period = within_validation_period(session, account)
    session.add(escalation)
    session.flush()
    record(
        session,
        Kind.ESCALATION_OPENED,
        conversation_id=conversation.id,
        account_id=conversation.account_id,
        escalation_id=escalation.id,
        reason=str(reason),
        sub_reason=sub_reason,
    )
    return escalation, True


def has_open_escalation(session: Session, conversation: Conversation) -> bool:
    """Whether a human is already due to pick this conversation up."""
    found = session.scalars(
        select(Escalation.id).where(
            Escalation.conversation_id == conversation.id,
            Escalation.status.in_(ACTIVE_ESCALATION),
        )
    ).first()
    return found is not None


def open_review(session: Session, account_id: int, reason: EscalationReason) -> Escalation | None:
    """An open or claimed escalation of `reason` on the account (any conversation)."""
    return session.scalars(
        select(Escalation)
        .where(
            Escalation.account_id == account_id,
            Escalation.reason == reason,
            Escalation.status.in_(ACTIVE_ESCALATION),
        )
        .limit(1)
    ).first()


def pause_collection(
    session: Session, account: Account, reason: EscalationReason | None = None
) -> bool:
    """Stop collection messages and offers on the account; False if it was already paused."""
    if account.collection_paused:
        return False
    account.collection_paused = True
    record(
        session,
        Kind.COLLECTION_PAUSED,
        account_id=account.id,
        reason=str(reason) if reason is not None else None,
    )
    return True
