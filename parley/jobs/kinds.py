"""Every kind of job and every planner, in one registry (SPEC §14 "timed work is one engine").

- `sms.deferred`: an SMS held back by quiet hours, once due (parley.outreach.send.send_one);
- `payments.charge`: each due installment attempt, or a stale claim (charges.charge_one);
- `outreach.<step>`: the cadences' steps (parley.outreach.steps.run_step);
- `promise.check`: each open promise at its date + grace (parley.outreach.promises.run_check).

Handlers take their external services from `JobContext.services` (`sms_transport`, `charger`),
so tests and the fault tests give the stand-ins; unset, the configured provider (or local mode)
is used.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from parley.core.clock import Clock
from parley.core.settings import Settings
from parley.jobs.engine import Done, Engine, Handler, JobContext, JobView, Planner, Result, enqueue
from parley.outreach import promises, send, steps
from parley.payments import charges

SMS_DEFERRED = "sms.deferred"
PAYMENTS_CHARGE = "payments.charge"


def plan_deferred_sms(session: Session, settings: Settings, now: datetime) -> int:
    return sum(
        enqueue(session, SMS_DEFERRED, key=key, due_at=now, payload={"outbound_id": row_id})
        for row_id, key in send.due_deferred(session, now, settings.job_batch_size)
    )


def plan_charges(session: Session, settings: Settings, now: datetime) -> int:
    return sum(
        enqueue(
            session,
            PAYMENTS_CHARGE,
            key=key,
            due_at=now,
            payload={"installment_id": installment_id},
        )
        for installment_id, key in charges.due_installments(
            session, settings, now, settings.job_batch_size
        )
    )


def run_deferred_sms(context: JobContext, job: JobView) -> Result:
    outcome = send.send_one(
        context.factory,
        context.settings,
        int(job.payload["outbound_id"]),
        transport=context.services.get("sms_transport"),
        now=context.now,
    )
    return Done(outcome)


def run_charge(context: JobContext, job: JobView) -> Result:
    outcome = charges.charge_one(
        context.factory,
        context.settings,
        int(job.payload["installment_id"]),
        charger=context.services.get("charger"),
        now=context.now,
    )
    return Done(outcome)


def handlers() -> dict[str, Handler]:
    table: dict[str, Handler] = {
        SMS_DEFERRED: run_deferred_sms,
        PAYMENTS_CHARGE: run_charge,
        promises.KIND: promises.run_check,
    }
    for kind in steps.KINDS:
        table[kind] = steps.run_step
    return table


def planners() -> list[Planner]:
    return [
        plan_deferred_sms,
        plan_charges,
        *steps.PLANNERS,
        promises.plan_promise_checks,
    ]


def make_engine(
    factory: sessionmaker[Session],
    settings: Settings,
    *,
    clock: Clock | None = None,
    services: dict[str, object] | None = None,
    worker_id: str | None = None,
) -> Engine:
    """The worker's engine with every kind and planner."""
    return Engine(
        factory,
        settings,
        handlers(),
        planners(),
        clock=clock,
        services=dict(services or {}),
        worker_id=worker_id,
    )
