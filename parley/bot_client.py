"""Client for the Rasa server's REST channel (`/webhooks/rest/webhook`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from parley.errors import BotUnavailable


@dataclass(frozen=True)
class OutMessage:
    text: str
    buttons: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"text": self.text}
        if self.buttons:
            data["buttons"] = self.buttons
        return data


class BotClient(Protocol):
    def send(self, sender_id: str, text: str) -> list[OutMessage]: ...


class RasaRestClient:
    """Sends one debtor message to Rasa and returns its replies in order.

    One pooled `httpx.Client` per process; Rasa listens on loopback or the private network only.
    """

    def __init__(self, base_url: str, timeout: float = 15.0) -> None:
        self._client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout)

    def send(self, sender_id: str, text: str) -> list[OutMessage]:
        try:
            response = self._client.post(
                "/webhooks/rest/webhook", json={"sender": sender_id, "message": text}
            )
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise BotUnavailable(
                "bot_unavailable", "The assistant is unavailable right now. Please try again."
            ) from exc
        return [_to_message(item) for item in response.json() if item.get("text")]

    def ready(self) -> bool:
        try:
            return self._client.get("/", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def close(self) -> None:
        self._client.close()


def _to_message(item: dict[str, Any]) -> OutMessage:
    buttons = [
        {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
        for b in item.get("buttons") or []
    ]
    return OutMessage(text=str(item["text"]), buttons=buttons)
