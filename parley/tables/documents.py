"""The documents Parley gives a debtor to keep (SPEC §14): the validation notice as provided.

Only the notice needs a row. Its validation period is counted from the day it was provided, and
Reg F wants the notice's figures as of that day (itemization, current amount), so the row keeps
both: when and how it was provided, and the content exactly as shown then. The debtor's copy
reads that snapshot, so a later payment never changes a notice already given. A written
agreement needs no row: it is rendered from the stored plan and its installments.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from parley.core.enums import StrEnum
from parley.tables.base import Base, EnumText, utcnow


class NoticeChannel(StrEnum):
    """How the notice was provided: with the first contact (email, SMS link), in the chat
    after the disclosure, by the debtor opening its link, or by other means (imported)."""

    EMAIL = "email"
    SMS = "sms"
    WEB = "web"
    LINK = "link"


class ValidationNotice(Base):
    """The one validation notice of an account (Reg F 1006.34): the first one provided counts;
    giving the link again later neither restarts nor moves the period."""

    __tablename__ = "validation_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), unique=True)
    sent_at: Mapped[datetime]
    # The sending date in the debtor's zone: the period is counted from this calendar date.
    sent_on: Mapped[date] = mapped_column(Date)
    channel: Mapped[NoticeChannel] = mapped_column(EnumText(NoticeChannel, 16))
    period_ends: Mapped[date] = mapped_column(Date)
    # Every figure and name as shown on the notice (JSON-safe: cents, ISO dates, strings).
    content: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
