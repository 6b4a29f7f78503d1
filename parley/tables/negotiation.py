"""Negotiation (SPEC §6): every offer and decision, the plans agreed, their installments and
the promises to pay made without a plan."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Final

from sqlalchemy import BigInteger, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from parley.core.enums import StrEnum
from parley.tables.base import Base, EnumText, TimestampMixin, utcnow


class Actor(StrEnum):
    BOT = "bot"
    DEBTOR = "debtor"
    AGENT = "agent"


class NegotiationEventKind(StrEnum):
    OFFER = "offer"
    COUNTEROFFER = "counteroffer"
    ACCEPT = "accept"
    COUNTER = "counter"
    REJECT = "reject"
    CONFIRM = "confirm"
    DECLINE = "decline"
    ESCALATE = "escalate"
    REQUEST = "request"
    PROMISE = "promise"
    RESCHEDULE = "reschedule"


class PlanKind(StrEnum):
    FULL = "full"
    SETTLEMENT = "settlement"
    INSTALLMENTS = "installments"


class PlanStatus(StrEnum):
    AGREED = "agreed"
    ACTIVE = "active"
    COMPLETED = "completed"
    BROKEN = "broken"
    CANCELLED = "cancelled"


# A plan that still binds the account: agreed and not yet paid, or paying.
LIVE_PLAN: Final = (PlanStatus.AGREED, PlanStatus.ACTIVE)


class InstallmentStatus(StrEnum):
    SCHEDULED = "scheduled"
    CHARGING = "charging"
    PAID = "paid"
    FAILED = "failed"
    CANCELLED = "cancelled"


class PromiseStatus(StrEnum):
    """open until its date; kept or broken by the ledger; cancelled when a plan replaces it."""

    OPEN = "open"
    KEPT = "kept"
    BROKEN = "broken"
    CANCELLED = "cancelled"


class NegotiationEvent(Base):
    """Every offer, counteroffer and decision, with the policy values that justified it."""

    __tablename__ = "negotiation_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    conversation_id: Mapped[str | None] = mapped_column(ForeignKey("conversations.id"), index=True)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("payment_plans.id"))
    kind: Mapped[NegotiationEventKind] = mapped_column(EnumText(NegotiationEventKind, 16))
    actor: Mapped[Actor] = mapped_column(EnumText(Actor, 16))
    terms: Mapped[dict[str, Any]] = mapped_column(default=dict)
    policy_name: Mapped[str] = mapped_column(String(64))
    policy_values: Mapped[dict[str, Any]] = mapped_column(default=dict)
    limit: Mapped[str | None] = mapped_column(String(64))  # the policy key that drove it
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PaymentPlan(TimestampMixin, Base):
    """An agreed arrangement: pay in full, a settlement, or installments (with a schedule)."""

    __tablename__ = "payment_plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    conversation_id: Mapped[str | None] = mapped_column(ForeignKey("conversations.id"))
    kind: Mapped[PlanKind] = mapped_column(EnumText(PlanKind, 16))
    status: Mapped[PlanStatus] = mapped_column(EnumText(PlanStatus, 16), default=PlanStatus.AGREED)
    total_cents: Mapped[int] = mapped_column(BigInteger)
    balance_at_agreement_cents: Mapped[int] = mapped_column(BigInteger)
    frequency: Mapped[str | None] = mapped_column(String(16))
    policy_name: Mapped[str] = mapped_column(String(64))
    policy_values: Mapped[dict[str, Any]] = mapped_column(default=dict)
    timezone: Mapped[str | None] = mapped_column(String(64))
    agreed_at: Mapped[datetime | None]
    # Saved card for off-session installments (SPEC §8); ids only, never card data.
    stripe_customer_id: Mapped[str | None] = mapped_column(String(64))
    payment_method_id: Mapped[str | None] = mapped_column(String(64))
    completed_at: Mapped[datetime | None]
    broken_at: Mapped[datetime | None]

    installments: Mapped[list[Installment]] = relationship(
        back_populates="plan", order_by="Installment.sequence"
    )


class Installment(Base):
    """One scheduled payment of a plan; due dates are calendar dates in the debtor's zone."""

    __tablename__ = "installments"
    __table_args__ = (UniqueConstraint("plan_id", "sequence"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("payment_plans.id"), index=True)
    sequence: Mapped[int] = mapped_column(Integer)
    due_date: Mapped[date] = mapped_column(Date)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    # What was paid towards it so far (a partial payment leaves it open, SPEC §8).
    paid_cents: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    status: Mapped[InstallmentStatus] = mapped_column(
        EnumText(InstallmentStatus, 16), default=InstallmentStatus.SCHEDULED
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    paid_at: Mapped[datetime | None]
    # After a declined charge: the debtor-zone date of the next attempt (policy retry days).
    retry_on: Mapped[date | None] = mapped_column(Date)
    # When the charging job claimed it; a stale claim is retried with the same idempotency key.
    charging_since: Mapped[datetime | None]

    plan: Mapped[PaymentPlan] = relationship(back_populates="installments")

    @property
    def remaining_cents(self) -> int:
        """What is still to pay on it (a partial payment leaves the rest open)."""
        return max(0, self.amount_cents - (self.paid_cents or 0))


class Promise(TimestampMixin, Base):
    """A promise to pay an amount by a date without a plan (SPEC §6), followed up (§14)."""

    __tablename__ = "promises"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    conversation_id: Mapped[str | None] = mapped_column(ForeignKey("conversations.id"))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[PromiseStatus] = mapped_column(
        EnumText(PromiseStatus, 16), default=PromiseStatus.OPEN
    )
    note: Mapped[str | None] = mapped_column(Text)
