"""Action tests: real actions against a migrated database of their own (the action server's
engine reads DATABASE_URL, as in production) and real rasa_sdk trackers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from actions.common import reset_runtime
from parley.core.settings import get_settings
from tests.support.accounts import SECRET, make_account
from tests.support.dialogue import COMPANY


@pytest.fixture
def db(
    db_url: str, committed_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> Iterator[sessionmaker[Session]]:
    """The demo debtor in the test's own database, and settings pointing the actions at it."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("PARLEY_SECRET_KEY", SECRET)
    monkeypatch.setenv("PARLEY_COMPANY_NAME", COMPANY)
    monkeypatch.delenv("PARLEY_VERIFICATION_FACTORS", raising=False)
    get_settings.cache_clear()
    reset_runtime()
    with committed_factory.begin() as session:
        session.add(make_account())
    yield committed_factory
    reset_runtime()
    get_settings.cache_clear()
