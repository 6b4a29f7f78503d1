"""The gateway's Rasa client against real loopback servers: a hung shard, a dead shard, a
silent one (findings 2 and 4 of issue 11)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler

import pytest

from devstack.loopback_server import loopback_server
from parley.conversations.bot_client import RasaRestClient
from parley.core.errors import BotUnavailable


class Shard:
    """A stand-in Rasa REST channel that records who spoke to it and answers `reply`."""

    def __init__(self, reply: list[dict[str, str]]) -> None:
        self.reply = reply
        self.senders: list[str] = []

    def handler(self, _url: str) -> type[BaseHTTPRequestHandler]:
        shard = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                assert set(body) == {"sender", "message"}
                shard.senders.append(body["sender"])
                data = json.dumps(shard.reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: object) -> None:
                pass

        return Handler


@contextmanager
def hung_server() -> Iterator[str]:
    """Accepts connections and never answers (a SIGSTOPped process looks like this)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def sender_on(client: RasaRestClient, url: str) -> str:
    return next(f"c-{n}" for n in range(1000) if client.shard_url(f"c-{n}") == url)


def run(make: Callable[[], object]) -> object:
    return asyncio.run(make())  # type: ignore[arg-type]


HELLO = [{"text": "Hello"}]


def test_a_hung_shard_holds_up_no_other_conversation() -> None:
    healthy = Shard(HELLO)
    with hung_server() as hung, loopback_server(healthy.handler) as good:

        async def scenario() -> None:
            client = RasaRestClient([hung, good], timeout=5.0, cooldown=30.0)
            stuck = asyncio.create_task(client.send(sender_on(client, hung), "hi"))
            await asyncio.sleep(0.2)  # the hung request is in flight
            replies = await client.send(sender_on(client, good), "hi")
            assert [r.text for r in replies] == ["Hello"]
            assert not stuck.done(), "the healthy shard answered while the hung one waits"
            with pytest.raises(BotUnavailable):
                await stuck  # the read timeout: an apology, never a silent success
            # Not retried elsewhere in that turn (the hung shard may have taken the message)...
            assert healthy.senders == [sender_on(client, good)]
            # ...but its breaker is open: the conversation's next turn goes to the healthy shard.
            moved = sender_on(client, hung)
            assert [r.text for r in await client.send(moved, "hello?")] == ["Hello"]
            assert healthy.senders[-1] == moved
            await client.close()

        run(scenario)


def test_a_dead_shard_is_failed_over_within_the_turn_and_the_conversation_stays() -> None:
    healthy = Shard(HELLO)
    dead = closed_port_url()
    with loopback_server(healthy.handler) as good:

        async def scenario() -> None:
            client = RasaRestClient([dead, good], timeout=5.0, cooldown=0.0)
            sender = sender_on(client, dead)
            assert [r.text for r in await client.send(sender, "hi")] == ["Hello"]
            # The breaker's cooldown is over at once (0 s), yet the conversation stays on the
            # shard that holds its tracker now.
            await client.send(sender, "again")
            assert healthy.senders == [sender, sender]
            await client.close()

        run(scenario)


def test_every_shard_down_is_unavailable() -> None:
    async def scenario() -> None:
        client = RasaRestClient([closed_port_url(), closed_port_url()], timeout=2.0)
        with pytest.raises(BotUnavailable) as caught:
            await client.send("c-1", "hi")
        assert caught.value.code == "bot_unavailable"
        await client.close()

    run(scenario)


@pytest.mark.parametrize("reply", [[], [{"text": ""}], [{"image": "x.png"}], {"not": "a list"}])
def test_an_empty_answer_is_a_failure_not_a_silent_success(reply: object) -> None:
    silent = Shard(reply)  # type: ignore[arg-type]
    with loopback_server(silent.handler) as url:

        async def scenario() -> None:
            client = RasaRestClient([url])
            with pytest.raises(BotUnavailable) as caught:
                await client.send("c-1", "hi")
            assert caught.value.code == "bot_silent"
            await client.close()

        run(scenario)
