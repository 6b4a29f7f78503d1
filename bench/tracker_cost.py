"""The tracker store's share of a turn, alone, at turn 5, 50 and 200 of one conversation (SPEC §13).

Runs inside the Rasa environment (`.venv-rasa/bin/python bench/tracker_cost.py`), without a
server: each turn does what Rasa does with the store for one Parley message (read the tracker,
add the message, serialise the tracker as it is posted to the action server, add the action's
events, save), on a fresh SQLite file, and measures CPU time (`time.process_time`), which a
busy shared machine disturbs less than wall time. It compares Rasa's own SQL tracker store (what
Parley used before `bot/tracker_store.py`) with Parley's store. `bench/run.py` includes its JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rasa.core.tracker_store import SQLTrackerStore  # noqa: E402
from rasa.shared.core.domain import Domain  # noqa: E402
from rasa.shared.core.events import (  # noqa: E402
    ActionExecuted,
    BotUttered,
    SessionStarted,
    UserUttered,
)
from rasa.shared.core.trackers import EventVerbosity  # noqa: E402

from bot.tracker_store import FactMaskingTrackerStore  # noqa: E402

AT = (5, 50, 200)
WINDOW = 5  # a turn's figure is the median of the turns within this many of it


async def conversation(store: Any, turns: int) -> tuple[list[float], list[int]]:
    """CPU seconds per turn, and the bytes of the tracker posted to the action server."""
    sender = "bench-conversation"
    costs: list[float] = []
    sizes: list[int] = []
    for _ in range(turns):
        began = time.process_time()
        tracker = await store.get_or_create_tracker(sender, append_action_listen=False)
        if not tracker.applied_events():
            tracker.update(ActionExecuted("action_session_start"))
            tracker.update(SessionStarted())
            tracker.update(ActionExecuted("action_listen"))
        tracker.update(
            UserUttered("what's my balance", {"name": "ask_balance", "confidence": 0.9}, [])
        )
        posted = json.dumps(tracker.current_state(EventVerbosity.ALL))
        tracker.update(ActionExecuted("action_respond"))
        tracker.update(BotUttered("Your balance is $1,219.50."))
        tracker.update(BotUttered("Is there anything else I can help with?"))
        tracker.update(ActionExecuted("action_listen"))
        await store.save(tracker)
        costs.append(time.process_time() - began)
        sizes.append(len(posted))
    return costs, sizes


def figures(costs: list[float], sizes: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for at in AT:
        window = costs[max(0, at - 1 - WINDOW) : at + WINDOW]
        out[f"turn_{at}_cpu_ms"] = round(statistics.median(window) * 1000, 2)
        out[f"turn_{at}_posted_bytes"] = sizes[at - 1]
    out["turn_200_over_turn_5"] = round(out["turn_200_cpu_ms"] / out["turn_5_cpu_ms"], 2)
    return out


async def measure(turns: int, keep_events: int) -> dict[str, Any]:
    domain = Domain.load(str(ROOT / "bot" / "domain"))
    results: dict[str, Any] = {"turns": turns, "keep_events": keep_events}
    with tempfile.TemporaryDirectory() as tmp:
        stores = {
            "rasa_sql_store": SQLTrackerStore(domain=domain, db=f"{tmp}/rasa.db"),
            "parley_store": FactMaskingTrackerStore(
                domain=domain, db=f"{tmp}/parley.db", keep_events=keep_events
            ),
        }
        for name, store in stores.items():
            results[name] = figures(*await conversation(store, turns))
            store.engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=max(AT) + WINDOW)
    parser.add_argument("--keep-events", type=int, default=16)
    parser.add_argument("--out")
    args = parser.parse_args()
    results = asyncio.run(measure(args.turns, args.keep_events))
    text = json.dumps(results, indent=2)
    if args.out:
        Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
