"""Identity checks, lockouts and portal-token sign-ins (SPEC §4)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from parley.tables.base import Base, utcnow


class VerificationAttempt(Base):
    """One completed identity check; failures drive the lockout."""

    __tablename__ = "verification_attempts"
    __table_args__ = (Index("ix_verification_attempts_account_time", "account_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    success: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class VerificationAttemptTarget(Base):
    """Every account a failed attempt could have been aimed at: a guess at a surname that
    several accounts share counts against each of them, so sharing a surname is no way round
    the lockout."""

    __tablename__ = "verification_attempt_targets"
    __table_args__ = (Index("ix_verification_attempt_targets_account", "account_id", "created_at"),)

    attempt_id: Mapped[int] = mapped_column(
        ForeignKey("verification_attempts.id", name="fk_verification_attempt_targets_attempt_id"),
        primary_key=True,
    )
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class VerificationLock(Base):
    """An account locked against identity checks until `locked_until`."""

    __tablename__ = "verification_locks"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    locked_until: Mapped[datetime]
    conversation_id: Mapped[str | None] = mapped_column(ForeignKey("conversations.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PortalTokenUse(Base):
    """The id (jti) of a portal token that signed in: a token signs in once."""

    __tablename__ = "portal_token_uses"

    jti: Mapped[str] = mapped_column(String(128), primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
