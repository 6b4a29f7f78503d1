"""Engine and session factory. Nothing connects at import time: callers build the engine."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine that behaves the same on SQLite and PostgreSQL.

    SQLite is shared by the API, the action server and the worker (separate processes), so it
    runs in WAL mode with a busy timeout instead of failing with "database is locked".

    pysqlite's own transaction handling is switched off (SQLAlchemy's documented recipe): left
    on, it opens no transaction before a SAVEPOINT, so a `begin_nested()` as the first statement
    commits on RELEASE and a later failure cannot roll it back. Instead every transaction starts
    with `BEGIN IMMEDIATE`: one writer at a time, taken up front, so a transaction that read
    first and writes later never fails on a snapshot another process moved.
    """
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # no implicit BEGIN from pysqlite
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error.

    The session rule: core functions take a `Session` and never commit; the edge that owns the
    unit of work (a request, a job run, a CLI command) opens it here. Only the flows that must
    commit before an external call (the bot, Twilio, Stripe) take the factory themselves, and
    their docstrings say so.
    """
    with factory() as session, session.begin():
        yield session
