"""Rasa's tracker store for Parley: identity facts masked before writing (SPEC §4), and a turn
whose cost does not grow with the conversation (SPEC §13).

**Masking.** Rasa persists every event of a conversation: what the debtor typed (text, parsed
entities) and every slot value. Until a conversation is verified, what the debtor types is mostly
identity facts (a date of birth, a ZIP, an SSN last-4), so those messages are stored with their
digits masked; the slots that hold facts only ever carry sealed values (keyed hashes), and
anything else found in them is masked too. The events kept in memory for the turn being handled
are untouched, so the turn itself reads what was typed; the next turn reads the masked copy,
which is all the policies need (intents and entity types, never values).

**A flat turn.** Rasa's own SQL store re-reads the whole session on every message (and replays
it, and the policies and the action server then walk all of it), and before saving it counts the
stored rows to find the new ones: a turn got slower the longer the conversation (35 ms at turn 5,
74 ms at turn 105). Parley's dialogue lives in `parley/dialogue/`, Rasa only reads the message
and routes it to `action_respond` by rule, so Rasa needs the last few turns and the current
state, never the whole history. So this store:

- appends only the events a turn added (the tracker it hands out remembers how many it held);
- keeps one *head* row per conversation (`tracker_heads`): the id after which the live tail of
  events begins and the tracker's state at that point (slot values, active loop, paused);
- loads the head and the tail (an indexed range on `(sender_id, id)`), and rebuilds the state
  before the tail as a short synthetic prefix (session start, the slots, the loop, a listen);
- when the tail grows past `2 × keep_events`, moves the head forward to the last `action_listen`
  that leaves at least `keep_events` events in the tail; a new session (`SessionStarted`) moves it
  to the session's start, as Rasa's own store reads from the latest session start.

Nothing is deleted: every event stays in `events` (as Rasa writes them, so `rasa export` and
`retrieve_full_tracker` see the whole conversation). All the state is in the database, so a
restarted Rasa process continues a conversation where it was, and shards sharing one database
(production: PostgreSQL) read the same heads. A tracker saved without having been read from here
(Rasa's "replace the conversation's events", `PUT /conversations/<id>/tracker/events`, which the
gateway uses to repair a broken conversation) replaces what the conversation continues from: the
head moves past every stored event and the given events are appended, which Rasa's own SQL store
silently ignored.

This module runs inside the Rasa server (its own environment, `rasa==3.6.21`); it imports no
Parley code. Endpoints: `type: bot.tracker_store.FactMaskingTrackerStore` with the usual SQL
settings (and optionally `keep_events`); `PYTHONPATH` must include the repository root (the
Procfile and the image set it).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    ConversationPaused,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

logger = logging.getLogger(__name__)

FACT_SLOTS = frozenset({"date_of_birth", "zip_or_ssn4"})
SEALED = "sealed:"
MASKED = "[masked]"
_DIGIT = re.compile(r"\d")
# The fewest events the live tail keeps after a compaction (about three turns of Parley's
# one-action dialogue); it is compacted when it reaches twice this.
KEEP_EVENTS = 16
# Where a tracker read from this store keeps what it was read as.
_LOADED = "_parley_loaded"

_METADATA = sa.MetaData()
HEADS = sa.Table(
    "tracker_heads",
    _METADATA,
    sa.Column("sender_id", sa.String(255), primary_key=True),
    # The conversation continues from this sender's events with an id above this one.
    sa.Column("base_id", sa.Integer, nullable=False),
    # The tracker's state just before them (JSON), or null: nothing comes before them.
    sa.Column("base_state", sa.Text),
    # How many events the live tail holds (when to compact).
    sa.Column("tail_events", sa.Integer, nullable=False),
    # Whether the conversation was verified after its last stored event (for the masking).
    sa.Column("verified", sa.Boolean, nullable=False),
)
EVENTS_INDEX = "ix_events_sender_id_id"


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


def verified_after(event: Event, verified: bool) -> bool:
    """The verification state the masking uses, after `event`."""
    if isinstance(event, SessionStarted):
        return False
    if isinstance(event, SlotSet) and event.key == "verified":
        return bool(event.value)
    return verified


def masked_events(events: list[Event], verified: bool = False) -> list[Event | _Masked]:
    """Every event, masked as the conversation's verification state at that point requires."""
    out: list[Event | _Masked] = []
    for event in events:
        verified = verified_after(event, verified)
        out.append(masked_event(event, verified))
    return out


@dataclass(frozen=True)
class _Loaded:
    """What a tracker handed out by this store was read as."""

    count: int  # len(tracker.events) when read
    prefix: int  # how many of them are the synthetic prefix (not rows)
    ids: tuple[int, ...]  # the row ids of tracker.events[prefix:count]
    base_id: int
    base_state: str | None
    tail_events: int
    verified: bool
    full: bool  # read with every session (retrieve_full_tracker): never compacted on save


def state_prefix(state: dict[str, Any]) -> list[dict[str, Any]]:
    """The events that rebuild a tracker's state at the head: what the policies see before the
    live tail (a session that started, its slots, its loop, a listen)."""
    at = state.get("timestamp")
    events: list[Event] = [
        ActionExecuted(ACTION_SESSION_START_NAME, timestamp=at),
        SessionStarted(timestamp=at),
    ]
    events += [SlotSet(key, value, timestamp=at) for key, value in state["slots"].items()]
    if state.get("active_loop"):
        events.append(ActiveLoop(state["active_loop"], timestamp=at))
    if state.get("paused"):
        events.append(ConversationPaused(timestamp=at))
    events.append(ActionExecuted(ACTION_LISTEN_NAME, timestamp=at))
    return [event.as_dict() for event in events]


def _stored_slot_value(name: str, value: Any) -> Any:
    """A slot's value as it may be written: a fact slot's unsealed value is masked."""
    sealed = isinstance(value, str) and value.startswith(SEALED)
    return MASKED if name in FACT_SLOTS and value is not None and not sealed else value


def tracker_state(tracker: DialogueStateTracker) -> dict[str, Any]:
    """The part of a tracker's state that outlives its events (see `state_prefix`)."""
    slots = {
        name: _stored_slot_value(name, slot.value)
        for name, slot in tracker.slots.items()
        if slot.value != slot.initial_value
    }
    return {
        "slots": slots,
        "active_loop": tracker.active_loop_name,
        "paused": tracker.is_paused(),
        "timestamp": tracker.events[-1].timestamp if tracker.events else None,
    }


class FactMaskingTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, keep_events: int = KEEP_EVENTS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if int(keep_events) < 4:
            raise ValueError(f"keep_events must be at least 4, not {keep_events}")
        self.keep_events = int(keep_events)
        self._create_schema()

    def _create_schema(self) -> None:
        """The heads table and the index the tail is read by. Several Rasa processes may start
        at once against one database: as in Rasa's own store, a lost race is only logged."""
        try:
            _METADATA.create_all(self.engine)
        except (sa.exc.OperationalError, sa.exc.ProgrammingError, sa.exc.IntegrityError) as e:
            logger.error(f"Could not create tracker_heads: {e}")
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    sa.text(f"CREATE INDEX IF NOT EXISTS {EVENTS_INDEX} ON events (sender_id, id)")
                )
        except (sa.exc.OperationalError, sa.exc.ProgrammingError, sa.exc.IntegrityError) as e:
            logger.error(f"Could not create {EVENTS_INDEX}: {e}")

    # Reading

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The conversation as it continues: the state at its head and the live tail."""
        event_table = self.SQLEvent
        with self.session_scope() as session:
            head = session.execute(sa.select(HEADS).where(HEADS.c.sender_id == sender_id)).first()
            if head is None:
                # Written before this store kept heads (or never): Rasa's own reading, from
                # the latest session start.
                rows = [
                    (row.id, row.data)
                    for row in self._event_query(
                        session, sender_id, fetch_events_from_all_sessions=False
                    )
                ]
                base_id = rows[0][0] - 1 if rows else 0
                base_state, tail_events, verified = None, len(rows), None
            else:
                rows = list(
                    session.execute(
                        sa.select(event_table.id, event_table.data)
                        .where(event_table.sender_id == sender_id, event_table.id > head.base_id)
                        .order_by(event_table.id)
                    )
                )
                base_id, base_state = head.base_id, head.base_state
                tail_events, verified = len(rows), head.verified
        prefix = state_prefix(json.loads(base_state)) if base_state else []
        return self._tracker(
            sender_id, prefix, rows, base_id, base_state, tail_events, verified, full=False
        )

    async def retrieve_full_tracker(self, conversation_id: str) -> DialogueStateTracker | None:
        """Every stored event of the conversation, all sessions (Rasa's export and the
        `all_sessions` views). A tracker read this way that is saved appends its new events."""
        event_table = self.SQLEvent
        with self.session_scope() as session:
            head = session.execute(
                sa.select(HEADS).where(HEADS.c.sender_id == conversation_id)
            ).first()
            rows = list(
                session.execute(
                    sa.select(event_table.id, event_table.data, event_table.type_name)
                    .where(event_table.sender_id == conversation_id)
                    .order_by(event_table.id)
                )
            )
        if head is not None:
            base_id, base_state, verified = head.base_id, head.base_state, head.verified
            tail_events = sum(1 for row in rows if row.id > base_id)
        else:
            starts = [row.id for row in rows if row.type_name == SessionStarted.type_name]
            base_id = starts[-1] - 1 if starts else 0
            base_state, verified = None, None
            tail_events = sum(1 for row in rows if row.id > base_id)
        pairs = [(row.id, row.data) for row in rows]
        return self._tracker(
            conversation_id, [], pairs, base_id, base_state, tail_events, verified, full=True
        )

    def _tracker(
        self,
        sender_id: str,
        prefix: list[dict[str, Any]],
        rows: list[Any],
        base_id: int,
        base_state: str | None,
        tail_events: int,
        verified: bool | None,
        *,
        full: bool,
    ) -> DialogueStateTracker | None:
        events = prefix + [json.loads(data) for _id, data in rows]
        if not events:
            return None
        tracker = DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        if verified is None:  # no head yet: what the stored events say
            verified = False
            for event in tracker.events:
                verified = verified_after(event, verified)
        loaded = _Loaded(
            count=len(tracker.events),
            prefix=len(prefix),
            ids=tuple(row_id for row_id, _data in rows),
            base_id=base_id,
            base_state=base_state,
            tail_events=tail_events,
            verified=verified,
            full=full,
        )
        setattr(tracker, _LOADED, loaded)
        return tracker

    # Writing

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Append the events the tracker gained since it was read (all of them, replacing
        what the conversation continues from, for a tracker not read from here), and move the
        head when a session started or the tail grew too long."""
        await self.stream_events(tracker)
        loaded: _Loaded | None = getattr(tracker, _LOADED, None)
        events = list(tracker.events)
        sender_id = tracker.sender_id
        event_table = self.SQLEvent
        with self.session_scope() as session:
            has_head = (
                session.execute(
                    sa.select(HEADS.c.sender_id).where(HEADS.c.sender_id == sender_id)
                ).first()
                is not None
            )
            if loaded is None:
                last = session.scalar(
                    sa.select(sa.func.max(event_table.id)).where(event_table.sender_id == sender_id)
                )
                start, known = 0, ()
                base_id, base_state, tail_events, verified = last or 0, None, 0, False
            else:
                if len(events) == loaded.count and has_head:
                    return
                start, known = loaded.prefix, loaded.ids
                base_id, base_state = loaded.base_id, loaded.base_state
                tail_events, verified = loaded.tail_events, loaded.verified
            written = events[loaded.count :] if loaded is not None else events
            rows = []
            for event in written:
                verified = verified_after(event, verified)
                rows.append(self._row(sender_id, masked_event(event, verified)))
            session.add_all(rows)
            session.flush()
            ids = list(known) + [row.id for row in rows]
            # The events in memory that are rows, by position: events[start + i] is ids[i].
            tail_events += len(rows)
            for offset in range(len(written) - 1, -1, -1):
                if isinstance(written[offset], SessionStarted):
                    # A new session: the conversation continues from its start.
                    base_id, base_state = rows[offset].id - 1, None
                    tail_events = len(written) - offset
                    break
            if loaded is not None and not loaded.full and tail_events >= 2 * self.keep_events:
                moved = self._compacted(tracker, events, start, ids, tail_events)
                if moved is not None:
                    base_id, base_state, tail_events = moved
            values = {
                "base_id": base_id,
                "base_state": base_state,
                "tail_events": tail_events,
                "verified": verified,
            }
            if has_head:
                session.execute(
                    HEADS.update().where(HEADS.c.sender_id == sender_id).values(**values)
                )
            else:
                session.execute(HEADS.insert().values(sender_id=sender_id, **values))
            session.commit()
        # What the tracker now is in the store, should it be saved again (`rasa shell`, tests).
        setattr(
            tracker,
            _LOADED,
            _Loaded(
                count=len(events),
                prefix=start,
                ids=tuple(ids),
                base_id=base_id,
                base_state=base_state,
                tail_events=tail_events,
                verified=verified,
                full=loaded.full if loaded is not None else False,
            ),
        )

    def _row(self, sender_id: str, event: Event | _Masked) -> Any:
        data = event.as_dict()
        return self.SQLEvent(
            sender_id=sender_id,
            type_name=event.type_name,
            timestamp=data.get("timestamp"),
            intent_name=(data.get("parse_data") or {}).get("intent", {}).get(INTENT_NAME_KEY),
            action_name=data.get("name"),
            data=json.dumps(data),
        )

    def _compacted(
        self,
        tracker: DialogueStateTracker,
        events: list[Event],
        start: int,
        ids: list[int],
        tail_events: int,
    ) -> tuple[int, str, int] | None:
        """The head moved to the last `action_listen` that leaves at least `keep_events`
        events after it: (its id, the state there, the events after it), or None if the tail
        has no such listen."""
        first_tail = start + len(ids) - tail_events  # where the live tail begins in `events`
        last = start + len(ids) - self.keep_events - 1
        for index in range(last, first_tail - 1, -1):
            event = events[index]
            if isinstance(event, ActionExecuted) and event.action_name == ACTION_LISTEN_NAME:
                break
        else:
            return None
        before = DialogueStateTracker.from_events(
            tracker.sender_id, events[: index + 1], self.domain.slots
        )
        state = json.dumps(tracker_state(before))
        return ids[index - start], state, start + len(ids) - index - 1
