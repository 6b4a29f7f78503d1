"""Engine and session factory. Nothing connects at import time: callers build the engine."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session, sessionmaker

# Statements that start a SQLite transaction (see make_engine).
_SQLITE_WRITES = re.compile(
    r"\s*(INSERT|UPDATE|DELETE|REPLACE|SAVEPOINT|CREATE|DROP|ALTER)\b", re.I
)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine that behaves the same on SQLite and PostgreSQL.

    SQLite is shared by the API, the action server and the worker (separate processes), so it
    runs in WAL mode with a busy timeout instead of failing with "database is locked".

    pysqlite's own transaction handling is switched off (SQLAlchemy's documented recipe): left
    on, it opens no transaction before a SAVEPOINT, so a `begin_nested()` as the first statement
    commits on RELEASE and a later failure cannot roll it back. Instead `BEGIN IMMEDIATE` is
    emitted right before the first statement that writes (or sets a savepoint): reads before it
    run unlocked, as pysqlite did, and the write lock is taken before anything is written, so a
    transaction never fails upgrading a stale read snapshot (SQLITE_BUSY_SNAPSHOT) and never
    holds the one write lock while it is only reading.
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

        @event.listens_for(engine, "before_cursor_execute")
        def _sqlite_begin_before_writing(
            conn: Any, cursor: Any, statement: str, *_args: Any
        ) -> None:
            if (
                _SQLITE_WRITES.match(statement)
                and not conn.connection.dbapi_connection.in_transaction
            ):
                cursor.execute("BEGIN IMMEDIATE")

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


M = TypeVar("M")


def locked(session: Session, model: type[M], key: object) -> M | None:
    """The row `key` of `model`, locked for the rest of the transaction, re-read from the
    database: `SELECT ... FOR UPDATE` on PostgreSQL; on SQLite (which has no row locks) a
    no-op UPDATE of the row first, which takes the database's one write lock before the read.
    Two transactions that both do this run one after the other, and the second sees the
    first's work."""
    bind = session.get_bind()
    if bind.dialect.name == "sqlite":
        table = sa_inspect(model).local_table  # type: ignore[union-attr]
        (column,) = table.primary_key.columns
        session.execute(update(table).where(column == key).values({column.name: column}))
    return session.get(model, key, with_for_update=True, populate_existing=True)
