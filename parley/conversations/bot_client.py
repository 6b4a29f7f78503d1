"""Client for the Rasa server's REST channel (`/webhooks/rest/webhook`), used by the gateway.

- Asynchronous, so a slow or hung Rasa process holds no worker thread: the other shards and the
  rest of the gateway keep serving (a hung shard once made requests to the healthy one wait).
- With several Rasa shards (one process per core on a single machine, or named replicas in
  production), a conversation always goes to the same shard, picked by a stable hash of its id,
  so its turns meet the tracker they left.
- Each shard has a breaker: after a failure it is given `cooldown` seconds before it is tried
  again, and until then its conversations fail at once (the gateway apologises) instead of each
  waiting out the timeout.
- An empty answer is a failure, not a silent success: every bot turn says something.
- `reset` empties a conversation's tracker through Rasa's HTTP API (token-protected, loopback
  only), which is how the gateway repairs a conversation a failed turn left broken; the next
  message starts a new session whose state is read back from the database.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from parley.core.errors import BotUnavailable

UNAVAILABLE = "The assistant is unavailable right now. Please try again."


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
    async def send(self, sender_id: str, text: str) -> list[OutMessage]: ...

    async def reset(self, sender_id: str) -> None: ...


class RasaRestClient:
    """Sends one debtor message to Rasa and returns its replies in order."""

    def __init__(
        self,
        base_urls: list[str],
        timeout: float = 15.0,
        *,
        token: str | None = None,
        cooldown: float = 5.0,
    ) -> None:
        if not base_urls:
            raise ValueError("at least one Rasa URL is needed")
        self._urls = [url.rstrip("/") for url in base_urls]
        self._token = token
        self._cooldown = cooldown
        self._down_until: dict[str, float] = {}
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 2.0)),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )

    def shard_url(self, sender_id: str) -> str:
        return self._urls[zlib.crc32(sender_id.encode()) % len(self._urls)]

    async def send(self, sender_id: str, text: str) -> list[OutMessage]:
        url = self._available(sender_id)
        try:
            response = await self._client.post(
                f"{url}/webhooks/rest/webhook", json={"sender": sender_id, "message": text}
            )
            response.raise_for_status()
            items = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            self._down_until[url] = time.monotonic() + self._cooldown
            raise BotUnavailable("bot_unavailable", UNAVAILABLE) from exc
        self._down_until.pop(url, None)
        replies = [
            _to_message(item) for item in items if isinstance(item, dict) and item.get("text")
        ]
        if not replies:
            raise BotUnavailable("bot_silent", UNAVAILABLE)
        return replies

    async def reset(self, sender_id: str) -> None:
        """Replace the conversation's tracker with an empty one (Rasa's HTTP API)."""
        url = self._available(sender_id)
        try:
            response = await self._client.put(
                f"{url}/conversations/{sender_id}/tracker/events",
                params={"token": self._token} if self._token else None,
                json=[],
            )
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise BotUnavailable("bot_unavailable", UNAVAILABLE) from exc

    def _available(self, sender_id: str) -> str:
        url = self.shard_url(sender_id)
        if self._down_until.get(url, 0.0) > time.monotonic():
            raise BotUnavailable("bot_unavailable", UNAVAILABLE)
        return url

    async def ready(self) -> bool:
        """Every shard answers (a conversation on a dead shard could not be served)."""
        try:
            for url in self._urls:
                response = await self._client.get(f"{url}/", timeout=2.0)
                if response.status_code != 200:
                    return False
        except httpx.HTTPError:
            return False
        return True

    async def close(self) -> None:
        await self._client.aclose()


def _to_message(item: dict[str, Any]) -> OutMessage:
    buttons = [
        {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
        for b in item.get("buttons") or []
        if isinstance(b, dict)
    ]
    return OutMessage(text=str(item["text"]), buttons=buttons)
