"""Timed work (SPEC §14 "timed work is one engine"): every deferred send, installment charge,
cadence step and promise check is a row here, claimed by one worker at a time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from parley.core.enums import StrEnum
from parley.tables.base import Base, EnumText, TimestampMixin, utcnow


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # out of attempts; a person looks at `last_error`
    CANCELLED = "cancelled"


class Job(TimestampMixin, Base):
    """One timed action. `idempotency_key` is unique, so planning the same step twice (two
    workers, a restart, a re-run planner) inserts one row; `attempts` doubles as the claim's
    fencing token: a worker finishes a job only while the attempt it claimed is still current."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_due", "state", "due_at"),
        Index("ix_jobs_account", "account_id", "kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    state: Mapped[JobState] = mapped_column(EnumText(JobState, 16), default=JobState.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    lease_expires_at: Mapped[datetime | None]
    locked_by: Mapped[str | None] = mapped_column(String(128))
    last_error: Mapped[str | None] = mapped_column(Text)
    # What the last run decided (sent, blocked: opted_out, rescheduled: quiet_hours ...).
    outcome: Mapped[str | None] = mapped_column(String(128))
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)


class WorkerHeartbeat(Base):
    """Each running worker's last sign of life: `parley worker --check` (the worker service's
    health check) reads it."""

    __tablename__ = "worker_heartbeats"

    worker_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    beat_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    jobs_run: Mapped[int] = mapped_column(Integer, default=0)
