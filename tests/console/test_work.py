"""The work on a conversation (parley.console.work), where two people may act at once."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from parley.console import users, work
from parley.console.users import LoginSession
from parley.core.db import transaction
from parley.core.errors import Conflict, ParleyError
from parley.escalations.queue import open_escalation
from parley.tables import Conversation, Escalation
from tests.support.console import PASSWORD


def _login(factory: sessionmaker[Session], name: str, role: str) -> LoginSession:
    with transaction(factory) as session:
        user = users.create_user(session, name, PASSWORD, role)
        return LoginSession(user.id, user.username, user.role, csrf_token="")


def _queued(factory: sessionmaker[Session]) -> str:
    with transaction(factory) as session:
        conversation = Conversation(channel="web")
        session.add(conversation)
        session.flush()
        open_escalation(session, conversation, "human_requested")
        return conversation.id


def race(
    factory: sessionmaker[Session], people: list[LoginSession], conversation_id: str
) -> list[str]:
    """Everyone claims the conversation at the same moment, each on a connection of their own."""
    start = threading.Barrier(len(people))
    outcomes: list[str] = []

    def take(actor: LoginSession) -> None:
        start.wait()
        try:
            with transaction(factory) as session:
                work.claim(session, actor, conversation_id)
            outcomes.append("won")
        except Conflict:
            outcomes.append("told")
        except ParleyError as exc:  # pragma: no cover - shown if it ever happens
            outcomes.append(exc.code)

    threads = [threading.Thread(target=take, args=(person,)) for person in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


@pytest.mark.parametrize("roles", [("agent", "agent"), ("supervisor", "supervisor")])
def test_of_two_people_claiming_at_once_exactly_one_wins(
    committed_factory: sessionmaker[Session], roles: tuple[str, str]
) -> None:
    """SPEC §10: claiming is atomic; the other is told. Ten races, real threads, real
    connections (committed_factory): every time one claim wins and the other gets 409."""
    people = [_login(committed_factory, f"{role}{n}", role) for n, role in enumerate(roles)]
    for _round in range(10):
        conversation_id = _queued(committed_factory)
        outcomes = race(committed_factory, people, conversation_id)
        assert sorted(outcomes) == ["told", "won"]
        with committed_factory() as session:
            escalation = session.scalars(
                select(Escalation).where(Escalation.conversation_id == conversation_id)
            ).one()
            assert escalation.status == "claimed"
            assert escalation.assigned_user_id in {p.user_id for p in people}


def test_a_supervisor_takes_over_only_when_asking_to(
    committed_factory: sessionmaker[Session],
) -> None:
    agent = _login(committed_factory, "agent9", "agent")
    boss = _login(committed_factory, "boss9", "supervisor")
    conversation_id = _queued(committed_factory)
    with transaction(committed_factory) as session:
        work.claim(session, agent, conversation_id)
    with pytest.raises(Conflict), transaction(committed_factory) as session:
        work.claim(session, boss, conversation_id)
    with transaction(committed_factory) as session:
        work.claim(session, boss, conversation_id, take_over=True)
    with committed_factory() as session:
        escalation = session.scalars(select(Escalation)).one()
        assert escalation.assigned_user_id == boss.user_id
