"""The gateway's in-process engine (`PARLEY_BOT_ENGINE=in_process`): the same answer as the
Rasa path, without Rasa's server or the action server on the message path.

Why: on a 2-core machine a message's CPU is mostly Rasa's own machinery (its graph, the rule
policy that always picks `action_respond`, tracker (de)serialisation, the action server's round
trip and the schema check of its answer), not the intent model or the dialogue
(docs/performance.md). This engine reads the model archive `rasa train` wrote
(parley.nlu.parse, the same parse Rasa's server makes) and runs `parley.dialogue.answer`'s
turn, as `action_respond` does; the conversation's state is in the database either way. Rasa
still trains the model and runs the story tests; the default engine stays `rasa` (SPEC §2).

It speaks the gateway's `BotClient` protocol: an empty answer or a failed turn (rolled back)
is `BotUnavailable`, as from Rasa, and `reset` has no tracker to empty. The gateway's web chat,
greeting and SMS flows call `answer_and_store` on their worker thread, in their own
transaction: the dialogue's decisions and the gateway's copy of the replies are committed
together (on the Rasa path they are two transactions: the action server's, then the gateway's),
and for a web-chat turn or a greeting with the debtor's message or the new conversation too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy.orm import Session, sessionmaker

from parley.conversations.bot_client import UNAVAILABLE, OutMessage
from parley.conversations.state import get_or_create
from parley.core.db import transaction
from parley.core.errors import BotUnavailable
from parley.core.settings import Settings
from parley.dialogue.answer import answer_in
from parley.dialogue.heard import Heard
from parley.dialogue.reply import Reply
from parley.nlu.parse import Understanding

log = logging.getLogger(__name__)
T = TypeVar("T")


class InProcessBot:
    def __init__(
        self, understanding: Understanding, sessions: sessionmaker[Session], settings: Settings
    ) -> None:
        self._understanding = understanding
        self._sessions = sessions
        self._settings = settings

    @classmethod
    def from_settings(cls, sessions: sessionmaker[Session], settings: Settings) -> InProcessBot:
        """Reads the model at start-up: a missing or foreign archive stops the gateway there
        (parley.nlu.parse.ModelUnavailable names the file and the reason)."""
        return cls(Understanding.from_archive(Path(settings.nlu_model_path)), sessions, settings)

    def understand(self, text: str) -> Heard:
        """The model's reading of what the bot is sent: CPU only, no database, so a caller does
        it before its transaction takes SQLite's one write lock (which every turn waits for
        in line: docs/performance.md). `BotUnavailable` when it fails, as a failed turn."""
        try:
            return Heard.from_parse(self._understanding.parse(text))
        except Exception as exc:
            log.exception("in-process understanding failed")
            raise BotUnavailable("bot_unavailable", UNAVAILABLE) from exc

    def answer_and_store(
        self,
        session: Session,
        sender_id: str,
        heard: Heard,
        store: Callable[[Session, list[OutMessage]], T],
        *,
        said: int | None = None,
    ) -> T:
        """Answer what was `heard` (`understand`) and `store(session, replies)` in the caller's
        transaction, on the caller's thread (a gateway flow already on a worker thread: one
        hand-off and one commit per turn). When the answer fails or is empty: `BotUnavailable`,
        and the caller's transaction holds part of the turn, so it must be rolled back
        (`transaction` does that as the exception leaves it); a savepoint instead would cost
        every turn its SAVEPOINT and RELEASE for the rare one that fails. `said` is the id of
        the stored debtor message being answered, when the caller knows it (its NLU label is
        then written by id instead of looked up)."""
        try:
            # Read once for the turn: the dialogue and `store` find it in the session's
            # identity map (which holds objects weakly: this reference keeps it there).
            conversation = get_or_create(session, sender_id)
            replies = _spoken(answer_in(session, self._settings, sender_id, heard, said=said))
            result = store(session, replies)
            del conversation
            return result
        except BotUnavailable:
            raise
        except Exception as exc:
            log.exception("in-process turn failed")
            raise BotUnavailable("bot_unavailable", UNAVAILABLE) from exc

    async def send(self, sender_id: str, text: str) -> list[OutMessage]:
        """The `BotClient` turn: the model and the database work on a worker thread, as the
        action server's are, so the event loop keeps serving other conversations meanwhile."""
        return await asyncio.to_thread(self._answered, sender_id, text)

    def _answered(self, sender_id: str, text: str) -> list[OutMessage]:
        heard = self.understand(text)
        with transaction(self._sessions) as session:
            return self.answer_and_store(session, sender_id, heard, _replies_only)

    async def reset(self, sender_id: str) -> None:
        """Nothing to reset: the next message reads the conversation's state from the database."""

    async def ready(self) -> bool:
        return True

    async def close(self) -> None:
        """Nothing to release (the sessions belong to the app)."""


def _replies_only(_session: Session, replies: list[OutMessage]) -> list[OutMessage]:
    return replies


def _spoken(reply: Reply) -> list[OutMessage]:
    """The dialogue's messages as the gateway's; none is `bot_silent` (every turn says
    something), raised inside the transaction so an empty turn keeps nothing."""
    replies = [
        OutMessage(m.text, [{"title": b["title"], "payload": b["payload"]} for b in m.buttons])
        for m in reply.messages
        if m.text
    ]
    if not replies:
        raise BotUnavailable("bot_silent", UNAVAILABLE)
    return replies
