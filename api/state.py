"""Per-process resources, created in the app lifespan (never at import time)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from parley.conversations.bot_client import BotClient
from parley.conversations.ordering import TurnLocks
from parley.core.limits import RateLimits
from parley.core.settings import Settings


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    bot: BotClient
    locks: TurnLocks
    limits: RateLimits
