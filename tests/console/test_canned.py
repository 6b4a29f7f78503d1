"""Canned replies (parley.console.canned): supervisors manage them, `/shortcut` expands."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from parley.console import canned, users, work
from parley.console.users import LoginSession
from parley.core.errors import Forbidden, InvalidRequest
from parley.core.settings import Settings
from parley.escalations.queue import open_escalation
from parley.tables import Conversation
from tests.support.console import PASSWORD


def _login(session: Session, name: str, role: str) -> LoginSession:
    user = users.create_user(session, name, PASSWORD, role)
    return LoginSession(user.id, user.username, user.role, csrf_token="")


def test_supervisor_saves_replaces_and_deletes_agent_may_not(session: Session) -> None:
    supervisor = _login(session, "canned-super", "supervisor")
    agent = _login(session, "canned-agent", "agent")
    canned.save(session, supervisor, "/PayLink", "I will send you a secure payment link.")
    canned.save(session, supervisor, "paylink", "Here is a secure payment link.")
    assert [(r.shortcut, r.text) for r in canned.list_replies(session)] == [
        ("paylink", "Here is a secure payment link.")
    ]
    with pytest.raises(Forbidden):
        canned.save(session, agent, "hi", "Hello")
    with pytest.raises(Forbidden):
        canned.delete(session, agent, "paylink")
    for bad in ("", "/", "two words", "x" * 33, "ünï"):
        with pytest.raises(InvalidRequest):
            canned.save(session, supervisor, bad, "text")
    with pytest.raises(InvalidRequest):
        canned.save(session, supervisor, "empty", "   ")
    canned.delete(session, supervisor, "paylink")
    assert canned.list_replies(session) == []


def test_a_reply_that_is_a_shortcut_is_sent_as_its_text(session: Session) -> None:
    supervisor = _login(session, "canned-super2", "supervisor")
    agent = _login(session, "canned-agent2", "agent")
    canned.save(session, supervisor, "hours", "We are here Monday to Friday, 8am to 8pm.")
    conversation = Conversation(channel="web")
    session.add(conversation)
    session.flush()
    open_escalation(session, conversation, "human_requested")
    settings = Settings(PARLEY_SECRET_KEY="k" * 40)
    message = work.reply(session, settings, agent, conversation.id, "/hours")
    assert message.text == "We are here Monday to Friday, 8am to 8pm."
    assert message.sender_name == "canned-agent2"
    # Text that merely contains a slash is sent as typed; an unknown shortcut is refused.
    assert work.reply(session, settings, agent, conversation.id, "50/50?").text == "50/50?"
    with pytest.raises(InvalidRequest, match="no canned reply /nope"):
        work.reply(session, settings, agent, conversation.id, "/nope")
