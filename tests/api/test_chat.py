"""The chat route's per-client limit on failed identity checks (`PARLEY_RATE_LIMIT_VERIFICATION`):
the failures a turn added are counted in the turn's own transactions (no extra queries), and a
client past the limit is refused before anything is stored or sent to the bot."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from parley.conversations.bot_client import OutMessage
from parley.tables import Message, VerificationAttempt
from tests.api.test_security import settings_for

CLIENT = ("198.51.100.23", 40000)
OTHER = ("198.51.100.24", 40000)


class CheckingBot:
    """Stands in for Rasa + the action server: a message saying "wrong" is a failed identity
    check (recorded as the action server records one), anything else passes unchecked."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory
        self.sent: list[str] = []

    async def send(self, sender_id: str, text: str) -> list[OutMessage]:
        self.sent.append(text)
        if "wrong" in text:
            with self.factory() as session, session.begin():
                session.add(VerificationAttempt(conversation_id=sender_id, success=False))
            return [OutMessage("Those details don't match.")]
        return [OutMessage("Hello.")]

    async def reset(self, sender_id: str) -> None:
        return None

    async def ready(self) -> bool:
        return True

    async def close(self) -> None:
        return None


def test_failed_checks_count_per_client_and_past_the_limit_nothing_is_stored(
    db_url: str, committed_factory: sessionmaker[Session]
) -> None:
    app = create_app(settings_for(db_url, PARLEY_RATE_LIMIT_VERIFICATION="2/minute"))
    bot = CheckingBot(committed_factory)
    with TestClient(app):
        app.state.parley.bot = bot
        client = TestClient(app, client=CLIENT)
        session_id = client.post("/api/chat/sessions", json={}).json()["session_id"]

        def say(text: str, who: TestClient = client) -> int:
            return who.post(
                f"/api/chat/sessions/{session_id}/messages", json={"text": text}
            ).status_code

        # Turns without a failed check do not count, however many.
        assert [say("hello") for _ in range(4)] == [200] * 4
        assert say("wrong details") == 200
        assert say("wrong again") == 200
        stored = _debtor_messages(committed_factory, session_id)
        # Two failures: this client is refused now, before storing or asking the bot.
        assert say("hello") == 429
        assert _debtor_messages(committed_factory, session_id) == stored
        assert bot.sent[-1] == "wrong again"
        # The limit is per client: another one is still heard.
        assert say("hello", TestClient(app, client=OTHER)) == 200


def _debtor_messages(factory: sessionmaker[Session], conversation_id: str) -> int:
    with factory() as session:
        return int(
            session.scalar(
                select(func.count(Message.id)).where(
                    Message.conversation_id == conversation_id, Message.direction == "inbound"
                )
            )
            or 0
        )
