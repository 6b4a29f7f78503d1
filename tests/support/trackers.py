"""Running real actions against JSON tracker fixtures (tests/actions/fixtures)."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session, sessionmaker

from parley.models import Channel, Conversation

FIXTURES = Path(__file__).resolve().parents[1] / "actions" / "fixtures"
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
            Conversation(id=conversation_id, channel=values.pop("channel", Channel.WEB), **values)
        )
