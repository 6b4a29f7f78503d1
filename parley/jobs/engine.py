"""The one job engine (SPEC §14 "timed work is one engine"): jobs are rows of `jobs`.

A worker runs *planners* (which turn the database's state into due jobs, each under a unique
idempotency key, so planning twice inserts once) and then claims due jobs and runs each one's
*handler*, chosen by the job's kind.

Claiming. On PostgreSQL a batch is selected `FOR UPDATE SKIP LOCKED` and marked `running` with
a lease in the same transaction, so any number of workers take disjoint batches without
waiting on each other. SQLite has no row locks: each job is taken by a conditional UPDATE that
names the state and attempt it must still be in (SQLite serialises writers, so exactly one
UPDATE wins); SQLite deployments run one worker, and a second one is still safe, only slower.

Leases. A claim holds until `lease_expires_at`; each job's lease is renewed just before it runs
(a batch may take a while) and a job whose lease expired belongs to a dead worker: it is
claimable again. `attempts` is the fencing token: a worker records a result only while the
attempt it claimed is still the job's current one, so a worker that was presumed dead and comes
back cannot overwrite the newer run. Handlers make their own external effects idempotent (a
charge's Stripe key, an outreach step's `sending` record), because a re-run after a crash can
always happen.

Results. A handler returns `Done` (with an outcome word), `Reschedule` (not yet: quiet hours, a
frequency cap; does not count as an attempt), or raises: the job is retried with exponential
backoff until `max_attempts`, then left `failed` with the error for a person.

Time comes from a `Clock` (parley.core.clock), so tests move it instead of sleeping.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from parley.core.clock import Clock, SystemClock, utcnow
from parley.core.db import transaction
from parley.core.settings import Settings
from parley.tables import Job, JobState, WorkerHeartbeat

log = logging.getLogger(__name__)

# The longest a retry waits, whatever the attempt count.
MAX_BACKOFF_SECONDS = 3600.0


@dataclass(frozen=True)
class JobView:
    """A claimed job, detached from any session (handlers open their own)."""

    id: int
    kind: str
    payload: dict[str, Any]
    account_id: int | None
    due_at: datetime
    attempts: int
    max_attempts: int
    idempotency_key: str


@dataclass(frozen=True)
class Done:
    outcome: str = "done"


@dataclass(frozen=True)
class Reschedule:
    """Run again at `at`; `reason` is kept as the job's outcome (the rule that said not yet)."""

    at: datetime
    reason: str


Result = Done | Reschedule | None


@dataclass
class JobContext:
    """What a handler gets: the session factory (handlers own their transactions, because
    some must commit before an external call), settings, the run's `now`, and the services
    (SMS transport, charger...) the worker was built with, by name."""

    factory: sessionmaker[Session]
    settings: Settings
    now: datetime
    services: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[JobContext, JobView], Result]

_JOBS = cast(Table, Job.__table__)
# Built once with bound parameters, so SQLAlchemy compiles each once (planning inserts many).
_INSERTS = {
    name: module.insert(_JOBS)
    .on_conflict_do_nothing(index_elements=["idempotency_key"])
    .returning(_JOBS.c.id)
    for name, module in (("postgresql", postgresql), ("sqlite", sqlite))
}
# A planner inserts due jobs (through `enqueue`) for the state it watches; returns how many.
Planner = Callable[[Session, Settings, datetime], int]


def enqueue(
    session: Session,
    kind: str,
    *,
    key: str,
    due_at: datetime,
    payload: Mapping[str, Any] | None = None,
    account_id: int | None = None,
    max_attempts: int = 5,
) -> bool:
    """Insert a job unless one with `key` exists (then nothing changes); True when inserted.

    An INSERT .. ON CONFLICT DO NOTHING on both databases, in the caller's transaction: two
    workers planning the same step at once insert one row, and the loser does not fail."""
    if due_at.tzinfo is None:
        raise ValueError("naive datetime given; use timezone-aware UTC")
    dialect = session.get_bind().dialect.name
    stamp = utcnow()
    values = {
        "kind": kind,
        "payload": dict(payload or {}),
        "account_id": account_id,
        "due_at": due_at,
        "state": JobState.QUEUED,
        "attempts": 0,
        "max_attempts": max_attempts,
        "idempotency_key": key,
        "created_at": stamp,
        "updated_at": stamp,
    }
    insert = _INSERTS["postgresql" if dialect == "postgresql" else "sqlite"]
    return session.connection().execute(insert, values).first() is not None


def backoff(settings: Settings, attempts: int) -> timedelta:
    """The wait before attempt `attempts + 1`: base * 2^(attempts - 1), capped."""
    seconds = settings.job_backoff_seconds * (2 ** max(attempts - 1, 0))
    return timedelta(seconds=min(seconds, MAX_BACKOFF_SECONDS))


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _claimable(now: datetime) -> Any:
    return or_(
        and_(Job.state == JobState.QUEUED, Job.due_at <= now),
        and_(Job.state == JobState.RUNNING, Job.lease_expires_at < now),
    )


def _ours(job: JobView) -> Any:
    """The job is still running the attempt this worker claimed."""
    return and_(Job.id == job.id, Job.attempts == job.attempts, Job.state == JobState.RUNNING)


class Engine:
    """Plans and runs jobs. One per worker process (or per test)."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: Settings,
        handlers: Mapping[str, Handler],
        planners: Sequence[Planner] = (),
        *,
        clock: Clock | None = None,
        services: dict[str, Any] | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.factory = factory
        self.settings = settings
        self.handlers = dict(handlers)
        self.planners = list(planners)
        self.clock = clock or SystemClock()
        self.services = services if services is not None else {}
        self.worker_id = worker_id or default_worker_id()
        self.jobs_run = 0

    # --- planning ---------------------------------------------------------------------------

    def plan(self) -> int:
        """Run every planner, each in its own transaction (one failing does not stop others)."""
        planned = 0
        now = self.clock.now()
        for planner in self.planners:
            try:
                with transaction(self.factory) as session:
                    planned += planner(session, self.settings, now)
            except Exception:  # a planner's bug must not stop the jobs already due
                log.exception("planner failed", extra={"planner": getattr(planner, "__name__", "")})
        return planned

    # --- claiming ---------------------------------------------------------------------------

    def claim(self, limit: int | None = None) -> list[JobView]:
        """Take up to `limit` due jobs for this worker (see the module docstring)."""
        limit = limit or self.settings.job_batch_size
        now = self.clock.now()
        lease = now + timedelta(seconds=self.settings.job_lease_seconds)
        with transaction(self.factory) as session:
            self._fail_exhausted(session, now)
            query = (
                select(Job.id, Job.attempts)
                .where(_claimable(now))
                .order_by(Job.due_at, Job.id)
                .limit(limit)
            )
            if session.get_bind().dialect.name == "postgresql":
                rows = session.execute(query.with_for_update(skip_locked=True)).all()
            else:
                rows = session.execute(query).all()
            taken: list[int] = []
            for job_id, attempts in rows:
                result: Any = session.execute(
                    update(Job)
                    .where(Job.id == job_id, Job.attempts == attempts, _claimable(now))
                    .values(
                        state=JobState.RUNNING,
                        attempts=attempts + 1,
                        lease_expires_at=lease,
                        locked_by=self.worker_id,
                        updated_at=now,
                    )
                    .execution_options(synchronize_session=False)
                )
                if result.rowcount == 1:
                    taken.append(job_id)
            jobs = (
                list(
                    session.scalars(
                        select(Job).where(Job.id.in_(taken)).order_by(Job.due_at, Job.id)
                    )
                )
                if taken
                else []
            )
            return [
                JobView(
                    job.id,
                    job.kind,
                    dict(job.payload or {}),
                    job.account_id,
                    job.due_at,
                    job.attempts,
                    job.max_attempts,
                    job.idempotency_key,
                )
                for job in jobs
            ]

    def _fail_exhausted(self, session: Session, now: datetime) -> None:
        """A job whose worker died on its last allowed attempt is not run again: failed."""
        session.execute(
            update(Job)
            .where(
                Job.state == JobState.RUNNING,
                Job.lease_expires_at < now,
                Job.attempts >= Job.max_attempts,
            )
            .values(
                state=JobState.FAILED,
                last_error="interrupted (worker stopped) on the last attempt",
                lease_expires_at=None,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )

    def _renew(self, job: JobView) -> bool:
        """Extend the lease right before the job runs; False when it is no longer ours."""
        now = self.clock.now()
        with transaction(self.factory) as session:
            result: Any = session.execute(
                update(Job)
                .where(
                    Job.id == job.id, Job.attempts == job.attempts, Job.state == JobState.RUNNING
                )
                .values(
                    lease_expires_at=now + timedelta(seconds=self.settings.job_lease_seconds),
                    locked_by=self.worker_id,
                )
                .execution_options(synchronize_session=False)
            )
            return bool(result.rowcount == 1)

    # --- running ----------------------------------------------------------------------------

    def run_job(self, job: JobView) -> str:
        """Run one claimed job and record its result; returns the state it ended in."""
        handler = self.handlers.get(job.kind)
        if not self._renew(job):
            return "lost"
        now = self.clock.now()
        context = JobContext(self.factory, self.settings, now, self.services)
        values: dict[str, Any]
        if handler is None:
            values = {
                "state": JobState.FAILED,
                "last_error": f"no handler for kind {job.kind!r}",
            }
        else:
            try:
                result = handler(context, job)
            except Exception as exc:
                log.warning("job failed", extra={"job_id": job.id, "kind": job.kind}, exc_info=True)
                error = f"{type(exc).__name__}: {exc}"[:2000]
                if job.attempts >= job.max_attempts:
                    values = {"state": JobState.FAILED, "last_error": error}
                else:
                    values = {
                        "state": JobState.QUEUED,
                        "last_error": error,
                        "due_at": now + backoff(self.settings, job.attempts),
                    }
            else:
                if isinstance(result, Reschedule):
                    values = {
                        "state": JobState.QUEUED,
                        "due_at": result.at,
                        "outcome": f"rescheduled: {result.reason}"[:128],
                        # Waiting for an allowed time is not a failed attempt.
                        "attempts": job.attempts - 1,
                    }
                else:
                    values = {
                        "state": JobState.DONE,
                        "outcome": (result.outcome if result else "done")[:128],
                    }
        values.update(lease_expires_at=None, updated_at=self.clock.now())
        with transaction(self.factory) as session:
            session.execute(
                update(Job)
                .where(
                    Job.id == job.id, Job.attempts == job.attempts, Job.state == JobState.RUNNING
                )
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        self.jobs_run += 1
        return str(values["state"])

    def run_due(self, limit: int | None = None) -> int:
        """Claim one batch and run it; returns how many jobs ran."""
        jobs = self.claim(limit)
        for job in jobs:
            self.run_job(job)
        return len(jobs)

    def tick(self, max_batches: int = 20) -> int:
        """One worker iteration: plan, then run due batches until none is left (bounded)."""
        self.plan()
        ran = 0
        for _ in range(max_batches):
            count = self.run_due()
            ran += count
            if count == 0:
                break
        self.heartbeat()
        return ran

    def run_until_idle(self, max_rounds: int = 50) -> int:
        """Plan and run until a round finds nothing to do (tests, `outreach run-once`)."""
        total = 0
        for _ in range(max_rounds):
            ran = self.tick()
            total += ran
            if ran == 0:
                break
        return total

    # --- health -----------------------------------------------------------------------------

    def heartbeat(self) -> None:
        now = self.clock.now()
        try:
            with transaction(self.factory) as session:
                beat = session.get(WorkerHeartbeat, self.worker_id)
                if beat is None:
                    session.add(
                        WorkerHeartbeat(
                            worker_id=self.worker_id,
                            beat_at=now,
                            started_at=now,
                            jobs_run=self.jobs_run,
                        )
                    )
                else:
                    beat.beat_at, beat.jobs_run = now, self.jobs_run
        except Exception:
            log.exception("heartbeat failed")


def last_heartbeat(session: Session) -> datetime | None:
    """The most recent beat of any worker (the worker service's health check)."""
    return session.scalar(select(WorkerHeartbeat.beat_at).order_by(WorkerHeartbeat.beat_at.desc()))
