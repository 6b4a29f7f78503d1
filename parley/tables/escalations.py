"""The human queue (SPEC §10)."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from parley.core.enums import StrEnum
from parley.tables.base import Base, EnumText, TimestampMixin


class EscalationReason(StrEnum):
    HUMAN_REQUESTED = "human_requested"
    DISPUTE = "dispute"
    BANKRUPTCY = "bankruptcy"
    ATTORNEY = "attorney"
    CEASE_COMMUNICATION = "cease_communication"
    HARDSHIP = "hardship"
    WRONG_NUMBER = "wrong_number"
    VERIFICATION_LOCKED = "verification_locked"
    BOT_FAILURE = "bot_failure"


class EscalationStatus(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    RESOLVED = "resolved"


# Waiting for a person or held by one.
ACTIVE_ESCALATION: Final = (EscalationStatus.OPEN, EscalationStatus.CLAIMED)


class Escalation(TimestampMixin, Base):
    """A conversation handed to the human queue."""

    __tablename__ = "escalations"
    # The queue reads open escalations by status, ordered by priority then age.
    # "Mine" and "unassigned" filters and the round-robin's load count read by assignee.
    __table_args__ = (
        Index("ix_escalations_queue", "status", "priority", "created_at"),
        Index("ix_escalations_assigned", "assigned_user_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    reason: Mapped[EscalationReason] = mapped_column(EnumText(EscalationReason, 32))
    sub_reason: Mapped[str | None] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[EscalationStatus] = mapped_column(
        EnumText(EscalationStatus, 16), default=EscalationStatus.OPEN
    )
    priority: Mapped[int] = mapped_column(Integer, default=0)
    resolved_at: Mapped[datetime | None]
    # Console work: who holds it, who resolved it and how.
    assigned_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    outcome: Mapped[str | None] = mapped_column(String(64))
    # A dispute made by the end of the account's validation period (SPEC §14, Reg F
    # 1006.34(b)(5)); None for every other reason. Set once, when the dispute is recorded.
    within_validation_period: Mapped[bool | None] = mapped_column(Boolean)
