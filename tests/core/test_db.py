"""parley.core.db on SQLite: writers of one process take turns on a lock instead of sleeping in
SQLite's busy handler, and every way a transaction ends hands the turn on."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, text

from parley.core import db
from parley.core.db import make_engine, make_session_factory, transaction


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    # A leaked turn would make the next writer wait this long (then go on to SQLite).
    monkeypatch.setattr(db._WriteTurns, "TIMEOUT_SECONDS", 2.0)
    engine = make_engine(f"sqlite:///{tmp_path / 'turns.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER NOT NULL, who TEXT)"))
    yield engine
    engine.dispose()


def _write_at_once(engine: Engine) -> float:
    began = time.monotonic()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t (n) VALUES (1)"))
    return time.monotonic() - began


def test_many_threads_write_without_losing_or_failing(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    failures: list[BaseException] = []

    def writer(who: int) -> None:
        try:
            for n in range(25):
                with transaction(sessions) as session:
                    session.execute(
                        text("INSERT INTO t (n, who) VALUES (:n, :w)"), {"n": n, "w": who}
                    )
                    session.execute(text("SELECT count(*) FROM t")).scalar()
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 200
    assert _write_at_once(engine) < 1.0


def test_a_failed_transaction_hands_the_turn_on(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    with pytest.raises(RuntimeError), transaction(sessions) as session:
        session.execute(text("INSERT INTO t (n) VALUES (1)"))
        raise RuntimeError("the step fails after writing")
    assert _write_at_once(engine) < 1.0
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 1  # only the later one


def test_a_statement_sqlite_refuses_hands_the_turn_on(engine: Engine) -> None:
    with pytest.raises(Exception, match="NOT NULL"), engine.begin() as conn:
        conn.execute(text("INSERT INTO t (n) VALUES (NULL)"))
    assert _write_at_once(engine) < 1.0


def test_a_connection_given_back_unfinished_hands_the_turn_on(engine: Engine) -> None:
    conn = engine.connect()
    conn.execute(text("INSERT INTO t (n) VALUES (1)"))
    conn.close()  # never committed: the pool rolls it back
    assert _write_at_once(engine) < 1.0
    with engine.connect() as check:
        assert check.execute(text("SELECT count(*) FROM t")).scalar() == 1


def test_a_held_turn_makes_the_next_writer_wait_for_it(engine: Engine) -> None:
    """The check above could not fail if the lock did nothing: here it must block."""
    conn = engine.connect()
    conn.execute(text("INSERT INTO t (n) VALUES (1)"))
    waited: list[float] = []
    other = threading.Thread(target=lambda: waited.append(_write_at_once(engine)))
    other.start()
    time.sleep(0.5)
    conn.commit()
    other.join()
    conn.close()
    assert waited and waited[0] >= 0.4


def test_the_turn_is_handed_on_after_sqlite_commits_not_before(engine: Engine) -> None:
    """SQLAlchemy's "commit" / "rollback" events fire before the driver's COMMIT / ROLLBACK: at
    that moment the writer must still hold its turn (else the next writer's BEGIN IMMEDIATE
    meets SQLite's busy handler while the COMMIT is written); once it has ended, no longer."""
    held_at_event: list[bool] = []

    def holds(conn: object) -> bool:
        info = conn.connection.info  # type: ignore[attr-defined]
        return any(isinstance(key, db._WriteTurns) for key in info)

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _ending(conn: object) -> None:
        held_at_event.append(holds(conn))

    with engine.connect() as conn:
        for finish in ("commit", "rollback"):
            conn.execute(text("INSERT INTO t (n) VALUES (2)"))
            assert holds(conn)
            getattr(conn, finish)()
            assert not holds(conn), finish
    assert held_at_event == [True, True]
    assert _write_at_once(engine) < 1.0  # the turn is free: no wait for the 2 s timeout
