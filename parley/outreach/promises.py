"""Promises to pay, kept or broken by the ledger (SPEC §6, §14).

A promise ("I'll pay $200 on Friday") is checked once, by a `promise.check` job due at the end of
its date plus `PARLEY_PROMISE_GRACE_DAYS` in the debtor's zone: kept when the payments posted to
the account's ledger since the promise was made add up to at least the amount (several smaller
payments count together: the debtor did what they said), broken otherwise. A broken promise
plans the cadence's broken-promise follow-up, which the contact rules then govern like any
other step.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import String, cast, func, literal, select
from sqlalchemy.orm import Session

from parley.core.settings import Settings
from parley.jobs.engine import Done, JobContext, JobView, Result, enqueue
from parley.outreach.steps import (
    PLAN_LIMIT,
    _cadence,
    _not_planned,
    local_midnight,
    plan_step,
    reminder_channel,
)
from parley.records.audit import Kind, record
from parley.tables import Account, LedgerEntry, LedgerKind, Promise, PromiseStatus

KIND = "promise.check"


def check_due_at(promise: Promise, account: Account, settings: Settings, now: datetime) -> datetime:
    """The end of the promise's last day (its date + the grace days) where the debtor is."""
    last_day = promise.due_date + timedelta(days=settings.promise_grace_days)
    return local_midnight(last_day + timedelta(days=1), account, now)


def plan_promise_checks(session: Session, settings: Settings, now: datetime) -> int:
    key = literal("promise:") + cast(Promise.id, String)
    rows = session.execute(
        select(Promise, Account)
        .join(Account, Account.id == Promise.account_id)
        .where(Promise.status == PromiseStatus.OPEN, _not_planned(key))
        .limit(PLAN_LIMIT)
    ).all()
    planned = 0
    for promise, account in rows:
        planned += enqueue(
            session,
            KIND,
            key=f"promise:{promise.id}",
            due_at=check_due_at(promise, account, settings, now),
            payload={"promise_id": promise.id},
            account_id=account.id,
        )
    return planned


def paid_since(session: Session, account_id: int, since: datetime, until: datetime) -> int:
    return int(
        session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0)).where(
                LedgerEntry.account_id == account_id,
                LedgerEntry.kind == LedgerKind.PAYMENT,
                LedgerEntry.created_at >= since,
                LedgerEntry.created_at < until,
            )
        )
        or 0
    )


def evaluate(
    session: Session, settings: Settings, promise: Promise, now: datetime
) -> PromiseStatus:
    """Decide an open promise at `now` (its check time): kept or broken, recorded."""
    account = session.get(Account, promise.account_id)
    if account is None or promise.status != PromiseStatus.OPEN:
        return PromiseStatus(promise.status)
    paid = paid_since(session, account.id, promise.created_at, now + timedelta(seconds=1))
    kept = paid >= promise.amount_cents
    promise.status = PromiseStatus.KEPT if kept else PromiseStatus.BROKEN
    record(
        session,
        Kind.PROMISE_KEPT if kept else Kind.PROMISE_BROKEN,
        conversation_id=promise.conversation_id,
        account_id=account.id,
        promise_id=promise.id,
        paid_cents=paid,
        promised_cents=promise.amount_cents,
    )
    if not kept:
        cadence = _cadence(settings, account)
        if cadence.broken_promise is not None:
            plan_step(
                session,
                account,
                "broken_promise",
                str(promise.id),
                now,
                reminder_channel(account, cadence),
                promise_id=promise.id,
            )
    return PromiseStatus(promise.status)


def run_check(context: JobContext, job: JobView) -> Result:
    with context.factory() as session, session.begin():
        promise = session.get(Promise, int(job.payload.get("promise_id", 0)))
        if promise is None:
            return Done("promise_gone")
        return Done(str(evaluate(session, context.settings, promise, context.now)))
