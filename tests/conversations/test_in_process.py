"""The gateway's in-process engine (PARLEY_BOT_ENGINE=in_process) on a real database: the
trained model's reading, the dialogue's answer and its records in one turn; a failed turn is
`BotUnavailable` with nothing kept, as from Rasa; a missing model stops the gateway at start."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from devstack.stack import MODEL, Stack, free_port
from parley.conversations.in_process import InProcessBot
from parley.core.db import make_engine, make_session_factory
from parley.core.errors import BotUnavailable
from parley.core.settings import Settings
from parley.nlu.parse import ModelUnavailable, Understanding
from parley.tables import Conversation
from tests.support.accounts import make_account
from tests.support.dialogue import dialogue_settings


@pytest.fixture(scope="module")
def understanding() -> Understanding:
    return Understanding.from_archive(MODEL)


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
