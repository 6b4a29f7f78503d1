"""Payments (SPEC §8): checkout links, the ledger, off-session charges, webhook idempotency."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from parley.core.enums import StrEnum
from parley.tables.base import Base, EnumText, TimestampMixin, utcnow


class LinkMode(StrEnum):
    STRIPE = "stripe"
    LOCAL = "local"


class LinkStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    FAILED = "failed"


class LedgerKind(StrEnum):
    """payment: a Stripe PaymentIntent; settlement: the remainder a paid settlement forgives."""

    PAYMENT = "payment"
    SETTLEMENT = "settlement"


class ChargeStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class EventSource(StrEnum):
    STRIPE = "stripe"
    TWILIO = "twilio"


class ProcessedEvent(Base):
    """Idempotency for inbound webhooks: one row per (source, external_id), claimed in the
    same transaction as the event's effects."""

    __tablename__ = "processed_events"
    __table_args__ = (UniqueConstraint("source", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[EventSource] = mapped_column(EnumText(EventSource, 16))
    external_id: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PaymentLink(TimestampMixin, Base):
    """A checkout link for a plan: a Stripe Checkout Session, or the local demo checkout.

    `token` is random: it names the local page and is its CSRF token; it is never a card datum.
    """

    __tablename__ = "payment_links"
    __table_args__ = (UniqueConstraint("plan_id", "attempt"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("payment_plans.id"), index=True)
    installment_id: Mapped[int | None] = mapped_column(ForeignKey("installments.id"))
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    mode: Mapped[LinkMode] = mapped_column(EnumText(LinkMode, 8))
    save_card: Mapped[bool] = mapped_column(Boolean, default=False)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    url: Mapped[str] = mapped_column(Text)
    stripe_session_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    status: Mapped[LinkStatus] = mapped_column(EnumText(LinkStatus, 16), default=LinkStatus.OPEN)
    completed_at: Mapped[datetime | None]


class LedgerEntry(Base):
    """One amount taken off an account's balance; `reference` is unique so nothing posts twice."""

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("payment_plans.id"), index=True)
    installment_id: Mapped[int | None] = mapped_column(ForeignKey("installments.id"))
    kind: Mapped[LedgerKind] = mapped_column(EnumText(LedgerKind, 16))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    reference: Mapped[str] = mapped_column(String(255), unique=True)
    event_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InstallmentCharge(Base):
    """One off-session charge attempt; its idempotency key makes a retried request a replay."""

    __tablename__ = "installment_charges"
    __table_args__ = (UniqueConstraint("installment_id", "attempt"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    installment_id: Mapped[int] = mapped_column(ForeignKey("installments.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    payment_intent_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[ChargeStatus] = mapped_column(
        EnumText(ChargeStatus, 16), default=ChargeStatus.PENDING
    )
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
