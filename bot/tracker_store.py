"""Rasa's SQL tracker store, with identity facts masked before anything is written (SPEC §4).

Rasa persists every event of a conversation: what the debtor typed (text, parsed entities) and
every slot value. Until a conversation is verified, what the debtor types is mostly identity
facts (a date of birth, a ZIP, an SSN last-4), so those messages are stored with their digits
masked; the slots that hold facts only ever carry sealed values (keyed hashes, set by the
validation action), and anything else found in them is masked too. The events kept in memory
for the turn being handled are untouched, so the turn itself reads what was typed; the next turn
reads the masked copy, which is all the policies need (intents and entity types, never values).

This module runs inside the Rasa server (its own environment, `rasa==3.6.21`); it imports no
Parley code. Endpoints: `type: bot.tracker_store.FactMaskingTrackerStore` with the usual SQL
settings; `PYTHONPATH` must include the repository root (the Procfile and the image set it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

FACT_SLOTS = frozenset({"date_of_birth", "zip_or_ssn4"})
SEALED = "sealed:"
MASKED = "[masked]"
_DIGIT = re.compile(r"\d")


def mask_digits(text: str) -> str:
    return _DIGIT.sub("#", text)


class _Masked:
    """An event as it is written: the same type, a masked dictionary."""

    def __init__(self, event: Event, data: dict[str, Any]) -> None:
        self.type_name = event.type_name
        self._data = data

    def as_dict(self) -> dict[str, Any]:
        return self._data


def masked_event(event: Event, verified: bool) -> Event | _Masked:
    """The event as it may be stored, given whether the conversation was verified when it
    happened."""
    if isinstance(event, UserUttered) and not verified:
        data = event.as_dict()
        data["text"] = mask_digits(data["text"]) if data.get("text") else data.get("text")
        parse = data.get("parse_data") or {}
        if parse.get("text"):
            parse["text"] = mask_digits(parse["text"])
        for entity in parse.get("entities") or []:
            if isinstance(entity.get("value"), str):
                entity["value"] = mask_digits(entity["value"])
            entity.pop("text", None)
        return _Masked(event, data)
    if isinstance(event, SlotSet) and event.key in FACT_SLOTS:
        value = event.value
        if value is not None and not (isinstance(value, str) and value.startswith(SEALED)):
            data = event.as_dict()
            data["value"] = MASKED
            return _Masked(event, data)
    return event


def masked_events(events: list[Event]) -> list[Event | _Masked]:
    """Every event, masked as the conversation's verification state at that point requires."""
    verified = False
    out: list[Event | _Masked] = []
    for event in events:
        if isinstance(event, SessionStarted):
            verified = False
        elif isinstance(event, SlotSet) and event.key == "verified":
            verified = bool(event.value)
        out.append(masked_event(event, verified))
    return out


class FactMaskingTrackerStore(SQLTrackerStore):
    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator[Any]:
        stored = self._event_query(
            session, tracker.sender_id, fetch_events_from_all_sessions=False
        ).count()
        return iter(masked_events(list(tracker.events))[stored:])
