"""One real stack (trained model, Rasa, action server, API) for the whole test session."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from parley.db import make_engine, make_session_factory
from tests.support.stack import Stack, running_stack


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    with running_stack(extra_accounts=Path(__file__).with_name("accounts.csv")) as started:
        yield started


@pytest.fixture(scope="session")
def stack_db(stack: Stack) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(stack.database_url)
    yield make_session_factory(engine)
    engine.dispose()


@dataclass
class Chat:
    """A debtor in the web chat, speaking the REST contract of SPEC §7."""

    client: httpx.Client
    session_id: str
    greeting: list[dict[str, Any]]
    status: str = "bot"

    def say(self, text: str) -> list[str]:
        response = self.client.post(
            f"/api/chat/sessions/{self.session_id}/messages", json={"text": text}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        self.status = body["status"]
        return [m["text"] for m in body["messages"]]


@pytest.fixture
def api(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.api_url, timeout=30.0) as client:
        yield client


@pytest.fixture
def new_chat(api: httpx.Client) -> Any:
    def _start() -> Chat:
        response = api.post("/api/chat/sessions", json={})
        assert response.status_code == 201, response.text
        body = response.json()
        return Chat(api, body["session_id"], body["messages"])

    return _start
