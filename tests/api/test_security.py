"""HTTP hardening through the real app (SPEC §12), one group of tests per security finding:

- finding 5: console login rate limit, per client address and per user name, on record;
- finding 6: security headers on every HTML page (CSP, framing, referrer, nosniff, HSTS);
- finding 9: anonymous chat session creation rate limit, nothing created when refused;
- finding 10: a portal token signs in once; its replay is refused and creates nothing;
- finding 12: request bodies over PARLEY_MAX_BODY_BYTES refused with 413 before they are read;
- finding 14: a session whose greeting fails (503) leaves no row behind.

Each test builds an app of its own with explicit Settings on a migrated database of its own
(`db_url`). The bot is a stand-in (the greeting is all these flows need) except where its real
failure is the point.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.routes.console import BAD_LOGIN, TOO_MANY_LOGINS
from devstack.stack import free_port
from parley.console import users
from parley.conversations.bot_client import UNAVAILABLE, OutMessage
from parley.core.errors import BotUnavailable
from parley.core.settings import Settings
from parley.records.audit import Kind
from parley.tables import (
    Account,
    AuditEvent,
    ConsoleSession,
    Conversation,
    Escalation,
    Message,
    PortalTokenUse,
)
from parley.verification import portal_tokens
from tests.support.accounts import make_account
from tests.support.console import CSRF, PASSWORD
from tests.support.portal import PORTAL_TOKEN_AUDIENCE, PORTAL_TOKEN_SECRET

GREETING = "Hi, I need to verify your identity."
ATTACKER = ("203.0.113.7", 40000)  # TEST-NET-3 addresses: one client each


class GreetingBot:
    """Answers every message with the greeting; records who it was asked for."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send(self, sender_id: str, text: str) -> list[OutMessage]:
        self.sent.append((sender_id, text))
        return [OutMessage(GREETING)]

    async def reset(self, sender_id: str) -> None:
        return None

    async def ready(self) -> bool:
        return True

    async def close(self) -> None:
        return None


def settings_for(db_url: str, **overrides: Any) -> Settings:
    dead = f"http://127.0.0.1:{free_port()}"
    values: dict[str, Any] = {
        "DATABASE_URL": db_url,
        "PARLEY_RASA_URL": dead,
        "PARLEY_ACTION_SERVER_URL": dead,
        "PARLEY_RASA_TIMEOUT": 2,
        "PARLEY_SECRET_KEY": "k" * 40,
        "PARLEY_JOBS_INTERVAL_SECONDS": 0,
        "PARLEY_PORTAL_TOKEN_SECRET": PORTAL_TOKEN_SECRET,
        "PARLEY_PORTAL_TOKEN_AUDIENCE": PORTAL_TOKEN_AUDIENCE,
    }
    values.update(overrides)
    return Settings(**values)


def count(factory: sessionmaker[Session], model: type[Any], *where: Any) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def audit_rows(factory: sessionmaker[Session], kind: Kind) -> list[AuditEvent]:
    with factory() as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.kind == kind.value).order_by(AuditEvent.id)
            )
        )


@pytest.fixture
def bot() -> GreetingBot:
    return GreetingBot()


# --- finding 5: console login rate limit ---------------------------------------------------


@pytest.fixture
def login_app(db_url: str, committed_factory: sessionmaker[Session]) -> Iterator[FastAPI]:
    """An app whose login limit is 5 a minute, with two console users; its lifespan runs for
    the test (other TestClients on the same app share its state, from other addresses)."""
    with committed_factory.begin() as session:
        users.create_user(session, "agent1", PASSWORD, "agent")
        users.create_user(session, "agent2", PASSWORD, "agent")
    app = create_app(settings_for(db_url, PARLEY_RATE_LIMIT_LOGIN="5/minute"))
    with TestClient(app):
        yield app


def try_login(client: TestClient, username: str, password: str) -> httpx.Response:
    page = client.get("/console/login")
    assert page.status_code == 200
    token = CSRF.search(page.text)
    assert token, page.text
    response: httpx.Response = client.post(
        "/console/login",
        data={"username": username, "password": password, "csrf_token": token[1]},
        follow_redirects=False,
    )
    return response


def test_finding5_wrong_passwords_from_one_client_hit_429_and_then_the_right_one_is_refused(
    login_app: FastAPI, committed_factory: sessionmaker[Session]
) -> None:
    client = TestClient(login_app, client=ATTACKER)
    for attempt in range(5):
        wrong = try_login(client, "agent1", f"wrong password {attempt}")
        assert wrong.status_code == 401, attempt
        assert BAD_LOGIN in wrong.text
    # The limit is reached: the right password gets no answer either, and no session.
    right = try_login(client, "agent1", PASSWORD)
    assert right.status_code == 429
    assert TOO_MANY_LOGINS in right.text and BAD_LOGIN not in right.text
    assert "location" not in right.headers
    assert "parley_console" not in client.cookies
    assert try_login(client, "agent1", "yet another guess").status_code == 429
    # Another user's name from the same address is refused too: the address is limited.
    assert try_login(client, "agent2", PASSWORD).status_code == 429

    assert count(committed_factory, ConsoleSession) == 0
    assert audit_rows(committed_factory, Kind.CONSOLE_LOGIN) == []
    failed = audit_rows(committed_factory, Kind.CONSOLE_LOGIN_FAILED)
    refused = audit_rows(committed_factory, Kind.CONSOLE_LOGIN_REFUSED)
    # The refused attempts were not checked (no "failed" for them), but each is on record.
    assert [e.data for e in failed] == [{"username": "agent1", "client": ATTACKER[0]}] * 5
    assert [e.data for e in refused] == [
        {"username": "agent1", "client": ATTACKER[0]},
        {"username": "agent1", "client": ATTACKER[0]},
        {"username": "agent2", "client": ATTACKER[0]},
    ]


def test_finding5_guesses_at_one_name_from_many_addresses_are_limited_per_name(
    login_app: FastAPI, committed_factory: sessionmaker[Session]
) -> None:
    for n in range(5):
        client = TestClient(login_app, client=(f"198.51.100.{n + 1}", 40000))
        assert try_login(client, "Agent1", "wrong password!").status_code == 401
    # A sixth address, never seen before, with the right password: the name is limited.
    fresh = TestClient(login_app, client=("198.51.100.99", 40000))
    refused = try_login(fresh, "agent1", PASSWORD)
    assert refused.status_code == 429
    assert TOO_MANY_LOGINS in refused.text
    assert "parley_console" not in fresh.cookies
    # Other names are not affected: the limit is per name, not global.
    other = TestClient(login_app, client=("198.51.100.100", 40000))
    ok = try_login(other, "agent2", PASSWORD)
    assert ok.status_code == 303 and ok.headers["location"] == "/console/queue"

    failed = audit_rows(committed_factory, Kind.CONSOLE_LOGIN_FAILED)
    assert [(e.data["username"], e.data["client"]) for e in failed] == [
        ("agent1", f"198.51.100.{n + 1}") for n in range(5)
    ]
    refused_rows = audit_rows(committed_factory, Kind.CONSOLE_LOGIN_REFUSED)
    assert [e.data for e in refused_rows] == [{"username": "agent1", "client": "198.51.100.99"}]
    assert [e.actor for e in audit_rows(committed_factory, Kind.CONSOLE_LOGIN)] == ["user:agent2"]


# --- finding 6: security headers on HTML pages ---------------------------------------------

# The policy of api/security.py, written out: a change to it must be a change to this test.
EXPECTED_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
HSTS = "max-age=31536000; includeSubDomains"


def parse_csp(header: str) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            assert words[0] not in directives, f"directive {words[0]} twice in {header!r}"
            directives[words[0]] = words[1:]
    return directives


def html_pages(client: TestClient) -> dict[str, httpx.Response]:
    """Every kind of HTML page the app serves, one of each (a console error page included)."""
    return {
        "console login": client.get("/console/login"),
        "console error": client.post("/console/login", data={"username": "x", "password": "y"}),
        "demo": client.get("/demo"),
        "portal demo": client.get("/portal-demo"),
        "api docs": client.get("/api/docs"),
    }


@pytest.mark.parametrize("public_url", ["http://127.0.0.1:8000", "https://parley.example"])
def test_finding6_every_html_page_has_csp_framing_referrer_and_nosniff_and_hsts_only_on_https(
    db_url: str, public_url: str
) -> None:
    https = public_url.startswith("https://")
    app = create_app(settings_for(db_url, PARLEY_PUBLIC_URL=public_url))
    with TestClient(app) as client:
        pages = html_pages(client)
        json_response = client.get("/api/chat/sessions/nope/messages")
    expected_status = {"console error": 403}
    for name, response in pages.items():
        assert response.status_code == expected_status.get(name, 200), (name, response.text)
        headers = response.headers
        assert headers["content-type"].startswith("text/html"), name
        csp = parse_csp(headers["content-security-policy"])
        connect = csp.pop("connect-src")
        assert connect == ["'self'", f"{'wss' if https else 'ws'}://testserver"], name
        assert csp == EXPECTED_CSP, name
        assert "'unsafe-inline'" not in csp["script-src"]
        assert "'unsafe-eval'" not in csp["script-src"]
        assert headers["x-frame-options"] == "DENY", name
        assert headers["referrer-policy"] == "strict-origin-when-cross-origin", name
        assert headers["x-content-type-options"] == "nosniff", name
        if https:
            assert headers["strict-transport-security"] == HSTS, name
        else:
            assert "strict-transport-security" not in headers, name
        # The policy forbids inline scripts: every page's scripts are files.
        for tag in re.findall(r"<script\b[^>]*>", response.text, flags=re.IGNORECASE):
            assert re.search(r'\ssrc="[^"]+"', tag), (name, tag)
        assert not re.search(r"<script\b[^>]*>\s*[^<\s]", response.text), name
    # Non-HTML answers get nosniff (and HSTS on https) but no page policy.
    assert json_response.status_code == 404
    assert json_response.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in json_response.headers
    assert ("strict-transport-security" in json_response.headers) is https


# --- finding 9: anonymous session creation rate limit --------------------------------------


def test_finding9_session_creation_beyond_the_limit_is_429_and_creates_nothing(
    db_url: str, committed_factory: sessionmaker[Session], bot: GreetingBot
) -> None:
    app = create_app(settings_for(db_url, PARLEY_RATE_LIMIT_SESSIONS="3/minute"))
    with TestClient(app):
        app.state.parley.bot = bot
        client = TestClient(app, client=ATTACKER)
        created = [client.post("/api/chat/sessions", json={}) for _ in range(3)]
        assert [r.status_code for r in created] == [201, 201, 201]
        assert all(r.json()["messages"] == [{"text": GREETING, "buttons": None}] for r in created)
        refused = [client.post("/api/chat/sessions", json={}) for _ in range(2)]
        for response in refused:
            assert response.status_code == 429
            assert response.headers["content-type"] == "application/json"
            assert response.json() == {
                "error": {
                    "code": "rate_limited",
                    "message": "Too many chats started from here. Please wait a few minutes.",
                }
            }
        # The refused ones never reached the bot or the database.
        assert len(bot.sent) == 3
        assert count(committed_factory, Conversation) == 3
        assert count(committed_factory, Escalation) == 0
        assert count(committed_factory, Message) == 3  # one greeting each
        started = audit_rows(committed_factory, Kind.CONVERSATION_STARTED)
        assert len(started) == 3
        # The limit is per client: another address still starts a chat.
        other = TestClient(app, client=("198.51.100.20", 40000))
        assert other.post("/api/chat/sessions", json={}).status_code == 201
        assert count(committed_factory, Conversation) == 4


# --- finding 10: portal tokens are single-use ----------------------------------------------


def test_finding10_a_portal_token_opens_one_verified_session_and_its_replay_is_refused(
    db_url: str, committed_factory: sessionmaker[Session], bot: GreetingBot
) -> None:
    with committed_factory.begin() as session:
        session.add(make_account())
    token = portal_tokens.issue(PORTAL_TOKEN_SECRET, "DEMO-1001", audience=PORTAL_TOKEN_AUDIENCE)
    app = create_app(settings_for(db_url))
    with TestClient(app) as client:
        app.state.parley.bot = bot
        first = client.post("/api/chat/sessions", json={"portal_token": token})
        assert first.status_code == 201, first.text
        session_id = first.json()["session_id"]
        replay = client.post("/api/chat/sessions", json={"portal_token": token})
        assert replay.status_code == 401
        assert replay.json() == {
            "error": {"code": "portal_token_invalid", "message": "The sign-in link is not valid."}
        }
        # From another address too (a leaked page source): still refused.
        elsewhere = TestClient(app, client=("198.51.100.30", 40000))
        again = elsewhere.post("/api/chat/sessions", json={"portal_token": token})
        assert again.status_code == 401
    with committed_factory() as session:
        conversations = list(session.scalars(select(Conversation)))
        account = session.scalars(select(Account)).one()
        uses = list(session.scalars(select(PortalTokenUse)))
    assert [c.id for c in conversations] == [session_id]
    assert conversations[0].verified_at is not None
    assert conversations[0].account_id == account.id
    assert [u.account_id for u in uses] == [account.id]
    assert bot.sent == [(session_id, "/greet")]
    succeeded = audit_rows(committed_factory, Kind.VERIFICATION_SUCCEEDED)
    assert [(e.conversation_id, e.data) for e in succeeded] == [
        (session_id, {"method": "portal_token"})
    ]


# --- finding 12: body size cap -------------------------------------------------------------
T = TypeVar("T")


def in_own_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on an event loop of its own, in a thread: the caller's thread may have a
    loop running already (Playwright's sync API leaves one when the browser tests ran first)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


MAX_BODY = 2048
CHUNK = 512


class CountingBody:
    """A request body as an async generator that counts what the server pulled from it."""

    def __init__(self, chunks: int) -> None:
        self.chunks = chunks
        self.pulled = 0

    @property
    def size(self) -> int:
        return self.chunks * CHUNK

    async def stream(self) -> AsyncIterator[bytes]:
        # A valid JSON document of `size` bytes: {"portal_token": "xxxx...x"}
        head, tail = b'{"portal_token": "', b'"}'
        filler = self.size - len(head) - len(tail)
        data = head + b"x" * filler + tail
        for start in range(0, len(data), CHUNK):
            self.pulled += 1
            yield data[start : start + CHUNK]


def test_finding12_oversized_bodies_are_413_before_being_read_and_the_app_goes_on(
    db_url: str, committed_factory: sessionmaker[Session], bot: GreetingBot
) -> None:
    app = create_app(settings_for(db_url, PARLEY_MAX_BODY_BYTES=MAX_BODY))

    async def scenario() -> dict[str, Any]:
        async with app.router.lifespan_context(app):
            app.state.parley.bot = bot
            transport = httpx.ASGITransport(app=app, client=ATTACKER)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                declared = CountingBody(chunks=64)  # 32 KiB, with Content-Length
                with_length = await c.post(
                    "/api/chat/sessions",
                    content=declared.stream(),
                    headers={
                        "Content-Type": "application/json",
                        "Content-Length": str(declared.size),
                    },
                )
                chunked = CountingBody(chunks=64)  # 32 KiB, no Content-Length
                without_length = await c.post(
                    "/api/chat/sessions",
                    content=chunked.stream(),
                    headers={"Content-Type": "application/json"},
                )
                stored_after_refusals = count(committed_factory, Conversation)
                normal = await c.post("/api/chat/sessions", json={})
                return {
                    "with_length": with_length,
                    "declared": declared,
                    "without_length": without_length,
                    "chunked": chunked,
                    "stored_after_refusals": stored_after_refusals,
                    "normal": normal,
                }

    result = in_own_loop(scenario())
    expected = {
        "error": {
            "code": "request_too_large",
            "message": f"The request body is larger than {MAX_BODY} bytes.",
        }
    }
    with_length: httpx.Response = result["with_length"]
    assert with_length.status_code == 413
    assert with_length.json() == expected
    assert result["declared"].pulled == 0, "a declared oversize is refused unread"

    without_length: httpx.Response = result["without_length"]
    assert "content-length" not in without_length.request.headers
    assert without_length.request.headers["transfer-encoding"] == "chunked"
    assert without_length.status_code == 413
    assert without_length.json() == expected
    # Reading stopped at the first chunk past the limit, far from the whole 32 KiB.
    assert result["chunked"].pulled == MAX_BODY // CHUNK + 1

    assert result["stored_after_refusals"] == 0
    assert count(committed_factory, PortalTokenUse) == 0
    normal: httpx.Response = result["normal"]
    assert normal.status_code == 201, normal.text
    assert bot.sent == [(normal.json()["session_id"], "/greet")]
    assert count(committed_factory, Conversation) == 1


def test_finding12_an_oversized_body_through_the_test_client_is_413_and_the_next_is_served(
    db_url: str, committed_factory: sessionmaker[Session], bot: GreetingBot
) -> None:
    app = create_app(settings_for(db_url, PARLEY_MAX_BODY_BYTES=MAX_BODY))
    with TestClient(app) as client:
        app.state.parley.bot = bot
        big = client.post("/api/chat/sessions", json={"portal_token": "x" * (MAX_BODY + 1)})
        assert big.status_code == 413
        assert big.json()["error"]["code"] == "request_too_large"
        with committed_factory.begin() as session:
            conversation = Conversation(channel="web")
            session.add(conversation)
            session.flush()
            conversation_id = conversation.id
        message = client.post(
            f"/api/chat/sessions/{conversation_id}/messages",
            content=b'{"text": "' + b"y" * (MAX_BODY + 10) + b'"}',
            headers={"Content-Type": "application/json"},
        )
        assert message.status_code == 413
        assert count(committed_factory, Message) == 0
        assert client.post("/api/chat/sessions", json={}).status_code == 201
    assert count(committed_factory, Conversation) == 2


# --- finding 14: a failed session create leaves nothing ------------------------------------


class FailingGreetingBot:
    """The conversation exists (committed) when the bot is asked to greet; then it fails."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory
        self.seen: list[tuple[str, list[str]]] = []
        self.resets: list[str] = []

    async def send(self, sender_id: str, text: str) -> list[OutMessage]:
        with self.factory() as session:
            assert session.get(Conversation, sender_id) is not None
            kinds = session.scalars(
                select(AuditEvent.kind).where(AuditEvent.conversation_id == sender_id)
            ).all()
        self.seen.append((sender_id, sorted(kinds)))
        raise BotUnavailable("bot_unavailable", UNAVAILABLE)

    async def reset(self, sender_id: str) -> None:
        self.resets.append(sender_id)

    async def ready(self) -> bool:
        return False

    async def close(self) -> None:
        return None


@pytest.mark.parametrize("start", ["anonymous", "portal_token"])
def test_finding14_a_failed_greeting_is_503_and_leaves_no_conversation_messages_or_audit(
    db_url: str, committed_factory: sessionmaker[Session], start: str
) -> None:
    with committed_factory.begin() as session:
        session.add(make_account())
    body: dict[str, str] = {}
    if start == "portal_token":
        body["portal_token"] = portal_tokens.issue(
            PORTAL_TOKEN_SECRET, "DEMO-1001", audience=PORTAL_TOKEN_AUDIENCE
        )
    audit_before = count(committed_factory, AuditEvent)
    failing = FailingGreetingBot(committed_factory)
    app = create_app(settings_for(db_url))
    with TestClient(app) as client:
        app.state.parley.bot = failing
        response = client.post("/api/chat/sessions", json=body)
    assert response.status_code == 503
    assert response.json() == {"error": {"code": "bot_unavailable", "message": UNAVAILABLE}}
    # While the bot was asked, the conversation and its audit were there ...
    [(conversation_id, kinds_then)] = failing.seen
    expected_kinds = ["conversation.started"]
    if start == "portal_token":
        expected_kinds.append("verification.succeeded")
    assert kinds_then == expected_kinds
    assert failing.resets == [conversation_id]
    # ... and afterwards nothing of it is left.
    assert count(committed_factory, Conversation) == 0
    assert count(committed_factory, Message) == 0
    assert count(committed_factory, Escalation) == 0
    assert count(committed_factory, AuditEvent, AuditEvent.conversation_id == conversation_id) == 0
    assert count(committed_factory, AuditEvent) == audit_before


def test_finding14_with_the_real_bot_client_down_a_session_create_leaves_nothing(
    db_url: str, committed_factory: sessionmaker[Session]
) -> None:
    """No stand-in: the Rasa URL is a loopback port nobody listens on."""
    audit_before = count(committed_factory, AuditEvent)
    app = create_app(settings_for(db_url))
    with TestClient(app) as client:
        responses = [client.post("/api/chat/sessions", json={}) for _ in range(2)]
    assert [r.status_code for r in responses] == [503, 503]
    assert all(r.json()["error"]["message"] == UNAVAILABLE for r in responses)
    assert count(committed_factory, Conversation) == 0
    assert count(committed_factory, Message) == 0
    assert count(committed_factory, Escalation) == 0
    assert count(committed_factory, AuditEvent) == audit_before


def test_a_portal_link_whose_chat_could_not_start_works_when_tried_again(
    db_url: str, committed_factory: sessionmaker[Session]
) -> None:
    """The token is used once, by the chat it opened: a 503 opened none, so it is given back,
    and once the chat has started the same token is refused."""
    with committed_factory.begin() as session:
        session.add(make_account())
    token = portal_tokens.issue(PORTAL_TOKEN_SECRET, "DEMO-1001", audience=PORTAL_TOKEN_AUDIENCE)
    app = create_app(settings_for(db_url))
    with TestClient(app) as client:
        app.state.parley.bot = FailingGreetingBot(committed_factory)
        assert client.post("/api/chat/sessions", json={"portal_token": token}).status_code == 503
        assert count(committed_factory, PortalTokenUse) == 0
        app.state.parley.bot = GreetingBot()  # the assistant is back
        opened = client.post("/api/chat/sessions", json={"portal_token": token})
        assert opened.status_code == 201, opened.text
        again = client.post("/api/chat/sessions", json={"portal_token": token})
        assert again.status_code == 401
    assert count(committed_factory, Conversation) == 1
    assert count(committed_factory, PortalTokenUse) == 1
