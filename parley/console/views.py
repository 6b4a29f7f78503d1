"""What the console shows (SPEC §10, §15): a conversation's full record, an account, the
escalations list (the queue itself is `parley.console.queue`). Read-only: the work on a
conversation is in `parley.console.work`. Nothing here returns verification hashes or a birth
date: the API's schemas pick the fields they show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from parley.conversations.state import get_conversation
from parley.core.errors import NotFound
from parley.core.paging import clamp_page
from parley.escalations.reasons import PAUSING_REASONS
from parley.tables import (
    ACTIVE_ESCALATION,
    Account,
    AuditEvent,
    Conversation,
    Escalation,
    EscalationStatus,
    Message,
    NegotiationEvent,
    Note,
    User,
)

ESCALATIONS_PER_PAGE: Final = 50


@dataclass
class ConversationView:
    """Everything the console shows about one conversation (never verification hashes)."""

    conversation: Conversation
    account: Account | None
    messages: list[Message]
    notes: list[Note]
    escalations: list[Escalation]
    audit: list[AuditEvent]
    negotiation: list[NegotiationEvent]
    holder: str | None
    usernames: dict[int, str] = field(default_factory=dict)

    @property
    def pausing_open(self) -> bool:
        return any(
            e.status in ACTIVE_ESCALATION and e.reason in PAUSING_REASONS for e in self.escalations
        )


def usernames(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.username).where(User.id.in_(ids))).all()
    return {row[0]: row[1] for row in rows}


def holder_id(escalations: list[Escalation]) -> int | None:
    """The user holding the conversation: the assignee of a claimed escalation."""
    return next(
        (
            e.assigned_user_id
            for e in escalations
            if e.status == EscalationStatus.CLAIMED and e.assigned_user_id
        ),
        None,
    )


def conversation_view(session: Session, conversation_id: str) -> ConversationView:
    """The full record of one conversation: transcript with the bot's understanding of each
    debtor turn, notes, escalations, audit trail and negotiation so far."""
    conversation = get_conversation(session, conversation_id)
    account = session.get(Account, conversation.account_id) if conversation.account_id else None
    messages = list(
        session.scalars(
            select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
        )
    )
    notes = list(
        session.scalars(
            select(Note).where(Note.conversation_id == conversation_id).order_by(Note.id)
        )
    )
    escalations = list(
        session.scalars(
            select(Escalation)
            .where(Escalation.conversation_id == conversation_id)
            .order_by(Escalation.id)
        )
    )
    audit_filter = AuditEvent.conversation_id == conversation_id
    if account is not None:
        audit_filter = audit_filter | (
            (AuditEvent.account_id == account.id) & AuditEvent.kind.like("collection.%")
        )
    audit = list(session.scalars(select(AuditEvent).where(audit_filter).order_by(AuditEvent.id)))
    negotiation = list(
        session.scalars(
            select(NegotiationEvent)
            .where(NegotiationEvent.conversation_id == conversation_id)
            .order_by(NegotiationEvent.id)
        )
    )
    user_ids = {n.user_id for n in notes} | _escalation_users(escalations)
    names = usernames(session, user_ids)
    holder = holder_id(escalations)
    return ConversationView(
        conversation=conversation,
        account=account,
        messages=messages,
        notes=notes,
        escalations=escalations,
        audit=audit,
        negotiation=negotiation,
        holder=names.get(holder) if holder else None,
        usernames=names,
    )


@dataclass(frozen=True)
class AccountView:
    account: Account
    conversations: list[Conversation]
    escalations: list[Escalation]
    usernames: dict[int, str]


def account_view(session: Session, account_ref: str) -> AccountView:
    """An account with its conversations and escalations."""
    account = session.scalars(select(Account).where(Account.account_ref == account_ref)).first()
    if account is None:
        raise NotFound("account_not_found", "No such account.")
    conversations = list(
        session.scalars(
            select(Conversation)
            .where(Conversation.account_id == account.id)
            .order_by(Conversation.created_at)
        )
    )
    escalations = list(
        session.scalars(
            select(Escalation).where(Escalation.account_id == account.id).order_by(Escalation.id)
        )
    )
    names = usernames(session, _escalation_users(escalations))
    return AccountView(account, conversations, escalations, names)


@dataclass(frozen=True)
class EscalationsPage:
    rows: list[Escalation]
    usernames: dict[int, str]
    total: int
    page: int
    pages: int
    per_page: int


def list_escalations(
    session: Session,
    status: EscalationStatus | None = None,
    *,
    page: int = 1,
    per_page: int = ESCALATIONS_PER_PAGE,
) -> EscalationsPage:
    """One page of escalations, newest first (optionally one status), with their users' names.
    A page past the end is the last page."""
    where = [Escalation.status == status] if status is not None else []
    total = int(session.scalar(select(func.count(Escalation.id)).where(*where)) or 0)
    page, pages = clamp_page(total, page, per_page)
    rows = list(
        session.scalars(
            select(Escalation)
            .where(*where)
            .order_by(Escalation.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    return EscalationsPage(
        rows, usernames(session, _escalation_users(rows)), total, page, pages, per_page
    )


def _escalation_users(escalations: list[Escalation]) -> set[int]:
    return {
        uid
        for e in escalations
        for uid in (e.assigned_user_id, e.resolved_by_user_id)
        if uid is not None
    }
