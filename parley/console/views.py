"""What the console shows (SPEC §10, §15): the queue, a conversation's full record, an account.
Read-only: the work on a conversation is in `parley.console.work`. Nothing here returns
verification hashes or a birth date: the API's schemas pick the fields they show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from parley.conversations.state import get_conversation
from parley.core.errors import NotFound
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
    Sender,
    User,
)

QUEUE_LIMIT: Final = 500


@dataclass(frozen=True)
class QueueItem:
    """One conversation waiting for (or held by) a person, as the queue shows it."""

    conversation_id: str
    channel: str
    status: str
    reason: str
    sub_reason: str | None
    reasons: list[str]
    priority: int
    waiting_since: datetime
    summary: str
    assigned_to: str | None
    account_ref: str | None
    collection_paused: bool
    last_message: str | None


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


def queue(session: Session) -> list[QueueItem]:
    """Conversations with an open or claimed escalation: most urgent reason first, then the one
    waiting longest. One row per conversation, showing its most urgent escalation."""
    escalations = list(
        session.scalars(
            select(Escalation)
            .where(Escalation.status.in_(ACTIVE_ESCALATION))
            .order_by(Escalation.priority.desc(), Escalation.created_at)
            .limit(QUEUE_LIMIT)
        )
    )
    by_conversation: dict[str, list[Escalation]] = {}
    for escalation in escalations:
        by_conversation.setdefault(escalation.conversation_id, []).append(escalation)
    if not by_conversation:
        return []
    conversations = {
        c.id: c
        for c in session.scalars(select(Conversation).where(Conversation.id.in_(by_conversation)))
    }
    account_ids = {c.account_id for c in conversations.values() if c.account_id is not None}
    accounts = (
        {a.id: a for a in session.scalars(select(Account).where(Account.id.in_(account_ids)))}
        if account_ids
        else {}
    )
    last_ids: dict[str, int] = {
        row[0]: row[1]
        for row in session.execute(
            select(Message.conversation_id, func.max(Message.id))
            .where(Message.conversation_id.in_(by_conversation), Message.sender == Sender.DEBTOR)
            .group_by(Message.conversation_id)
        )
    }
    last_texts: dict[str, str] = (
        {
            row[0]: row[1]
            for row in session.execute(
                select(Message.conversation_id, Message.text).where(
                    Message.id.in_(list(last_ids.values()))
                )
            )
        }
        if last_ids
        else {}
    )
    names = usernames(
        session, {e.assigned_user_id for e in escalations if e.assigned_user_id is not None}
    )
    items: list[QueueItem] = []
    for conversation_id, group in by_conversation.items():
        conversation = conversations[conversation_id]
        top = group[0]  # already ordered by priority, then age
        account = accounts.get(conversation.account_id) if conversation.account_id else None
        assigned = next((e.assigned_user_id for e in group if e.assigned_user_id), None)
        items.append(
            QueueItem(
                conversation_id=conversation_id,
                channel=conversation.channel,
                status=conversation.status,
                reason=top.reason,
                sub_reason=top.sub_reason,
                reasons=sorted({e.reason for e in group}),
                priority=top.priority,
                waiting_since=min(e.created_at for e in group),
                summary=top.summary,
                assigned_to=names.get(assigned) if assigned else None,
                account_ref=account.account_ref if account else None,
                collection_paused=bool(account and account.collection_paused),
                last_message=last_texts.get(conversation_id),
            )
        )
    items.sort(key=lambda item: (-item.priority, item.waiting_since))
    return items


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


def list_escalations(
    session: Session, status: EscalationStatus | None = None
) -> tuple[list[Escalation], dict[int, str]]:
    """Escalations, newest first (optionally one status), and the names of their users."""
    query = select(Escalation).order_by(Escalation.id.desc()).limit(QUEUE_LIMIT)
    if status is not None:
        query = query.where(Escalation.status == status)
    rows = list(session.scalars(query))
    return rows, usernames(session, _escalation_users(rows))


def _escalation_users(escalations: list[Escalation]) -> set[int]:
    return {
        uid
        for e in escalations
        for uid in (e.assigned_user_id, e.resolved_by_user_id)
        if uid is not None
    }
