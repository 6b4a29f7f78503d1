"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

`db_url` is an empty database (a temp SQLite file, or a fresh schema in a per-session PostgreSQL
database); `engine` and `session_factory` are the same database migrated to head. PostgreSQL must be
reachable (PARLEY_TEST_POSTGRES_URL, default the local `test` database): the tests fail otherwise.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from parley.db import make_engine, make_session_factory
from parley.migrations import upgrade_to_head
from tests.support.stack import Stack, free_port, running_stack

POSTGRES_ADMIN_URL = os.environ.get(
    "PARLEY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def _admin_connect() -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A throwaway database for this test session, dropped at the end; yields its URL."""
    name = f"parley_test_{uuid.uuid4().hex[:12]}"
    with _admin_connect() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with _admin_connect() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _postgres_schema_url(database_url: str) -> str:
    """A fresh schema in the session database, selected through the connection's search_path."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    url = make_url(database_url).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty database, on each backend in turn."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'parley.db'}"
    database_url: str = request.getfixturevalue("postgres_database")
    return _postgres_schema_url(database_url)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on `db_url` after the Alembic migrations ran (not `create_all`)."""
    upgrade_to_head(db_url)
    engine = make_engine(db_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


# Portal tokens in the shared stack (tests/browser/test_widget.py signs them with this secret).
PORTAL_TOKEN_SECRET = "test-portal-token-secret-0123456789abcdef"  # noqa: S105 - test only
PORTAL_TOKEN_AUDIENCE = "parley-widget-test"


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
    with running_stack(extra_env=extra_env, extra_accounts=accounts) as started:
        yield started


@pytest.fixture(scope="session")
def stack_db(stack: Stack) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(stack.database_url)
    yield make_session_factory(engine)
    engine.dispose()
