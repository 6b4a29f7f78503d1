"""Messages Parley initiates and the numbers and addresses that opted out (SPEC §7, §14)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from parley.core.enums import StrEnum
from parley.tables.base import Base, EnumText, utcnow
from parley.tables.conversations import Channel


class OptOutSource(StrEnum):
    KEYWORD = "keyword"  # STOP and the carrier keywords
    REQUEST = "request"  # a plain-language "stop texting me"
    WRONG_NUMBER = "wrong_number"
    AGENT = "agent"
    CARRIER = "carrier"  # Twilio reported the number unsubscribed (error 21610)
    UNSUBSCRIBE_LINK = "unsubscribe_link"  # an email's link or one-click header (RFC 8058)


class OutboundKind(StrEnum):
    AGENT = "agent"
    CONFIRMATION = "confirmation"
    REMINDER = "reminder"
    NOTICE = "notice"
    COLLECTION = "collection"


class OutboundStatus(StrEnum):
    SCHEDULED = "scheduled"
    SENDING = "sending"
    SENT = "sent"
    OUTBOX = "outbox"
    BLOCKED = "blocked"
    FAILED = "failed"


class PhoneOptOut(Base):
    """A number that opted out of SMS (STOP words, plain-language requests, wrong number)."""

    __tablename__ = "phone_opt_outs"

    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    opted_out: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[OptOutSource] = mapped_column(EnumText(OptOutSource, 32))
    detail: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class EmailOptOut(Base):
    """One row per email address Parley has mailed: its unsubscribe token, and whether it opted
    out (`parley.email.optout`). The row is written before the first email so the token in that
    email's link already resolves; `opted_out` starts False."""

    __tablename__ = "email_opt_outs"

    address: Mapped[str] = mapped_column(String(320), primary_key=True)  # normalised, lower case
    # The unsubscribe link's token: an HMAC of the address, stored so links already sent keep
    # working when the secret key is rotated.
    token: Mapped[str] = mapped_column(String(64), unique=True)
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[OptOutSource | None] = mapped_column(EnumText(OptOutSource, 32))
    detail: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OutboundMessage(Base):
    """A message Parley initiates (not a webhook reply): queued, deferred by quiet hours, sent
    through Twilio, SMTP or the local outbox, or blocked by an opt-out. Survives restarts.

    Email rows (`channel=email`) also carry a subject and the caller's idempotency key (one row,
    and at most one send, per key); their `provider_id` is the Message-ID."""

    __tablename__ = "outbound_messages"
    __table_args__ = (Index("ix_outbound_messages_due", "status", "send_after"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str | None] = mapped_column(ForeignKey("conversations.id"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    channel: Mapped[Channel] = mapped_column(EnumText(Channel, 8), default=Channel.SMS)
    to: Mapped[str] = mapped_column(String(320))  # E.164 number or email address
    subject: Mapped[str | None] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    kind: Mapped[OutboundKind] = mapped_column(EnumText(OutboundKind, 16))
    status: Mapped[OutboundStatus] = mapped_column(
        EnumText(OutboundStatus, 16), default=OutboundStatus.SCHEDULED
    )
    send_after: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    provider_id: Mapped[str | None] = mapped_column(String(255))
    delivery_status: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutreachOutcome(StrEnum):
    SENDING = "sending"  # committed before the channel is called: a crash leaves this behind
    SENT = "sent"
    BLOCKED = "blocked"
    RESCHEDULED = "rescheduled"
    FAILED = "failed"


class OutreachEvent(Base):
    """What happened to one cadence step at one moment: sent, or blocked / rescheduled and the
    rule that decided it (SPEC §14 "every blocked or rescheduled send records why"). The console
    and the dashboard read it; a step's `sending` row without a later one is an interrupted
    send, never retried (a duplicate collection message is worse than a missing one)."""

    __tablename__ = "outreach_events"
    __table_args__ = (Index("ix_outreach_events_account", "account_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"), index=True)
    step_key: Mapped[str] = mapped_column(String(255))
    step: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[OutreachOutcome] = mapped_column(EnumText(OutreachOutcome, 16))
    reason: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)
    # The message as sent (initiated messages count against the frequency caps).
    initiated: Mapped[bool] = mapped_column(Boolean, default=False)
    outbound_id: Mapped[int | None] = mapped_column(ForeignKey("outbound_messages.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutreachPause(Base):
    """A supervisor paused the account's cadence (console); nothing is initiated until resumed.
    Separate from `Account.collection_paused` (an escalation's pause, resolved with it)."""

    __tablename__ = "outreach_pauses"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    paused_by: Mapped[str] = mapped_column(String(128))
    paused_at: Mapped[datetime] = mapped_column(default=utcnow)
