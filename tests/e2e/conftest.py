"""One real stack (trained model, Rasa, action server, API) for the whole test session."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support.stack import Stack

# `stack` and `stack_db` live in tests/conftest.py: the browser tests share the same stack.


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
