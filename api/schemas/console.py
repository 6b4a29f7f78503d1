"""The read-only console API's responses (SPEC §10): typed, and built field by field from the
core's views, so verification hashes and birth dates can never leak into them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from parley.console import views
from parley.tables import Account, Escalation


class EscalationOut(BaseModel):
    id: int
    conversation_id: str
    reason: str
    sub_reason: str | None
    summary: str
    status: str
    priority: int
    outcome: str | None
    assigned_to: str | None
    resolved_by: str | None
    created_at: datetime
    resolved_at: datetime | None

    @classmethod
    def of(cls, escalation: Escalation, names: dict[int, str]) -> EscalationOut:
        return cls(
            id=escalation.id,
            conversation_id=escalation.conversation_id,
            reason=str(escalation.reason),
            sub_reason=escalation.sub_reason,
            summary=escalation.summary,
            status=str(escalation.status),
            priority=escalation.priority,
            outcome=escalation.outcome,
            assigned_to=names.get(escalation.assigned_user_id or 0),
            resolved_by=names.get(escalation.resolved_by_user_id or 0),
            created_at=escalation.created_at,
            resolved_at=escalation.resolved_at,
        )


class PagedOut(BaseModel):
    total: int = Field(description="How many match, on every page")
    page: int
    pages: int
    per_page: int


class EscalationsOut(PagedOut):
    escalations: list[EscalationOut]


class AccountSummaryOut(BaseModel):
    """An account without its verification hashes or birth date."""

    account_ref: str
    name: str
    phone: str | None
    email: str | None
    timezone: str | None
    creditor: str
    original_creditor: str
    account_last4: str
    description: str
    balance_cents: int
    principal_cents: int
    interest_cents: int
    fees_cents: int
    payments_credits_cents: int
    itemization_date: date
    policy: str
    collection_paused: bool

    @classmethod
    def of(cls, account: Account) -> AccountSummaryOut:
        return cls(
            account_ref=account.account_ref,
            name=f"{account.first_name} {account.last_name}",
            phone=account.phone,
            email=account.email,
            timezone=account.timezone,
            creditor=account.creditor,
            original_creditor=account.original_creditor,
            account_last4=account.account_last4,
            description=account.description,
            balance_cents=account.balance_cents,
            principal_cents=account.principal_cents,
            interest_cents=account.interest_cents,
            fees_cents=account.fees_cents,
            payments_credits_cents=account.payments_credits_cents,
            itemization_date=account.itemization_date,
            policy=account.policy,
            collection_paused=account.collection_paused,
        )


class ConversationRef(BaseModel):
    id: str
    channel: str
    status: str
    created_at: datetime


class AccountOut(AccountSummaryOut):
    conversations: list[ConversationRef]
    escalations: list[EscalationOut]

    @classmethod
    def of_view(cls, view: views.AccountView) -> AccountOut:
        return cls(
            **AccountSummaryOut.of(view.account).model_dump(),
            conversations=[
                ConversationRef(
                    id=c.id, channel=str(c.channel), status=str(c.status), created_at=c.created_at
                )
                for c in view.conversations
            ],
            escalations=[EscalationOut.of(e, view.usernames) for e in view.escalations],
        )


class QueueItemOut(BaseModel):
    conversation_id: str
    channel: str
    status: str
    reason: str
    sub_reason: str | None
    reasons: list[str]
    priority: int
    waiting_since: datetime
    waiting_minutes: int
    target_minutes: int | None = Field(description="The response target for the reason")
    wait_state: str = Field(description="ok, due (near the target), late, or none")
    summary: str
    assigned_to: str | None
    held: bool = Field(description="Claimed: a person holds the conversation")
    account_ref: str | None
    debtor_name: str | None
    collection_paused: bool
    last_message: str | None


class QueueOut(PagedOut):
    items: list[QueueItemOut]
    counts: dict[str, int] = Field(description="The whole queue, per reason")


class MessageOut(BaseModel):
    id: int
    at: datetime
    direction: str
    sender: str
    text: str
    intent: str | None
    confidence: float | None
    delivery_status: str | None


class NoteOut(BaseModel):
    id: int
    at: datetime
    by: str | None
    text: str


class NegotiationStepOut(BaseModel):
    at: datetime
    kind: str
    actor: str
    terms: dict[str, Any]


class AuditOut(BaseModel):
    at: datetime
    kind: str
    actor: str
    data: dict[str, Any]


class ConversationOut(BaseModel):
    id: str
    channel: str
    status: str
    verified: bool
    held_by: str | None
    created_at: datetime
    account: AccountSummaryOut | None
    messages: list[MessageOut]
    notes: list[NoteOut]
    escalations: list[EscalationOut]
    negotiation: list[NegotiationStepOut]
    audit: list[AuditOut]

    @classmethod
    def of(cls, view: views.ConversationView) -> ConversationOut:
        conversation = view.conversation
        return cls(
            id=conversation.id,
            channel=str(conversation.channel),
            status=str(conversation.status),
            verified=conversation.verified_at is not None,
            held_by=view.holder,
            created_at=conversation.created_at,
            account=AccountSummaryOut.of(view.account) if view.account else None,
            messages=[
                MessageOut(
                    id=m.id,
                    at=m.created_at,
                    direction=str(m.direction),
                    sender=str(m.sender),
                    text=m.text,
                    intent=m.intent,
                    confidence=m.confidence,
                    delivery_status=m.delivery_status,
                )
                for m in view.messages
            ],
            notes=[
                NoteOut(id=n.id, at=n.created_at, by=view.usernames.get(n.user_id), text=n.text)
                for n in view.notes
            ],
            escalations=[EscalationOut.of(e, view.usernames) for e in view.escalations],
            negotiation=[
                NegotiationStepOut(
                    at=e.created_at, kind=str(e.kind), actor=str(e.actor), terms=e.terms
                )
                for e in view.negotiation
            ],
            audit=[
                AuditOut(at=a.created_at, kind=a.kind, actor=a.actor, data=a.data)
                for a in view.audit
            ],
        )
