"""A debtor in the web chat of the running stack, speaking the REST contract of SPEC §7."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

# The demo debtor of config/demo-accounts.csv (DEMO-1001).
DEMO_LAST_NAME, DEMO_DOB, DEMO_ZIP, DEMO_SSN4 = "Garcia", "03/14/1985", "94107", "1234"
DEMO_BALANCE = "$1,219.50"


@dataclass
class Chat:
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


def start_chat(client: httpx.Client) -> Chat:
    response = client.post("/api/chat/sessions", json={})
    assert response.status_code == 201, response.text
    body = response.json()
    return Chat(client, body["session_id"], body["messages"])


def verified_chat(client: httpx.Client, last_name: str, dob: str, zip_code: str) -> Chat:
    """A new chat whose debtor has answered the three identity questions correctly."""
    chat = start_chat(client)
    chat.say(last_name)
    chat.say(dob)
    replies = chat.say(zip_code)
    assert any("you're verified" in r for r in replies), replies
    return chat
