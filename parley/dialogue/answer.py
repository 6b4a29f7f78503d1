"""One debtor message answered in one unit of work: the dialogue's decisions and the NLU's label
for the console, committed together or not at all. Called by Rasa's action (`action_respond`)
and by the gateway's in-process engine alike, so both record exactly the same."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from parley.conversations import state
from parley.core.db import transaction
from parley.core.settings import Settings
from parley.dialogue.heard import Heard
from parley.dialogue.reply import Reply
from parley.dialogue.respond import respond


def answer(
    sessions: sessionmaker[Session], settings: Settings, conversation_id: str, heard: Heard
) -> Reply:
    with transaction(sessions) as session:
        return answer_in(session, settings, conversation_id, heard)


def answer_in(
    session: Session,
    settings: Settings,
    conversation_id: str,
    heard: Heard,
    *,
    said: int | None = None,
) -> Reply:
    """The same, inside a unit of work the caller owns (the in-process engine stores the
    gateway's copy of the replies in it too). `said` is the id of the debtor's message being
    answered when the caller stored it (the gateway, under the conversation's turn lock: it is
    the latest debtor message); without it the latest one is looked up."""
    reply = respond(session, settings, conversation_id, heard)
    if heard.intent and not heard.payload:
        if said is None:
            state.record_understanding(session, conversation_id, heard.intent, heard.confidence)
        else:
            state.record_understanding_of(session, said, heard.intent, heard.confidence)
    return reply
