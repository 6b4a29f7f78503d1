"""What operators and supervisors do with an account's outreach (SPEC §14, §15): pause and
resume its cadence, and see what is scheduled, sent and blocked, with the reasons.

The console calls these; `parley outreach preview` prints `preview`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from parley.core.settings import Settings
from parley.outreach import rules
from parley.outreach.channels import get_channel
from parley.outreach.config import load_contact_rules
from parley.outreach.steps import KINDS
from parley.records.audit import Kind, record
from parley.tables import Account, Job, JobState, OutreachEvent, OutreachPause


def pause_outreach(session: Session, account: Account, by: str) -> bool:
    """Stop initiating messages to the account until resumed; False if already paused.
    `by` is the actor (`user:<name>`), kept with the pause and in the audit trail."""
    if session.get(OutreachPause, account.id) is not None:
        return False
    session.add(OutreachPause(account_id=account.id, paused_by=by))
    record(session, Kind.OUTREACH_PAUSED, actor=by, account_id=account.id)
    return True


def resume_outreach(session: Session, account: Account, by: str) -> bool:
    """Resume the cadence: steps due meanwhile are blocked and recorded, later ones go ahead."""
    pause = session.get(OutreachPause, account.id)
    if pause is None:
        return False
    session.delete(pause)
    record(session, Kind.OUTREACH_RESUMED, actor=by, account_id=account.id)
    return True


@dataclass(frozen=True)
class PlannedStep:
    """A scheduled step, and what the rules would say if it were due now."""

    job_id: int
    step: str
    channel: str
    due_at: datetime
    state: str
    would_be: str  # "sent", or the blocking / rescheduling reason at `now`
    retry_at: datetime | None = None


def scheduled(session: Session, account_id: int) -> list[Job]:
    return list(
        session.scalars(
            select(Job)
            .where(
                Job.account_id == account_id,
                Job.kind.in_(KINDS),
                Job.state.in_((JobState.QUEUED, JobState.RUNNING)),
            )
            .order_by(Job.due_at, Job.id)
        )
    )


def history(session: Session, account_id: int, limit: int = 200) -> list[OutreachEvent]:
    """What outreach did for the account, newest first."""
    return list(
        session.scalars(
            select(OutreachEvent)
            .where(OutreachEvent.account_id == account_id)
            .order_by(OutreachEvent.created_at.desc(), OutreachEvent.id.desc())
            .limit(limit)
        )
    )


def preview(
    session: Session, settings: Settings, account: Account, now: datetime
) -> list[PlannedStep]:
    """Each scheduled step with the rules' answer for it at its due time (or now, if later)."""
    contact_rules = load_contact_rules(settings.contact_rules_path)
    steps: list[PlannedStep] = []
    for job in scheduled(session, account.id):
        step, channel_name = str(job.payload.get("step")), str(job.payload.get("channel"))
        channel = get_channel(channel_name)
        address = channel.address(account) if channel is not None else None
        at = max(job.due_at, now)
        if channel is None:
            decision = rules.Decision(False, "channel_unavailable")
        elif not address:
            decision = rules.Decision(False, "no_address")
        else:
            decision = rules.check(session, contact_rules, account, step, channel_name, address, at)
        steps.append(
            PlannedStep(
                job.id,
                step,
                channel_name,
                job.due_at,
                str(job.state),
                "sent" if decision.allowed else str(decision.reason),
                decision.retry_at,
            )
        )
    return steps
