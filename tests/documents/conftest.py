"""The demo debtor DEMO-1001 on a committed database, and a conversation with the dialogue
(the same fixtures as tests/dialogue, for the settlement wording's tests)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session, sessionmaker

from parley.core.settings import Settings
from tests.support.accounts import make_account
from tests.support.dialogue import Talk, dialogue_settings


@pytest.fixture
def settings(db_url: str) -> Settings:
    return dialogue_settings(db_url)


@pytest.fixture
def db(committed_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    with committed_factory.begin() as session:
        session.add(make_account())
    return committed_factory


@pytest.fixture
def talk(db: sessionmaker[Session], settings: Settings) -> Callable[..., Talk]:
    def _talk(conversation_id: str = "c-talk", **kwargs: object) -> Talk:
        return Talk(db, settings, conversation_id, **kwargs)  # type: ignore[arg-type]

    return _talk
