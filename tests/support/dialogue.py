"""Talking to the conversation manager directly (parley/dialogue), one committed turn at a time,
as the action server does. The NLU's reading is given explicitly per message (intent,
confidence, runner-up intents), so each test says exactly what it assumes the NLU heard; the real
model is exercised end to end in tests/e2e."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from parley.core.db import transaction
from parley.core.settings import Settings
from parley.dialogue.heard import Heard
from parley.dialogue.reply import Reply, Said
from parley.dialogue.respond import respond
from parley.tables import Channel, Conversation, utcnow
from tests.support.accounts import SECRET
from tests.support.payment_plans import PUBLIC, settings_for

COMPANY = "Parley Recovery Services"


def dialogue_settings(db_url: str, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "PARLEY_SECRET_KEY": SECRET,
        "PARLEY_COMPANY_NAME": COMPANY,
        "PARLEY_PUBLIC_URL": PUBLIC,
        **extra,
    }
    return settings_for(db_url, **values)


def heard(
    text: str,
    intent: str | None = "inform",
    confidence: float = 0.95,
    ranking: tuple[tuple[str, float], ...] = (),
) -> Heard:
    """What the NLU would pass on; a text starting with "/" is a pressed button (certain)."""
    if text.startswith("/"):
        name = text[1:].split("{", 1)[0]
        entities = json.loads(text[text.index("{") :]) if "{" in text else {}
        return Heard(name, 1.0, text, ((name, 1.0),), entities)
    full = ranking or ((intent or "nlu_fallback", confidence),)
    return Heard(intent, confidence, text, tuple(full))


@dataclass
class Talk:
    """One conversation with the dialogue; `say` returns the texts of the answer."""

    factory: sessionmaker[Session]
    settings: Settings
    conversation_id: str = "c-talk"
    channel: Channel = Channel.WEB
    phone: str | None = None
    replies: list[Reply] = field(default_factory=list)

    def __post_init__(self) -> None:
        with transaction(self.factory) as session:
            if session.get(Conversation, self.conversation_id) is None:
                session.add(
                    Conversation(id=self.conversation_id, channel=self.channel, phone=self.phone)
                )

    def say(
        self,
        text: str,
        intent: str | None = "inform",
        confidence: float = 0.95,
        ranking: tuple[tuple[str, float], ...] = (),
        now: datetime | None = None,
    ) -> list[str]:
        with transaction(self.factory) as session:
            reply = respond(
                session,
                self.settings,
                self.conversation_id,
                heard(text, intent, confidence, ranking),
                now or utcnow(),
            )
        self.replies.append(reply)
        assert reply.messages, f"an empty answer to {text!r}"
        return reply.texts

    def press(self, payload: str) -> list[str]:
        return self.say(payload)

    @property
    def last(self) -> list[Said]:
        return self.replies[-1].messages

    def buttons(self) -> list[str]:
        return [b["title"] for m in self.last for b in m.buttons]

    def payloads(self) -> list[str]:
        return [b["payload"] for m in self.last for b in m.buttons]

    def conversation(self) -> Conversation:
        with self.factory() as session:
            row = session.get(Conversation, self.conversation_id)
            assert row is not None
            return row


def conversation(factory: sessionmaker[Session], conversation_id: str, **values: Any) -> None:
    """A conversation row of its own (web chat unless `channel` says otherwise)."""
    with factory.begin() as session:
        session.add(
            Conversation(id=conversation_id, channel=values.pop("channel", Channel.WEB), **values)
        )


def verify(
    talk: Talk, last_name: str = "Garcia", dob: str = "03/14/1985", zip5: str = "94107"
) -> list[str]:
    """Answer the three identity questions (from a fresh conversation: greets first)."""
    out = talk.say("/greet")
    out += talk.say(last_name)
    out += talk.say(dob)
    out += talk.say(zip5)
    assert any("you're verified" in t for t in out), out
    return out
