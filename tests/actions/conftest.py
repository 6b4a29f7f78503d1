"""Action tests: real actions against a temporary SQLite database and JSON tracker fixtures."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session, sessionmaker

from actions.common import reset_engines
from parley.db import make_engine, make_session_factory
from parley.models import Base, Conversation
from parley.settings import get_settings
from tests.support.accounts import SECRET, make_account

FIXTURES = Path(__file__).parent / "fixtures"
COMPANY = "Parley Recovery Services"

DOMAIN: dict[str, Any] = {
    "slots": {
        name: {"type": "text", "mappings": [{"type": "custom"}]}
        for name in (
            "company_name",
            "verified",
            "verification_locked",
            "last_name",
            "date_of_birth",
            "zip_or_ssn4",
            "account_id",
        )
    },
    "forms": {
        "verification_form": {"required_slots": ["last_name", "date_of_birth", "zip_or_ssn4"]}
    },
    "responses": {"utter_how_can_i_help": [{"text": "How can I help you today?"}]},
}

# Nothing sent before verification may hint at a debt (SPEC §4).
BANNED = (
    "debt",
    "owe",
    "balance",
    "creditor",
    "collect",
    "payment",
    "pay",
    "amount",
    "$",
    "northwind",
    "loan",
    "bill",
)


def assert_no_debt_wording(texts: list[str]) -> None:
    for text in texts:
        lowered = text.lower()
        for word in BANNED:
            assert word not in lowered, (word, text)


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[sessionmaker[Session]]:
    """A fresh SQLite database with the demo debtor, and settings pointing the actions at it."""
    url = f"sqlite:///{tmp_path / 'parley.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("PARLEY_SECRET_KEY", SECRET)
    monkeypatch.setenv("PARLEY_COMPANY_NAME", COMPANY)
    monkeypatch.delenv("PARLEY_VERIFICATION_FACTORS", raising=False)
    get_settings.cache_clear()
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    factory = make_session_factory(engine)
    with factory.begin() as session:
        session.add(make_account())
    yield factory
    reset_engines()
    engine.dispose()
    get_settings.cache_clear()


def load_tracker(name: str, **changes: Any) -> Tracker:
    """A tracker from a JSON fixture; `slots` and `latest_message` are merged, others replaced."""
    state = json.loads((FIXTURES / f"{name}.json").read_text())
    for key, value in changes.items():
        if key in ("slots", "latest_message"):
            state[key] = {**state.get(key, {}), **copy.deepcopy(value)}
        else:
            state[key] = value
    return Tracker.from_dict(state)


def run_action(
    action: Action, tracker: Tracker
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run an action; returns (events, dispatched messages)."""
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, DOMAIN))
    return list(events), dispatcher.messages


def texts_of(messages: list[dict[str, Any]]) -> list[str]:
    return [m["text"] for m in messages if m.get("text")]


def slot_events(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def conversation(factory: sessionmaker[Session], conversation_id: str, **values: Any) -> None:
    with factory.begin() as session:
        session.add(
            Conversation(id=conversation_id, channel=values.pop("channel", "web"), **values)
        )
