"""The gateway's in-process engine (`PARLEY_BOT_ENGINE=in_process`): the same answer as the
Rasa path, without Rasa's server or the action server on the message path.

Why: on a 2-core machine a message's CPU is mostly Rasa's own machinery (its graph, the rule
policy that always picks `action_respond`, tracker (de)serialisation, the action server's round
trip and the schema check of its answer), not the intent model or the dialogue
(docs/performance.md). This engine reads the model archive `rasa train` wrote
(parley.nlu.parse, the same parse Rasa's server makes) and calls `parley.dialogue.answer`, which
`action_respond` calls too; the conversation's state is in the database either way. Rasa still
trains the model and runs the story tests; the default engine stays `rasa` (SPEC §2).

It speaks the gateway's `BotClient` protocol: an empty answer or a failed turn (rolled back)
is `BotUnavailable`, as from Rasa, and `reset` has no tracker to empty.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from parley.conversations.bot_client import UNAVAILABLE, OutMessage
from parley.core.errors import BotUnavailable
from parley.core.settings import Settings
from parley.dialogue.answer import answer
from parley.dialogue.heard import Heard
from parley.nlu.parse import Understanding

log = logging.getLogger(__name__)


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

    def _turn(self, sender_id: str, text: str) -> list[OutMessage]:
        heard = Heard.from_parse(self._understanding.parse(text))
        reply = answer(self._sessions, self._settings, sender_id, heard)
        return [
            OutMessage(m.text, [{"title": b["title"], "payload": b["payload"]} for b in m.buttons])
            for m in reply.messages
            if m.text
        ]

    async def send(self, sender_id: str, text: str) -> list[OutMessage]:
        # The model and the database work run on a worker thread, as the action server's do:
        # the event loop keeps serving other conversations meanwhile.
        try:
            replies = await asyncio.to_thread(self._turn, sender_id, text)
        except Exception as exc:  # the turn rolled back; the gateway apologises, as for Rasa
            log.exception("in-process turn failed for %s", sender_id)
            raise BotUnavailable("bot_unavailable", UNAVAILABLE) from exc
        if not replies:
            raise BotUnavailable("bot_silent", UNAVAILABLE)
        return replies

    async def reset(self, sender_id: str) -> None:
        """Nothing to reset: the next message reads the conversation's state from the database."""

    async def ready(self) -> bool:
        return True

    async def close(self) -> None:
        """Nothing to release (the sessions belong to the app)."""
