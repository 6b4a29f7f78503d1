"""The action server's edge: its settings and database, read once on first use (rasa_sdk has no
start-up hook, and nothing is built at import time)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy.orm import Session, sessionmaker

from parley.core.db import make_engine, make_session_factory
from parley.core.settings import Settings, get_settings


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    sessions: sessionmaker[Session]


@lru_cache(maxsize=1)
def runtime() -> Runtime:
    settings = get_settings()
    return Runtime(settings, make_session_factory(make_engine(settings.database_url)))


def reset_runtime() -> None:
    """Forget the settings and dispose the engine (tests that switch databases)."""
    if runtime.cache_info().currsize:
        bind = runtime().sessions.kw.get("bind")
        if bind is not None:
            bind.dispose()
    runtime.cache_clear()
