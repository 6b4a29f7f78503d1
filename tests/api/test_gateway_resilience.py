"""The gateway when the bot is down: clear errors, nothing lost (SPEC §9, §12).

The Rasa and action-server URLs point at a loopback port nobody listens on: the failure is real.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from devstack.stack import free_port
from parley.conversations import turns
from parley.core.settings import Settings
from parley.tables import Conversation, Escalation, Message


@pytest.fixture
def client(db_url: str, committed_factory: sessionmaker[Session]) -> Iterator[TestClient]:
    dead = f"http://127.0.0.1:{free_port()}"
    settings = Settings(
        DATABASE_URL=db_url,
        PARLEY_RASA_URL=dead,
        PARLEY_ACTION_SERVER_URL=dead,
        PARLEY_RASA_TIMEOUT=2,
        PARLEY_WIDGET_ORIGINS="https://portal.example",
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_healthz_is_503_and_names_the_missing_components(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["components"] == {
        "api": "ok",
        "database": "ok",
        "rasa": "unavailable",
        "actions": "unavailable",
    }


def test_when_the_bot_is_down_the_debtor_gets_an_apology_then_a_person(
    client: TestClient, committed_factory: sessionmaker[Session]
) -> None:
    """SPEC §7: never silent. The message is stored (redacted) first; a failed bot turn is
    answered with an apology, and the second in a row hands the chat to a person."""
    with committed_factory.begin() as session:
        conversation = Conversation(channel="web")
        session.add(conversation)
        session.flush()
        conversation_id = conversation.id
    url = f"/api/chat/sessions/{conversation_id}/messages"
    first = client.post(url, json={"text": "card 4111 1111 1111 1111 please"})
    assert first.status_code == 200
    assert first.json() == {"messages": [{"text": turns.APOLOGY, "buttons": None}], "status": "bot"}
    second = client.post(url, json={"text": "hello?"}).json()
    assert second == {
        "messages": [{"text": turns.HANDED_OVER, "buttons": None}],
        "status": "queued",
    }
    with committed_factory() as session:
        stored = session.scalars(
            select(Message.text)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.id)
        ).all()
        reasons = session.scalars(
            select(Escalation.reason).where(Escalation.conversation_id == conversation_id)
        ).all()
        repaired = session.get(Conversation, conversation_id)
    assert stored == [
        "card [card number removed] please",
        turns.APOLOGY,
        "hello?",
        turns.HANDED_OVER,
    ]
    assert reasons == ["bot_failure"]
    assert repaired is not None and repaired.bot_repair and repaired.bot_failures == 2


def test_unknown_session_and_bad_bodies(client: TestClient) -> None:
    assert client.post("/api/chat/sessions/nope/messages", json={"text": "hi"}).status_code == 404
    assert client.get("/api/chat/sessions/nope/messages").status_code == 404
    response = client.post("/api/chat/sessions/nope/messages", json={"text": ""})
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "text"
    assert client.post("/api/chat/sessions", json={"bogus": 1}).status_code == 422


def test_only_allowlisted_origins_may_use_the_chat(client: TestClient) -> None:
    refused = client.post("/api/chat/sessions", json={}, headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "origin_not_allowed"
    # An allowed origin gets past the check (and then meets the bot outage).
    allowed = client.post(
        "/api/chat/sessions", json={}, headers={"Origin": "https://portal.example"}
    )
    assert allowed.status_code == 503
