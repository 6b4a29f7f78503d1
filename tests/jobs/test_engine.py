"""The job engine (SPEC §14): claims, leases, retries with backoff, idempotency keys, and two
workers racing for the same jobs (threads; on PostgreSQL FOR UPDATE SKIP LOCKED)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from parley.core.clock import ManualClock
from parley.core.settings import Settings
from parley.jobs.engine import Done, Engine, JobContext, JobView, Reschedule, enqueue
from parley.tables import Job

UTC = timezone.utc
START = datetime(2025, 7, 1, 16, 0, tzinfo=UTC)
SETTINGS = Settings(
    PARLEY_JOBS_INTERVAL_SECONDS=0, PARLEY_JOB_LEASE_SECONDS=60, PARLEY_JOB_BACKOFF_SECONDS=10
)


def _jobs(factory: sessionmaker[Session]) -> list[Job]:
    with factory() as session:
        return list(session.scalars(select(Job).order_by(Job.id)))


def test_enqueue_is_idempotent_by_key(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        assert enqueue(session, "t", key="k1", due_at=START, payload={"n": 1})
        assert not enqueue(session, "t", key="k1", due_at=START + timedelta(days=1))
    (job,) = _jobs(session_factory)
    assert (job.kind, job.payload, job.due_at, job.state) == ("t", {"n": 1}, START, "queued")


def test_due_jobs_run_once_and_not_before_their_time(
    session_factory: sessionmaker[Session],
) -> None:
    clock = ManualClock(START)
    ran: list[int] = []

    def handler(_ctx: JobContext, job: JobView) -> Done:
        ran.append(job.payload["n"])
        return Done("ok")

    with session_factory.begin() as session:
        enqueue(session, "t", key="now", due_at=START, payload={"n": 1})
        enqueue(session, "t", key="later", due_at=START + timedelta(hours=1), payload={"n": 2})
    engine = Engine(session_factory, SETTINGS, {"t": handler}, clock=clock)
    assert engine.run_due() == 1 and ran == [1]
    assert engine.run_due() == 0
    clock.advance(minutes=59, seconds=59)
    assert engine.run_due() == 0
    clock.advance(seconds=1)
    assert engine.run_due() == 1 and ran == [1, 2]
    assert [(j.state, j.outcome, j.attempts) for j in _jobs(session_factory)] == [
        ("done", "ok", 1),
        ("done", "ok", 1),
    ]


def test_failures_back_off_exponentially_then_fail(session_factory: sessionmaker[Session]) -> None:
    clock = ManualClock(START)

    def broken(_ctx: JobContext, _job: JobView) -> Done:
        raise RuntimeError("provider down")

    with session_factory.begin() as session:
        enqueue(session, "t", key="k", due_at=START, max_attempts=3)
    engine = Engine(session_factory, SETTINGS, {"t": broken}, clock=clock)
    assert engine.run_due() == 1
    (job,) = _jobs(session_factory)
    assert (job.state, job.attempts, job.due_at) == ("queued", 1, START + timedelta(seconds=10))
    assert "provider down" in (job.last_error or "")
    clock.advance(seconds=9)
    assert engine.run_due() == 0
    clock.advance(seconds=1)
    assert engine.run_due() == 1
    (job,) = _jobs(session_factory)
    assert (job.attempts, job.due_at) == (2, clock.now() + timedelta(seconds=20))
    clock.advance(seconds=20)
    assert engine.run_due() == 1
    (job,) = _jobs(session_factory)
    assert (job.state, job.attempts) == ("failed", 3)
    clock.advance(days=1)
    assert engine.run_due() == 0


def test_reschedule_is_not_an_attempt(session_factory: sessionmaker[Session]) -> None:
    clock = ManualClock(START)
    calls: list[datetime] = []

    def waits(ctx: JobContext, _job: JobView) -> Done | Reschedule:
        calls.append(ctx.now)
        if len(calls) < 4:
            return Reschedule(ctx.now + timedelta(hours=1), "quiet_hours")
        return Done("sent")

    with session_factory.begin() as session:
        enqueue(session, "t", key="k", due_at=START, max_attempts=2)
    engine = Engine(session_factory, SETTINGS, {"t": waits}, clock=clock)
    for _ in range(4):
        assert engine.run_due() == 1
        (job,) = _jobs(session_factory)
        clock.advance(hours=1)
    assert (job.state, job.outcome, job.attempts) == ("done", "sent", 1)


def test_an_expired_lease_is_claimed_again_and_the_old_worker_cannot_finish(
    session_factory: sessionmaker[Session],
) -> None:
    clock = ManualClock(START)
    with session_factory.begin() as session:
        enqueue(session, "t", key="k", due_at=START)
    dead = Engine(session_factory, SETTINGS, {"t": lambda c, j: Done("dead")}, clock=clock)
    (claimed,) = dead.claim()  # ... and the worker dies before running it
    alive = Engine(session_factory, SETTINGS, {"t": lambda c, j: Done("alive")}, clock=clock)
    assert alive.run_due() == 0  # leased
    clock.advance(seconds=61)
    assert alive.run_due() == 1
    assert dead.run_job(claimed) == "lost"  # the fencing token (attempts) moved on
    (job,) = _jobs(session_factory)
    assert (job.state, job.outcome, job.attempts) == ("done", "alive", 2)


def test_a_job_without_handler_fails_visibly(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        enqueue(session, "mystery", key="k", due_at=START)
    Engine(session_factory, SETTINGS, {}, clock=ManualClock(START)).run_due()
    (job,) = _jobs(session_factory)
    assert job.state == "failed" and "no handler" in (job.last_error or "")


def test_two_workers_never_run_one_job_twice(committed_factory: sessionmaker[Session]) -> None:
    """Two engines in two threads over 120 due jobs: every job runs exactly once."""
    clock = ManualClock(START)
    with committed_factory.begin() as session:
        for n in range(120):
            enqueue(session, "t", key=f"k{n}", due_at=START, payload={"n": n})
    ran: Counter[int] = Counter()
    by: dict[str, int] = Counter()
    lock = threading.Lock()

    def handler(ctx: JobContext, job: JobView) -> Done:
        with lock:
            ran[job.payload["n"]] += 1
            by[threading.current_thread().name] += 1
        return Done()

    small = SETTINGS.model_copy(update={"job_batch_size": 7})
    engines = [
        Engine(committed_factory, small, {"t": handler}, clock=clock, worker_id=f"w{i}")
        for i in range(2)
    ]
    threads = [
        threading.Thread(target=e.run_until_idle, name=f"w{i}") for i, e in enumerate(engines)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(ran) == list(range(120))
    assert set(ran.values()) == {1}
    assert {j.state for j in _jobs(committed_factory)} == {"done"}
