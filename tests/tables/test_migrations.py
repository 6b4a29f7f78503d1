"""The Alembic migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from parley.core.db import make_engine
from parley.core.migrations import alembic_config, upgrade_to_head
from parley.tables import Base


def test_upgrade_matches_models_and_downgrade_empties(empty_db_url: str) -> None:
    upgrade_to_head(empty_db_url)
    upgrade_to_head(empty_db_url)  # a second run is a no-op
    engine = make_engine(empty_db_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            head = ScriptDirectory.from_config(alembic_config()).get_current_head()
            assert context.get_current_revision() == head
            assert compare_metadata(context, Base.metadata) == []
            assert set(Base.metadata.tables) <= set(inspect(conn).get_table_names())

        with engine.begin() as conn:
            config = alembic_config()
            config.attributes["connection"] = conn
            command.downgrade(config, "base")
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()

    upgrade_to_head(empty_db_url)  # and back up again from nothing
    engine = make_engine(empty_db_url)
    try:
        with engine.connect() as conn:
            assert set(Base.metadata.tables) <= set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def test_one_linear_history() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1


def test_every_status_column_default_is_a_member_of_its_enum() -> None:
    """A model's default status is the enum member, so a renamed member cannot leave a stale
    string default behind."""
    from parley.core.enums import StrEnum

    for table in Base.metadata.tables.values():
        for column in table.columns:
            default = column.default
            arg = getattr(default, "arg", None)
            if isinstance(arg, str) and column.name in {"status", "kind"}:
                assert isinstance(arg, StrEnum), (table.name, column.name, arg)
