"""Shared fixtures. Every database test runs on SQLite and on PostgreSQL.

The schema is migrated once per backend per test session (`migrated`); then

- `session_factory` / `session` run a test inside one transaction on the shared database that
  is rolled back at the end (the code under test may commit: its commits are savepoints);
- `db_url` / `committed_factory` give a test a fresh migrated database of its own, committed for
  real, for what cannot share one transaction: an app or a CLI with its own engine, threads,
  two workers racing (SQLite copies a migrated file; PostgreSQL copies a template database);
- `empty_db_url` is a database with no schema at all, for the migrations themselves.

PostgreSQL must be reachable (PARLEY_TEST_POSTGRES_URL, default the local `test` database): the
tests fail otherwise, they are never skipped.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from devstack.stack import Stack, free_port, running_stack
from parley.core.db import make_engine, make_session_factory
from parley.core.migrations import upgrade_to_head
from tests.support.portal import PORTAL_TOKEN_AUDIENCE, PORTAL_TOKEN_SECRET

POSTGRES_ADMIN_URL = os.environ.get(
    "PARLEY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The real-browser tests run last. Playwright's sync API leaves an event loop running in
    the main thread once its session fixture has started, and `asyncio.run` (the async
    gateway's tests) refuses to run under it."""
    items.sort(key=lambda item: "/tests/browser/" in str(item.path))  # stable: order kept


def _admin_connect() -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {exc}", pytrace=False)


def _pg_url(name: str) -> str:
    return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def _pg_create(name: str, template: str | None = None) -> str:
    with _admin_connect() as conn:
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        conn.execute(statement)
    return _pg_url(name)


def _pg_drop(name: str) -> None:
    with _admin_connect() as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@dataclass(frozen=True)
class Migrated:
    """One backend's migrated schema: a template to copy, and a shared database to roll back on."""

    backend: str
    template: str  # SQLite file path, or PostgreSQL database name
    engine: Engine


@pytest.fixture(scope="session", params=BACKENDS)
def migrated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Migrated]:
    backend: str = request.param
    if backend == "sqlite":
        folder = tmp_path_factory.mktemp("sqlite")
        template = folder / "template.db"
        upgrade_to_head(f"sqlite:///{template}")
        shutil.copy(template, folder / "shared.db")
        engine = make_engine(f"sqlite:///{folder / 'shared.db'}")
        yield Migrated(backend, str(template), engine)
        engine.dispose()
        return
    suffix = uuid.uuid4().hex[:10]
    template_name, shared_name = f"parley_tmpl_{suffix}", f"parley_shared_{suffix}"
    upgrade_to_head(_pg_create(template_name))
    engine = make_engine(_pg_create(shared_name, template=template_name))
    try:
        yield Migrated(backend, template_name, engine)
    finally:
        engine.dispose()
        _pg_drop(shared_name)
        _pg_drop(template_name)


@pytest.fixture
def connection(migrated: Migrated) -> Iterator[Connection]:
    """One connection in an outer transaction that is rolled back after the test."""
    conn = migrated.engine.connect()
    outer = conn.begin()
    try:
        yield conn
    finally:
        outer.rollback()
        conn.close()


@pytest.fixture
def session_factory(connection: Connection) -> sessionmaker[Session]:
    """Sessions inside the test's rolled-back transaction: their commits are savepoints."""
    return sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as opened:
        yield opened


@pytest.fixture
def db_url(migrated: Migrated, tmp_path: Path) -> Iterator[str]:
    """A fresh migrated database of the test's own, committed for real."""
    if migrated.backend == "sqlite":
        path = tmp_path / "parley.db"
        shutil.copy(migrated.template, path)
        yield f"sqlite:///{path}"
        return
    name = f"parley_t_{uuid.uuid4().hex[:12]}"
    url = _pg_create(name, template=migrated.template)
    try:
        yield url
    finally:
        _pg_drop(name)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def committed_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions on the test's own database (`db_url`); commits are real."""
    return make_session_factory(engine)


@pytest.fixture(params=BACKENDS)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema, on each backend in turn."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"parley_e_{uuid.uuid4().hex[:12]}"
    url = _pg_create(name)
    try:
        yield url
    finally:
        _pg_drop(name)


@pytest.fixture(scope="session")
def widget_page_origin() -> str:
    """An origin other than the API's, on the shared stack's widget allowlist: the browser
    tests serve the embedding pages from it."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture(scope="session")
def stack(widget_page_origin: str) -> Iterator[Stack]:
    """One real stack (Rasa, action server, API) per test session, shared by tests/e2e and
    tests/browser, with the test accounts of tests/e2e/accounts.csv loaded."""
    accounts = Path(__file__).parent / "e2e" / "accounts.csv"
    extra_env = {
        "PARLEY_WIDGET_ORIGINS": f"http://127.0.0.1:8000,http://localhost:8000,{widget_page_origin}",
        "PARLEY_PORTAL_TOKEN_SECRET": PORTAL_TOKEN_SECRET,
        "PARLEY_PORTAL_TOKEN_AUDIENCE": PORTAL_TOKEN_AUDIENCE,
    }
    # A busy machine (several suites at once) may need longer for Rasa to load its model.
    timeout = float(os.environ.get("PARLEY_TEST_STACK_TIMEOUT", "180"))
    with running_stack(timeout, extra_env=extra_env, extra_accounts=accounts) as started:
        yield started


@pytest.fixture(scope="session")
def stack_db(stack: Stack) -> Iterator[sessionmaker[Session]]:
    yield from _sessions_on(stack)


def _sessions_on(stack: Stack) -> Iterator[sessionmaker[Session]]:
    """Sessions on a running stack's database, its engine disposed at the end."""
    engine = make_engine(stack.database_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def in_process_stack() -> Iterator[Stack]:
    """A second stack, the API alone with PARLEY_BOT_ENGINE=in_process (no Rasa, no action
    server), its own database with the quality suite's accounts (tests/e2e/quality plays its
    suite on it)."""
    timeout = float(os.environ.get("PARLEY_TEST_STACK_TIMEOUT", "180"))
    with running_stack(
        timeout,
        extra_accounts=Path(__file__).parent / "e2e" / "quality" / "accounts.csv",
        engine="in_process",
    ) as started:
        yield started


@pytest.fixture(scope="session")
def in_process_db(in_process_stack: Stack) -> Iterator[sessionmaker[Session]]:
    yield from _sessions_on(in_process_stack)
