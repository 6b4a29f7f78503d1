"""Conversations and their messages (SPEC §7, §9): one conversation per channel thread."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from parley.core.enums import StrEnum
from parley.tables.base import Base, EnumText, TimestampMixin, new_id, utcnow

if TYPE_CHECKING:
    from parley.tables.accounts import Account


class Channel(StrEnum):
    WEB = "web"
    SMS = "sms"
    EMAIL = "email"  # outbound only: replies by email are out of scope (SPEC §14)


class ConversationStatus(StrEnum):
    """bot: the bot answers; queued: waiting for a person; human: a person holds it; closed."""

    BOT = "bot"
    QUEUED = "queued"
    HUMAN = "human"
    CLOSED = "closed"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Sender(StrEnum):
    DEBTOR = "debtor"
    BOT = "bot"
    AGENT = "agent"
    SYSTEM = "system"


class Conversation(TimestampMixin, Base):
    """One debtor conversation on one channel; its id is the Rasa sender id."""

    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    channel: Mapped[Channel] = mapped_column(EnumText(Channel, 8))
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    status: Mapped[ConversationStatus] = mapped_column(
        EnumText(ConversationStatus, 8), default=ConversationStatus.BOT
    )
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    verified_at: Mapped[datetime | None]
    locked_until: Mapped[datetime | None]
    disclosed_at: Mapped[datetime | None]
    # Never mute (SPEC §7): failed bot turns in a row, whether the bot's side needs repairing
    # before the next turn, and when the last "still waiting for a person" note went out.
    bot_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    bot_repair: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    waiting_reply_at: Mapped[datetime | None]
    # Verification lasts a session (SPEC §4): measured from the debtor's last message.
    last_debtor_at: Mapped[datetime | None]
    # What the bot asked and holds between turns (parley.dialogue.state), facts sealed.
    dialogue: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    account: Mapped[Account | None] = relationship()
    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", order_by="Message.id"
    )


class Message(Base):
    """Every message in or out, stored after redaction (SPEC §9)."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    direction: Mapped[Direction] = mapped_column(EnumText(Direction, 8))
    sender: Mapped[Sender] = mapped_column(EnumText(Sender, 8))
    text: Mapped[str] = mapped_column(Text)
    buttons: Mapped[list[Any] | None] = mapped_column(JSON)
    intent: Mapped[str | None] = mapped_column(String(64))
    confidence: Mapped[float | None] = mapped_column(Float)
    redacted: Mapped[bool] = mapped_column(Boolean, default=False)
    external_id: Mapped[str | None] = mapped_column(String(64))
    delivery_status: Mapped[str | None] = mapped_column(String(32))
    # The team member's name as the debtor saw it on an agent reply (kept as sent, SPEC §9).
    sender_name: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")
