"""Engine and session factory. Nothing connects at import time: callers build the engine."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Engine, Select, bindparam, create_engine, event, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Mapper, Session, sessionmaker

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
        writer = _WriteTurns()

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
                writer.take(conn.connection.info)
                try:
                    cursor.execute("BEGIN IMMEDIATE")
                except BaseException:
                    writer.give_back(conn.connection.info)
                    raise

        # The lock is handed on once SQLite has committed or rolled back, not at SQLAlchemy's
        # "commit" / "rollback" events: those fire before the driver's COMMIT, so the next
        # writer's BEGIN IMMEDIATE would meet SQLite's busy handler (and its sleeps) while the
        # COMMIT is still being written.
        dialect = engine.dialect
        commit, rollback = dialect.do_commit, dialect.do_rollback

        def _do_commit(dbapi_connection: Any) -> None:
            try:
                commit(dbapi_connection)
            finally:
                writer.given_back_by(dbapi_connection)

        def _do_rollback(dbapi_connection: Any) -> None:
            try:
                rollback(dbapi_connection)
            finally:
                writer.given_back_by(dbapi_connection)

        dialect.do_commit = _do_commit  # type: ignore[method-assign]
        dialect.do_rollback = _do_rollback  # type: ignore[method-assign]

        @event.listens_for(engine.pool, "checkin")
        def _sqlite_checked_in(_dbapi: Any, record: Any) -> None:
            if record is not None:
                writer.give_back(record.info)

        @event.listens_for(engine.pool, "invalidate")
        def _sqlite_invalidated(_dbapi: Any, record: Any, _exception: Any) -> None:
            if record is not None:
                writer.give_back(record.info)

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


class _WriteTurns:
    """One SQLite writer at a time *within this process*, waiting in line on a lock.

    SQLite has one write lock per database. Threads of one process that want it at once (the
    gateway's thread pool, the in-process engine's turns) otherwise wait in SQLite's busy
    handler, which sleeps 1, 2, 5 ... up to 100 ms between tries: a few writers at once turned
    ~10 ms turns into 200-500 ms ones (docs/performance.md). Here a thread takes this lock just
    before its `BEGIN IMMEDIATE` and gives it back when the transaction ends (commit, rollback,
    or the connection going back to the pool), so the next one starts at once. Other processes
    still meet SQLite's own lock and busy timeout. A writer that cannot have the lock within the
    busy timeout goes on to SQLite as before, so nothing can wait here longer than it would
    have waited there.
    """

    TIMEOUT_SECONDS = 30.0  # the busy timeout (make_engine)

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def take(self, info: dict[Any, Any]) -> None:
        if info.get(self) is None and self._lock.acquire(timeout=self.TIMEOUT_SECONDS):
            info[self] = True

    def give_back(self, info: dict[Any, Any]) -> None:
        if info.pop(self, None):
            self._lock.release()

    def given_back_by(self, connection: Any) -> None:
        """`give_back` for a pooled connection; the engine's first connect (its dialect set-up)
        rolls back an ad-hoc connection that has no info and never took the lock."""
        try:
            info = connection.info
        except NotImplementedError:
            return
        self.give_back(info)


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


def by_key(session: Session, model: type[M], key: object) -> M | None:
    """`session.get(model, key)`, cheaper on a miss of the identity map: the SELECT is built
    once per model (on first use) instead of for every call, so SQLAlchemy neither rebuilds
    the statement nor recomputes its cache key. What is in the session already is returned as
    `session.get` returns it (without a query); otherwise the row is loaded the same way (the
    pending changes flushed first) and enters the identity map, or None."""
    mapper, statement = _by_key_statement(model)
    if mapper.identity_key_from_primary_key((key,)) in session.identity_map:
        return session.get(model, key)
    found: M | None = session.execute(statement, {"key": key}).scalars().first()
    return found


# model -> (its mapper, the SELECT by primary key); filled on first use of each model.
_BY_KEY: dict[type[Any], tuple[Mapper[Any], Select[Any]]] = {}


def _by_key_statement(model: type[Any]) -> tuple[Mapper[Any], Select[Any]]:
    built = _BY_KEY.get(model)
    if built is None:
        mapper: Mapper[Any] = sa_inspect(model)
        (column,) = mapper.primary_key
        built = _BY_KEY[model] = (mapper, select(model).where(column == bindparam("key")))
    return built


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
