"""The widget's server side over HTTP (no Rasa: a scripted bot): the script and its caching,
the origin allowlist on every widget endpoint and the WebSocket handshake, portal sign-in
(valid → verified conversation, refused → 401 and nothing created), live agent replies."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.websockets import WebSocketDisconnect

from api.app import create_app
from devstack.stack import free_port
from parley.conversations.bot_client import OutMessage
from parley.core.settings import Settings
from parley.tables import Account, AuditEvent, Conversation, Message
from parley.verification import portal_tokens

ALLOWED = "https://portal.example"
FOREIGN = "https://evil.example"
SECRET = "widget-test-portal-secret-0123456789abcdef"  # noqa: S105 - test only
AUD = "parley-widget"


class GreetingBot:
    """Answers the greeting trigger as the rules do: verified → help, else identity."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory
        self.received: list[tuple[str, str]] = []

    async def send(self, sender_id: str, text: str) -> list[OutMessage]:
        self.received.append((sender_id, text))
        with self.factory() as session:
            conversation = session.get(Conversation, sender_id)
            verified = conversation is not None and conversation.verified_at is not None
        if verified:
            return [
                OutMessage(
                    "How can I help you today?",
                    [{"title": "My balance", "payload": "/ask_balance"}],
                )
            ]
        return [OutMessage("Hi, I need to verify your identity.")]

    async def reset(self, sender_id: str) -> None:
        self.received.append((sender_id, "<reset>"))

    async def ready(self) -> bool:
        return True

    async def close(self) -> None:
        return None


@pytest.fixture
def bot(committed_factory: sessionmaker[Session]) -> GreetingBot:
    return GreetingBot(committed_factory)


@pytest.fixture
def client(db_url: str, bot: GreetingBot) -> Iterator[TestClient]:
    dead = f"http://127.0.0.1:{free_port()}"
    settings = Settings(
        DATABASE_URL=db_url,
        PARLEY_RASA_URL=dead,
        PARLEY_ACTION_SERVER_URL=dead,
        PARLEY_WIDGET_ORIGINS=ALLOWED,
        PARLEY_PORTAL_TOKEN_SECRET=SECRET,
        PARLEY_PORTAL_TOKEN_AUDIENCE=AUD,
        PARLEY_JOBS_INTERVAL_SECONDS=0,
    )
    app = create_app(settings)
    with TestClient(app) as test_client:
        app.state.parley.bot = bot  # the bot is the one part stood in for here
        yield test_client


@pytest.fixture
def account_ref(committed_factory: sessionmaker[Session]) -> str:
    with committed_factory.begin() as session:
        session.add(
            Account(
                account_ref="PORTAL-1",
                first_name="Pat",
                last_name="Portal",
                last_name_key="portal",
                dob_hash="x",
                zip_hash="y",
                creditor="Acme",
                original_creditor="Acme Card",
                account_last4="1234",
                description="Card",
                principal_cents=10000,
                interest_cents=0,
                fees_cents=0,
                payments_credits_cents=0,
                itemization_date=date(2025, 1, 1),
            )
        )
    return "PORTAL-1"


def conversation_count(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(Conversation)) or 0)


def test_widget_js_is_served_with_caching_headers(client: TestClient) -> None:
    response = client.get("/widget.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert "max-age=" in response.headers["cache-control"]
    assert response.headers["cross-origin-resource-policy"] == "cross-origin"
    assert "attachShadow" in response.text
    etag = response.headers["etag"]
    again = client.get("/widget.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert client.get("/widget.js", headers={"Origin": FOREIGN}).status_code == 403


def test_every_widget_endpoint_refuses_a_foreign_origin(
    client: TestClient, committed_factory: sessionmaker[Session]
) -> None:
    created = client.post("/api/chat/sessions", json={}, headers={"Origin": ALLOWED})
    assert created.status_code == 201
    assert created.headers["access-control-allow-origin"] == ALLOWED
    session_id = created.json()["session_id"]
    foreign = {"Origin": FOREIGN}
    before = conversation_count(committed_factory)
    assert client.post("/api/chat/sessions", json={}, headers=foreign).status_code == 403
    assert conversation_count(committed_factory) == before
    base = f"/api/chat/sessions/{session_id}"
    assert client.get(f"{base}/messages", headers=foreign).status_code == 403
    assert client.post(f"{base}/messages", json={"text": "hi"}, headers=foreign).status_code == 403
    assert client.get("/portal-demo", headers=foreign).status_code == 403
    # The browser's CORS preflight from a foreign page is not approved either.
    preflight = client.options(
        "/api/chat/sessions",
        headers={"Origin": FOREIGN, "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_websocket_refuses_foreign_origins_and_unknown_sessions(client: TestClient) -> None:
    session_id = client.post("/api/chat/sessions", json={}).json()["session_id"]
    cases = [
        (f"/api/chat/sessions/{session_id}/ws", FOREIGN, 4403),
        ("/api/chat/sessions/nope/ws", ALLOWED, 4404),
    ]
    for url, origin, code in cases:
        with (
            client.websocket_connect(url, headers={"Origin": origin}) as ws,
            pytest.raises(WebSocketDisconnect) as closed,
        ):
            ws.receive_json()
        assert closed.value.code == code


def test_agent_reply_arrives_over_the_websocket(
    client: TestClient, committed_factory: sessionmaker[Session]
) -> None:
    session_id = client.post("/api/chat/sessions", json={}).json()["session_id"]
    transcript = client.get(f"/api/chat/sessions/{session_id}/messages").json()
    last_id = transcript["messages"][-1]["id"]
    assert transcript["messages"][-1]["sender"] == "bot"
    url = f"/api/chat/sessions/{session_id}/ws?after={last_id}"
    with client.websocket_connect(url, headers={"Origin": ALLOWED}) as ws:
        assert ws.receive_json() == {"type": "status", "status": "bot"}
        with committed_factory.begin() as session:
            conversation = session.get(Conversation, session_id)
            assert conversation is not None
            conversation.status = "human"
            session.add(
                Message(
                    conversation_id=session_id,
                    direction="outbound",
                    sender="agent",
                    text="Hi, this is Sam.",
                )
            )
        frame = ws.receive_json()
        assert frame["type"] == "message" and frame["sender"] == "agent"
        assert frame["text"] == "Hi, this is Sam."
        assert ws.receive_json() == {"type": "status", "status": "human"}
    # A reconnect after an id it already has gets nothing twice; from before, it catches up.
    with client.websocket_connect(
        f"/api/chat/sessions/{session_id}/ws?after={last_id}", headers={"Origin": ALLOWED}
    ) as ws:
        assert ws.receive_json() == {"type": "status", "status": "human"}
        assert ws.receive_json()["text"] == "Hi, this is Sam."


def test_valid_portal_token_starts_verified(
    client: TestClient, committed_factory: sessionmaker[Session], account_ref: str, bot: GreetingBot
) -> None:
    token = portal_tokens.issue(SECRET, account_ref, audience=AUD)
    response = client.post("/api/chat/sessions", json={"portal_token": token})
    assert response.status_code == 201
    body = response.json()
    assert body["messages"][0]["text"] == "How can I help you today?"
    assert bot.received == [(body["session_id"], "/greet")]
    with committed_factory() as session:
        conversation = session.get(Conversation, body["session_id"])
        assert conversation is not None and conversation.verified_at is not None
        assert conversation.account is not None and conversation.account.account_ref == account_ref
        kinds = session.scalars(
            select(AuditEvent.kind).where(AuditEvent.conversation_id == conversation.id)
        ).all()
        method = session.scalars(
            select(AuditEvent.data).where(
                AuditEvent.conversation_id == conversation.id,
                AuditEvent.kind == "verification.succeeded",
            )
        ).one()
    assert "verification.succeeded" in kinds and method == {"method": "portal_token"}


@pytest.mark.parametrize("case", ["expired", "forged", "wrong_audience", "unknown_account"])
def test_refused_portal_token_is_401_and_creates_nothing(
    client: TestClient,
    committed_factory: sessionmaker[Session],
    account_ref: str,
    bot: GreetingBot,
    case: str,
) -> None:
    old = datetime.now(timezone.utc) - timedelta(hours=1)
    token = {
        "expired": portal_tokens.issue(SECRET, account_ref, audience=AUD, now=old),
        "forged": portal_tokens.issue("x" * 40, account_ref, audience=AUD),
        "wrong_audience": portal_tokens.issue(SECRET, account_ref, audience="other"),
        "unknown_account": portal_tokens.issue(SECRET, "NO-SUCH", audience=AUD),
    }[case]
    before = conversation_count(committed_factory)
    response = client.post("/api/chat/sessions", json={"portal_token": token})
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == (
        "portal_token_expired" if case == "expired" else "portal_token_invalid"
    )
    assert "sign-in" in error["message"]
    assert conversation_count(committed_factory) == before
    assert bot.received == []


def test_demo_portal_page_embeds_the_widget_with_a_token(client: TestClient) -> None:
    page = client.get("/portal-demo")
    assert page.status_code == 200
    assert page.text.count("<script") == 1
    assert 'src="http://testserver/widget.js"' in page.text
    assert "data-portal-token=" in page.text
    assert page.headers["cache-control"] == "no-store"
