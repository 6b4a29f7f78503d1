"""Console users, their login sessions and their notes (SPEC §10, §15)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from parley.core.enums import StrEnum
from parley.tables.base import Base, EnumText, TimestampMixin, utcnow


class Role(StrEnum):
    """In rising order of what each may do (parley.console.users ranks them so)."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class User(TimestampMixin, Base):
    """A console user; the password is an argon2 hash."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(EnumText(Role, 16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_login_at: Mapped[datetime | None]
    # The name debtors see on this user's replies ("Sam"); the username when blank.
    display_name: Mapped[str | None] = mapped_column(String(64))


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


class CannedReply(TimestampMixin, Base):
    """A saved reply an agent inserts by typing `/shortcut` in the reply box (SPEC §15);
    supervisors manage them."""

    __tablename__ = "canned_replies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shortcut: Mapped[str] = mapped_column(String(32), unique=True)
    text: Mapped[str] = mapped_column(Text)
    updated_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
