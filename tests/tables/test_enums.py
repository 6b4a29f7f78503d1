"""Statuses and kinds are stored as plain strings and read back as their `StrEnum` member."""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from parley.tables import Channel, Conversation, ConversationStatus


def test_a_status_reads_back_as_its_member_and_an_unknown_one_as_its_string(
    session: Session,
) -> None:
    conversation = Conversation(channel=Channel.WEB)
    session.add(conversation)
    session.flush()
    stored = session.execute(
        text("SELECT status, channel FROM conversations WHERE id = :id"), {"id": conversation.id}
    ).one()
    assert tuple(stored) == ("bot", "web")  # plain strings in the table
    session.expire_all()
    loaded = session.scalars(select(Conversation).where(Conversation.id == conversation.id)).one()
    assert loaded.status is ConversationStatus.BOT
    assert loaded.channel is Channel.WEB

    session.execute(
        text("UPDATE conversations SET status = 'archived' WHERE id = :id"),
        {"id": conversation.id},
    )
    session.expire_all()
    newer = session.scalars(select(Conversation).where(Conversation.id == conversation.id)).one()
    assert newer.status == "archived"  # a value from a newer release does not break the read
