"""Database models. Money is integer cents; times are timezone-aware UTC."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_id() -> str:
    return uuid.uuid4().hex


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, always returns aware datetimes (SQLite drops the offset otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


# Named constraints keep migrations portable: SQLite batch mode can only alter what has a name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Account(TimestampMixin, Base):
    """A debt as loaded from the creditor's CSV. Verification factors are keyed hashes only."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_ref: Mapped[str] = mapped_column(String(64), unique=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    last_name_key: Mapped[str] = mapped_column(String(100), index=True)
    dob_hash: Mapped[str] = mapped_column(String(64))
    ssn4_hash: Mapped[str | None] = mapped_column(String(64))
    zip_hash: Mapped[str] = mapped_column(String(64))
    zip_timezones: Mapped[list[Any]] = mapped_column(default=list)
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    email: Mapped[str | None] = mapped_column(String(254))
    timezone: Mapped[str | None] = mapped_column(String(64))
    creditor: Mapped[str] = mapped_column(String(200))
    original_creditor: Mapped[str] = mapped_column(String(200))
    account_last4: Mapped[str] = mapped_column(String(4))
    description: Mapped[str] = mapped_column(Text)
    principal_cents: Mapped[int] = mapped_column(BigInteger)
    interest_cents: Mapped[int] = mapped_column(BigInteger)
    fees_cents: Mapped[int] = mapped_column(BigInteger)
    payments_credits_cents: Mapped[int] = mapped_column(BigInteger)
    itemization_date: Mapped[date] = mapped_column(Date)
    policy: Mapped[str] = mapped_column(String(64), default="default")
    collection_paused: Mapped[bool] = mapped_column(Boolean, default=False)
    # Sum of this account's `ledger_entries` (payments Parley took, settlement remainders):
    # kept apart from the imported `payments_credits_cents` so the CSV's figures stay as loaded.
    posted_payments_cents: Mapped[int] = mapped_column(BigInteger, default=0)

    @property
    def original_balance_cents(self) -> int:
        """The balance as imported from the creditor's file."""
        return (
            self.principal_cents
            + self.interest_cents
            + self.fees_cents
            - self.payments_credits_cents
        )

    @property
    def balance_cents(self) -> int:
        """Invariant (parley.ledger): original balance minus everything posted to the ledger."""
        return self.original_balance_cents - (self.posted_payments_cents or 0)


class Conversation(TimestampMixin, Base):
    """One debtor conversation on one channel; its id is the Rasa sender id."""

    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    channel: Mapped[str] = mapped_column(String(8))  # web | sms
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    status: Mapped[str] = mapped_column(String(8), default="bot")  # bot|queued|human|closed
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    verified_at: Mapped[datetime | None]
    locked_until: Mapped[datetime | None]
    disclosed_at: Mapped[datetime | None]

    account: Mapped[Account | None] = relationship()
    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", order_by="Message.id"
    )


class Message(Base):
    """Every message in or out, stored after redaction (SPEC §9)."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    direction: Mapped[str] = mapped_column(String(8))  # inbound | outbound
    sender: Mapped[str] = mapped_column(String(8))  # debtor | bot | agent | system
    text: Mapped[str] = mapped_column(Text)
    buttons: Mapped[list[Any] | None] = mapped_column(JSON)
    intent: Mapped[str | None] = mapped_column(String(64))
    confidence: Mapped[float | None] = mapped_column(Float)
    redacted: Mapped[bool] = mapped_column(Boolean, default=False)
    external_id: Mapped[str | None] = mapped_column(String(64))
    delivery_status: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")


class VerificationAttempt(Base):
    """One completed identity check; failures drive the lockout (SPEC §4)."""

    __tablename__ = "verification_attempts"
    __table_args__ = (Index("ix_verification_attempts_account_time", "account_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    success: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Escalation(TimestampMixin, Base):
    """A conversation handed to the human queue (SPEC §10)."""

    __tablename__ = "escalations"
    # The queue reads open escalations by status, ordered by priority then age.
    __table_args__ = (Index("ix_escalations_queue", "status", "priority", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    reason: Mapped[str] = mapped_column(String(32))
    sub_reason: Mapped[str | None] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | claimed | resolved
    priority: Mapped[int] = mapped_column(Integer, default=0)
    resolved_at: Mapped[datetime | None]
    # Console work (SPEC §10): who holds it, who resolved it and how.
    assigned_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    outcome: Mapped[str | None] = mapped_column(String(64))


class AuditEvent(Base):
    """Append-only record of what happened and why (disclosures, verification, imports...)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    actor: Mapped[str] = mapped_column(String(64), default="system")
    conversation_id: Mapped[str | None] = mapped_column(ForeignKey("conversations.id"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProcessedEvent(Base):
    """Idempotency for inbound webhooks: one row per (source, external_id)."""

    __tablename__ = "processed_events"
    __table_args__ = (UniqueConstraint("source", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- Negotiation (SPEC §6) -------------------------------------------------------------------


class NegotiationEvent(Base):
    """Every offer, counteroffer and decision, with the policy values that justified it."""

    __tablename__ = "negotiation_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    conversation_id: Mapped[str | None] = mapped_column(ForeignKey("conversations.id"), index=True)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("payment_plans.id"))
    # offer | counteroffer | accept | counter | reject | confirm | decline | escalate
    kind: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(16))  # bot | debtor | agent
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
    kind: Mapped[str] = mapped_column(String(16))  # full | settlement | installments
    # agreed | active | completed | broken | cancelled
    status: Mapped[str] = mapped_column(String(16), default="agreed")
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
    # scheduled | charging | paid | failed | cancelled
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    paid_at: Mapped[datetime | None]
    # After a declined charge: the debtor-zone date of the next attempt (policy retry days).
    retry_on: Mapped[date | None] = mapped_column(Date)
    # When the charging job claimed it; a stale claim is retried with the same idempotency key.
    charging_since: Mapped[datetime | None]

    plan: Mapped[PaymentPlan] = relationship(back_populates="installments")


# --- SMS and outbound messages (SPEC §7) ------------------------------------------------------


class PhoneOptOut(Base):
    """A number that opted out of SMS (STOP words, plain-language requests, wrong number)."""

    __tablename__ = "phone_opt_outs"

    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    opted_out: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(32))  # keyword | request | wrong_number | agent
    detail: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OutboundMessage(Base):
    """A message Parley initiates (not a webhook reply): queued, deferred by quiet hours, sent
    through Twilio or the local outbox, or blocked by an opt-out. Survives restarts."""

    __tablename__ = "outbound_messages"
    __table_args__ = (Index("ix_outbound_messages_due", "status", "send_after"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str | None] = mapped_column(ForeignKey("conversations.id"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    channel: Mapped[str] = mapped_column(String(8), default="sms")
    to: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))  # agent | confirmation | reminder | notice
    # scheduled | sending | sent | outbox | blocked | failed
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    send_after: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    provider_id: Mapped[str | None] = mapped_column(String(64))
    delivery_status: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- Console (SPEC §10) ----------------------------------------------------------------------


class User(TimestampMixin, Base):
    """A console user; the password is an argon2 hash, the role one of agent|supervisor|admin."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_login_at: Mapped[datetime | None]


class ConsoleSession(Base):
    """A server-side login session; the cookie carries a random token, the row its SHA-256 (so a
    database read does not yield usable cookies) and the session's CSRF token."""

    __tablename__ = "console_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]

    user: Mapped[User] = relationship()


class Note(Base):
    """An internal note on a conversation: console only, never part of the debtor's transcript."""

    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()


# --- Payments (SPEC §8) ----------------------------------------------------------------------


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
    mode: Mapped[str] = mapped_column(String(8))  # stripe | local
    save_card: Mapped[bool] = mapped_column(Boolean, default=False)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    url: Mapped[str] = mapped_column(Text)
    stripe_session_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    # open | completed | failed
    status: Mapped[str] = mapped_column(String(16), default="open")
    completed_at: Mapped[datetime | None]


class LedgerEntry(Base):
    """One amount taken off an account's balance; `reference` is unique so nothing posts twice.

    kind: payment (a Stripe PaymentIntent) | settlement (the remainder a paid settlement forgives)
    """

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("payment_plans.id"), index=True)
    installment_id: Mapped[int | None] = mapped_column(ForeignKey("installments.id"))
    kind: Mapped[str] = mapped_column(String(16))
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
    # pending | succeeded | failed
    status: Mapped[str] = mapped_column(String(16), default="pending")
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
