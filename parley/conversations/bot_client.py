"""Client for the Rasa server's REST channel (`/webhooks/rest/webhook`), used by the gateway.

- Asynchronous, so a slow or hung Rasa process holds no worker thread: the other shards and the
  rest of the gateway keep serving (a hung shard once made requests to the healthy one wait).
- With several Rasa shards (one process per core on a single machine, or named replicas in
  production), a conversation always goes to the same shard, picked by a stable hash of its id,
  so its turns meet the tracker they left.
- Each shard has a breaker: after a failure it is given `cooldown` seconds before it is tried
  again, and until then its conversations go to the next healthy shard instead of each waiting
  out the timeout. A shard that refuses connections is failed over at once, within the turn.
- An empty answer is a failure, not a silent success: every bot turn says something.
- `reset` empties a conversation's tracker through Rasa's HTTP API (token-protected, loopback
  only), which is how the gateway repairs a conversation a failed turn left broken; the next
  message starts a new session whose state is read back from the database.
"""

from __future__ import annotations

import time
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from parley.core.errors import BotUnavailable

UNAVAILABLE = "The assistant is unavailable right now. Please try again."
# How many moved conversations a gateway process remembers (oldest forgotten first).
MAX_MOVED = 100_000


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

    async def ready(self) -> bool: ...

    async def close(self) -> None: ...


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
        # Conversations moved off a failed shard stay where they went (see `_route`).
        self._moved: OrderedDict[str, str] = OrderedDict()
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 2.0)),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )

    def shard_url(self, sender_id: str) -> str:
        return self._urls[zlib.crc32(sender_id.encode()) % len(self._urls)]

    async def send(self, sender_id: str, text: str) -> list[OutMessage]:
        body = {"sender": sender_id, "message": text}
        items = await self._call(sender_id, "POST", "/webhooks/rest/webhook", json=body)
        replies = [
            _to_message(item)
            for item in (items if isinstance(items, list) else [])
            if isinstance(item, dict) and item.get("text")
        ]
        if not replies:
            raise BotUnavailable("bot_silent", UNAVAILABLE)
        return replies

    async def reset(self, sender_id: str) -> None:
        """Replace the conversation's tracker with an empty one (Rasa's HTTP API)."""
        await self._call(
            sender_id,
            "PUT",
            f"/conversations/{sender_id}/tracker/events",
            params={"token": self._token} if self._token else None,
            json=[],
        )

    async def _call(self, sender_id: str, method: str, path: str, **kwargs: Any) -> Any:
        """One request to the conversation's shard, failing over when it cannot be reached.

        Only a refused or timed-out *connection* moves on to the next shard: the request
        never arrived, so it cannot be handled twice. A shard that took the request and then
        failed (an error, a read timeout, a hung process) is not asked again for this turn;
        its breaker sends the following turns elsewhere.
        """
        tried: set[str] = set()
        failure: Exception | None = None
        while (url := self._route(sender_id, tried)) is not None:
            tried.add(url)
            try:
                response = await self._client.request(method, f"{url}{path}", **kwargs)
                response.raise_for_status()
                data = response.json()
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                self._trip(url)
                failure = exc
                continue
            except (httpx.HTTPError, ValueError) as exc:
                self._trip(url)
                raise BotUnavailable("bot_unavailable", UNAVAILABLE) from exc
            self._down_until.pop(url, None)
            return data
        raise BotUnavailable("bot_unavailable", UNAVAILABLE) from failure

    def _route(self, sender_id: str, tried: set[str]) -> str | None:
        """The shard for this conversation: its own (by hash), or, while that one is down, the
        next healthy one in ring order. A conversation that moved stays on its new shard
        (in this process): with one tracker file per shard (`make run`) its old shard's
        tracker is stale, and with a shared tracker store (production) staying costs nothing.
        """
        now = time.monotonic()
        home = self._moved.get(sender_id) or self.shard_url(sender_id)
        start = self._urls.index(home) if home in self._urls else 0
        ring = self._urls[start:] + self._urls[:start]
        for url in ring:
            if url not in tried and self._down_until.get(url, 0.0) <= now:
                if url != self.shard_url(sender_id):
                    self._moved[sender_id] = url
                    self._moved.move_to_end(sender_id)
                    while len(self._moved) > MAX_MOVED:
                        self._moved.popitem(last=False)
                return url
        return None

    def _trip(self, url: str) -> None:
        self._down_until[url] = time.monotonic() + self._cooldown

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
