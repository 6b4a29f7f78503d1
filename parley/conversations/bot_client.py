"""Client for the Rasa server's REST channel (`/webhooks/rest/webhook`)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from parley.core.errors import BotUnavailable


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

    With several Rasa shards (one process per core on a single machine), a conversation always
    goes to the same shard, picked by a stable hash of its id: its tracker and lock live there,
    so the shards need no shared lock store. Behind a load balancer with a Redis lock store
    (docker-compose) one URL is given. One pooled `httpx.Client` per process.
    """

    def __init__(self, base_urls: list[str], timeout: float = 15.0) -> None:
        if not base_urls:
            raise ValueError("at least one Rasa URL is needed")
        self._urls = [url.rstrip("/") for url in base_urls]
        self._client = httpx.Client(timeout=timeout)

    def shard_url(self, sender_id: str) -> str:
        return self._urls[zlib.crc32(sender_id.encode()) % len(self._urls)]

    def send(self, sender_id: str, text: str) -> list[OutMessage]:
        try:
            response = self._client.post(
                f"{self.shard_url(sender_id)}/webhooks/rest/webhook",
                json={"sender": sender_id, "message": text},
            )
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise BotUnavailable(
                "bot_unavailable", "The assistant is unavailable right now. Please try again."
            ) from exc
        return [_to_message(item) for item in response.json() if item.get("text")]

    def ready(self) -> bool:
        """Every shard answers (a conversation on a dead shard could not be served)."""
        try:
            return all(
                self._client.get(f"{url}/", timeout=2.0).status_code == 200 for url in self._urls
            )
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
