"""Run inside the Rasa environment by tests/bot/test_tracker_store.py: drives the tracker store
in process (no server) through Parley-shaped turns on two store instances (two shards) sharing
one database, replacing the first instance part-way (a restarted process).

Usage: .venv-rasa/bin/python tests/bot/store_drive.py STORE_JSON SENDER TURNS
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from rasa.shared.core.domain import Domain  # noqa: E402
from rasa.shared.core.events import (  # noqa: E402
    ActionExecuted,
    BotUttered,
    SessionStarted,
    UserUttered,
)

from bot.tracker_store import FactMaskingTrackerStore  # noqa: E402


async def drive(settings: dict[str, object], sender: str, turns: int) -> None:
    domain = Domain.load(str(Path(__file__).resolve().parents[2] / "bot" / "domain"))
    shards = [FactMaskingTrackerStore(domain=domain, **settings) for _ in range(2)]
    for turn in range(turns):
        if turn == turns * 2 // 3:
            shards[0] = FactMaskingTrackerStore(domain=domain, **settings)  # restarted
        store = shards[turn % 2]
        tracker = await store.get_or_create_tracker(sender, append_action_listen=False)
        if not tracker.applied_events():
            tracker.update(ActionExecuted("action_session_start"))
            tracker.update(SessionStarted())
            tracker.update(ActionExecuted("action_listen"))
        tracker.update(UserUttered(f"turn {turn} born 03/14/1985", {"name": "greet"}))
        tracker.update(ActionExecuted("action_respond"))
        tracker.update(BotUttered(f"reply {turn}"))
        tracker.update(ActionExecuted("action_listen"))
        await store.save(tracker)
    tracker = await shards[1].retrieve(sender)
    assert tracker is not None
    print(json.dumps({"loaded_events": len(tracker.events)}))


if __name__ == "__main__":
    asyncio.run(drive(json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])))
