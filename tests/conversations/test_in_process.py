"""The gateway's in-process engine (PARLEY_BOT_ENGINE=in_process) on a real database: the
trained model's reading, the dialogue's answer and its records in one turn; a failed turn is
`BotUnavailable` with nothing kept, as from Rasa; a missing model stops the gateway at start."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from devstack.stack import MODEL, Stack, free_port
from parley.conversations import turns as turns_module
from parley.conversations.in_process import InProcessBot
from parley.conversations.ordering import TurnLocks, make_turn_locks
from parley.conversations.turns import APOLOGY, handle_inbound, start_conversation
from parley.core.db import make_engine, make_session_factory
from parley.core.errors import BotUnavailable
from parley.core.settings import Settings
from parley.dialogue import answer as answer_module
from parley.nlu.parse import ModelUnavailable, Understanding
from parley.tables import AuditEvent, Channel, Conversation, Message, Sender
from tests.support.accounts import make_account
from tests.support.dialogue import dialogue_settings


@pytest.fixture(scope="module")
def understanding() -> Understanding:
    return Understanding.from_archive(MODEL)


def _web_bot(
    factory: sessionmaker[Session], db_url: str, understanding: Understanding, account: bool = True
) -> tuple[Settings, InProcessBot, TurnLocks]:
    """The gateway's parts for a flow test: the settings, the engine, in-memory turn locks (and
    the demo debtor's account)."""
    if account:
        with factory.begin() as session:
            session.add(make_account())
    settings = dialogue_settings(db_url)
    return settings, InProcessBot(understanding, factory, settings), make_turn_locks(None, 60, 20)


def test_a_turn_reads_answers_and_records(
    committed_factory: sessionmaker[Session], db_url: str, understanding: Understanding
) -> None:
    with committed_factory.begin() as session:
        session.add(make_account())
    bot = InProcessBot(understanding, committed_factory, dialogue_settings(db_url))
    replies = asyncio.run(bot.send("c-in-process", "hi there"))
    assert replies and all(r.text for r in replies)
    assert "last name" in " ".join(r.text for r in replies).lower()
    with committed_factory() as session:
        conversation = session.scalars(select(Conversation)).one()
        assert conversation.id == "c-in-process"
    # the same debtor, the next turn: the state is read back from the database
    again = asyncio.run(bot.send("c-in-process", "Garcia"))
    assert "date of birth" in " ".join(r.text for r in again).lower()


def test_a_failed_turn_is_unavailable_and_keeps_nothing(
    empty_db_url: str, understanding: Understanding
) -> None:
    engine = make_engine(empty_db_url)  # no tables: the dialogue's first query fails
    try:
        bot = InProcessBot(
            understanding, make_session_factory(engine), dialogue_settings(empty_db_url)
        )
        with pytest.raises(BotUnavailable) as failed:
            asyncio.run(bot.send("c-broken", "hello"))
        assert failed.value.code == "bot_unavailable"
    finally:
        engine.dispose()


def test_a_web_chat_turn_is_answered_and_stored_in_one_transaction(
    committed_factory: sessionmaker[Session],
    db_url: str,
    understanding: Understanding,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The gateway's web-chat turn with the in-process engine: the reply is stored with the
    dialogue's decisions; when the dialogue fails (the fault injected in `respond`) nothing of
    the turn is kept but the debtor's message, the debtor gets the apology, and the next turn
    answers and resets the failure count."""
    settings, bot, locks = _web_bot(committed_factory, db_url, understanding)

    async def play() -> tuple[list[str], list[str], list[str]]:
        started = await start_conversation(committed_factory, bot, locks, channel=Channel.WEB)
        cid = started.conversation_id

        def broken(*_args: object, **_kwargs: object) -> None:
            raise RuntimeError("the dialogue step fails")

        with monkeypatch.context() as patch:
            patch.setattr(answer_module, "respond", broken)
            failed = await handle_inbound(committed_factory, bot, locks, settings, cid, "Garcia")
        recovered = await handle_inbound(committed_factory, bot, locks, settings, cid, "Garcia")
        return (
            [m.text for m in started.messages],
            [m.text for m in failed.messages],
            [m.text for m in recovered.messages],
        )

    greeting, failed, recovered = asyncio.run(play())
    assert greeting and failed == [APOLOGY]
    assert "date of birth" in " ".join(recovered).lower()
    with committed_factory() as session:
        conversation = session.scalars(select(Conversation)).one()
        assert (conversation.bot_failures, conversation.bot_repair) == (0, False)
        said = [
            (m.sender, m.text)
            for m in session.scalars(select(Message).order_by(Message.id))
            if m.sender != Sender.BOT
        ]
        # both "Garcia"s are on record; the failed turn left only its apology
        assert said == [
            (Sender.DEBTOR, "Garcia"),
            (Sender.SYSTEM, APOLOGY),
            (Sender.DEBTOR, "Garcia"),
        ]
        bot_lines = [m.text for m in session.scalars(select(Message)) if m.sender == Sender.BOT]
        assert bot_lines == greeting + recovered


def test_when_storing_the_replies_fails_the_dialogue_keeps_nothing_either(
    committed_factory: sessionmaker[Session],
    db_url: str,
    understanding: Understanding,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One transaction, really: the fault is injected in the gateway's store of the replies,
    after the dialogue has decided; the dialogue's state goes with it (on the Rasa path the
    action server would already have committed it)."""
    settings, bot, locks = _web_bot(committed_factory, db_url, understanding)

    async def play() -> tuple[str, list[str]]:
        started = await start_conversation(committed_factory, bot, locks, channel=Channel.WEB)
        cid = started.conversation_id

        real_store = turns_module._store
        calls: list[int] = []

        def broken(*args: object, **kwargs: object) -> None:
            calls.append(1)
            if len(calls) == 1:  # the bot's replies; the apology after it is stored
                raise RuntimeError("storing the replies fails")
            real_store(*args, **kwargs)  # type: ignore[arg-type]

        with committed_factory() as session:
            before = session.get(Conversation, cid)
            assert before is not None
            state = json.dumps(before.dialogue, sort_keys=True)
        with monkeypatch.context() as patch:
            patch.setattr(turns_module, "_store", broken)
            failed = await handle_inbound(committed_factory, bot, locks, settings, cid, "Garcia")
        return state, [m.text for m in failed.messages]

    state, failed = asyncio.run(play())
    assert failed == [APOLOGY]
    with committed_factory() as session:
        conversation = session.scalars(select(Conversation)).one()
        assert json.dumps(conversation.dialogue, sort_keys=True) == state
        assert conversation.bot_failures == 1


def test_a_greeting_and_a_web_chat_turn_commit_once_each(
    committed_factory: sessionmaker[Session],
    engine: Engine,
    db_url: str,
    understanding: Understanding,
) -> None:
    """The in-process engine's greeting (the conversation, its greeting) and web-chat turn (the
    debtor's words, the dialogue's decisions, the replies) are one transaction each: one
    COMMIT. Counted at the engine, so a second unit of work
    anywhere in the flow fails this."""
    settings, bot, locks = _web_bot(committed_factory, db_url, understanding)
    commits: list[str] = []
    event.listen(engine, "commit", lambda _conn: commits.append("commit"))

    async def play() -> tuple[int, int, list[str]]:
        started = await start_conversation(committed_factory, bot, locks, channel=Channel.WEB)
        after_greeting = len(commits)
        turn = await handle_inbound(
            committed_factory, bot, locks, settings, started.conversation_id, "Garcia"
        )
        return after_greeting, len(commits) - after_greeting, [m.text for m in turn.messages]

    greeting_commits, turn_commits, replies = asyncio.run(play())
    assert (greeting_commits, turn_commits) == (1, 1)
    assert "date of birth" in " ".join(replies).lower()
    with committed_factory() as session:
        senders = [m.sender for m in session.scalars(select(Message).order_by(Message.id))]
        assert senders[-2:] == [Sender.DEBTOR, Sender.BOT] and senders.count(Sender.DEBTOR) == 1


def test_a_greeting_that_fails_leaves_nothing_behind(
    committed_factory: sessionmaker[Session],
    db_url: str,
    understanding: Understanding,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The greeting fails inside its one transaction: no conversation, message or audit row
    is left (the caller answers 503), and a later start works."""
    settings, bot, locks = _web_bot(committed_factory, db_url, understanding, account=False)

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the dialogue step fails")

    with monkeypatch.context() as patch:
        patch.setattr(answer_module, "respond", broken)
        with pytest.raises(BotUnavailable):
            asyncio.run(start_conversation(committed_factory, bot, locks, channel=Channel.WEB))
    with committed_factory() as session:
        for table in (Conversation, Message, AuditEvent):
            assert session.scalar(select(func.count()).select_from(table)) == 0, table
    started = asyncio.run(start_conversation(committed_factory, bot, locks, channel=Channel.WEB))
    assert started.messages


def test_a_gateway_without_its_model_does_not_start(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    settings = Settings(
        PARLEY_SECRET_KEY="k" * 40,
        DATABASE_URL=f"sqlite:///{tmp_path / 'parley.db'}",
        PARLEY_RASA_URL=dead,
        PARLEY_BOT_ENGINE="in_process",
        PARLEY_NLU_MODEL=str(tmp_path / "missing.tar.gz"),
    )
    with pytest.raises(ModelUnavailable, match="missing.tar.gz"), TestClient(create_app(settings)):
        pass


@pytest.mark.stack
def test_the_in_process_stack_is_ready_without_rasa(in_process_stack: Stack) -> None:
    assert set(in_process_stack.processes) == {"api"}
    health = httpx.get(f"{in_process_stack.api_url}/healthz", timeout=5)
    assert health.status_code == 200, health.text
    assert health.json()["components"] == {
        "api": "ok",
        "database": "ok",
        "rasa": "not_used",
        "actions": "not_used",
    }
