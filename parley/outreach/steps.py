"""Cadence steps as jobs (SPEC §14): the planners that put each step on the job engine once, and
the handler that sends it when its time comes, if the contact rules allow.

Each step has one job, keyed `outreach:<account>:<step>:<ref>` (unique), so a step is planned
once however many workers plan it, and sent at most once:

1. in one transaction the handler re-checks everything (the step still applies, the channel and
   address, `parley.outreach.rules.check`, the rendered content) and either records why the step
   is blocked or rescheduled, or records a `sending` event, and commits;
2. then the channel sends, and the outcome (`sent` / `failed`) is recorded.

A crash between 1 and 2 leaves `sending` as the step's last event: when the channel called a
provider (Twilio, SMTP) the re-run marks it `failed` ("interrupted; not retried") instead of
risking a second message; when it only writes to the database (local mode's outbox) the send
rolled back with the crash and is simply done again. The follow-ups of a first
contact are planned when it is sent (day 3, 7, 14 after it), so nothing scans for them.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import String, cast, exists, literal, select
from sqlalchemy.orm import Session

from parley.core.clock import debtor_zone, local_date, zone_info
from parley.core.money import format_cents
from parley.core.settings import Settings
from parley.documents.links import agreement_url
from parley.jobs.engine import Done, JobContext, JobView, Reschedule, Result, enqueue
from parley.outreach import content, rules
from parley.outreach.channels import get_channel
from parley.outreach.config import (
    DISCREET_STEPS,
    NOTICE_STEPS,
    UNCOUNTED_STEPS,
    Cadence,
    load_cadences,
    load_contact_rules,
)
from parley.outreach.templates import render
from parley.tables import (
    LIVE_PLAN,
    Account,
    ChargeStatus,
    Conversation,
    Direction,
    Installment,
    InstallmentCharge,
    InstallmentStatus,
    Job,
    Message,
    OutreachEvent,
    OutreachOutcome,
    PaymentPlan,
    PlanStatus,
    Promise,
    PromiseStatus,
)

KIND_PREFIX = "outreach."
# Every cadence step is a job kind, except the receipt, which the payment's own transaction
# sends (parley.payments.events.send_receipt).
STEPS = tuple(name for name in Cadence.model_fields if name != "payment_receipt")
KINDS = tuple(KIND_PREFIX + step for step in STEPS)
PLAN_LIMIT = 500
AGREEMENT_WINDOW = timedelta(days=7)


def step_key(account_id: int, step: str, ref: str) -> str:
    return f"outreach:{account_id}:{step}:{ref}"


def _key_expr(account_id: Any, step: str, ref: Any) -> Any:
    """The same key as `step_key`, as SQL (for NOT EXISTS against `jobs`)."""
    return (
        literal("outreach:") + cast(account_id, String) + literal(f":{step}:") + cast(ref, String)
    )


def _not_planned(key: Any) -> Any:
    return ~exists().where(Job.idempotency_key == key)


def plan_step(
    session: Session,
    account: Account,
    step: str,
    ref: str,
    due_at: datetime,
    channel: str,
    **refs: Any,
) -> bool:
    return enqueue(
        session,
        KIND_PREFIX + step,
        key=step_key(account.id, step, ref),
        due_at=due_at,
        payload={"step": step, "channel": channel, **refs},
        account_id=account.id,
    )


def _cadence(settings: Settings, account: Account) -> Cadence:
    return load_cadences(settings.cadences_path).for_policy(account.policy)[1]


def local_midnight(day: Any, account: Account, now: datetime) -> datetime:
    """The start of `day` where the debtor is (the westernmost candidate zone)."""
    zone = zone_info(debtor_zone(account.zone_names, now))
    return datetime.combine(day, time(0, 0), tzinfo=zone).astimezone(now.tzinfo)


def reminder_channel(account: Account, cadence: Cadence) -> str:
    """Reminders go on the debtor's first consented channel, SMS when they gave none but have
    a phone (they agreed a plan with us, so they are engaged)."""
    consent = [str(c) for c in account.contact_consent or []]
    preferred = list(cadence.first_contact.channels) if cadence.first_contact else ["sms", "email"]
    for channel in preferred:
        if channel in consent:
            return channel
    return "sms"


# --- planners --------------------------------------------------------------------------------


def plan_first_contacts(session: Session, settings: Settings, now: datetime) -> int:
    """One first-contact job per consented channel of every account not yet planned."""
    consented = cast(Account.contact_consent, String).not_in(["[]", "null", ""])
    accounts = session.scalars(
        select(Account)
        .where(
            consented,
            _not_planned(_key_expr(Account.id, "first_contact", literal("sms"))),
            _not_planned(_key_expr(Account.id, "first_contact", literal("email"))),
        )
        .order_by(Account.id)
        .limit(PLAN_LIMIT)
    )
    planned = 0
    for account in accounts:
        step = _cadence(settings, account).first_contact
        if step is None:
            continue
        for channel in step.channels:
            if channel in (account.contact_consent or []):
                planned += plan_step(session, account, "first_contact", channel, now, channel)
    return planned


def plan_installment_reminders(session: Session, settings: Settings, now: datetime) -> int:
    """Pre-due and due-day reminders for the installments of live plans due soon."""
    today = now.date()
    rows = session.execute(
        select(Installment, PaymentPlan, Account)
        .join(PaymentPlan, PaymentPlan.id == Installment.plan_id)
        .join(Account, Account.id == PaymentPlan.account_id)
        .where(
            PaymentPlan.status.in_(LIVE_PLAN),
            Installment.status == InstallmentStatus.SCHEDULED,
            Installment.due_date >= today - timedelta(days=1),
            Installment.due_date <= today + timedelta(days=31),
            _not_planned(_key_expr(Account.id, "due_day", Installment.id)),
        )
        .order_by(Installment.due_date, Installment.id)
        .limit(PLAN_LIMIT)
    ).all()
    planned = 0
    for installment, plan, account in rows:
        cadence = _cadence(settings, account)
        channel = reminder_channel(account, cadence)
        agreed_day = local_date(plan.agreed_at or plan.created_at or now, plan.timezone)
        if cadence.pre_due is not None:
            day = installment.due_date - timedelta(days=cadence.pre_due.days_before)
            if day > agreed_day:
                planned += plan_step(
                    session,
                    account,
                    "pre_due",
                    str(installment.id),
                    local_midnight(day, account, now),
                    channel,
                    installment_id=installment.id,
                )
        if cadence.due_day is not None:
            planned += plan_step(
                session,
                account,
                "due_day",
                str(installment.id),
                local_midnight(installment.due_date, account, now),
                channel,
                installment_id=installment.id,
            )
    return planned


def plan_missed_payments(session: Session, settings: Settings, now: datetime) -> int:
    """A follow-up with a fresh payment link after each declined charge attempt."""
    ref = (
        cast(InstallmentCharge.installment_id, String)
        + literal(":")
        + cast(InstallmentCharge.attempt, String)
    )
    rows = session.execute(
        select(InstallmentCharge, Installment, PaymentPlan, Account)
        .join(Installment, Installment.id == InstallmentCharge.installment_id)
        .join(PaymentPlan, PaymentPlan.id == Installment.plan_id)
        .join(Account, Account.id == PaymentPlan.account_id)
        .where(
            InstallmentCharge.status == ChargeStatus.FAILED,
            Installment.status != InstallmentStatus.PAID,
            PaymentPlan.status.in_((PlanStatus.ACTIVE, PlanStatus.BROKEN)),
            _not_planned(_key_expr(Account.id, "missed_payment", ref)),
        )
        .limit(PLAN_LIMIT)
    ).all()
    planned = 0
    for charge, installment, _plan, account in rows:
        cadence = _cadence(settings, account)
        if cadence.missed_payment is None:
            continue
        planned += plan_step(
            session,
            account,
            "missed_payment",
            f"{installment.id}:{charge.attempt}",
            now + timedelta(days=cadence.missed_payment.days_after),
            reminder_channel(account, cadence),
            installment_id=installment.id,
        )
    return planned


def plan_promise_reminders(session: Session, settings: Settings, now: datetime) -> int:
    """A reminder `days_before` an open promise's date (the chat says one will come), on the
    debtor's reminder channel; not for a promise made that close to its date."""
    rows = session.execute(
        select(Promise, Account)
        .join(Account, Account.id == Promise.account_id)
        .where(
            Promise.status == PromiseStatus.OPEN,
            Promise.due_date >= now.date() - timedelta(days=1),
            _not_planned(_key_expr(Account.id, "promise_reminder", Promise.id)),
        )
        .limit(PLAN_LIMIT)
    ).all()
    planned = 0
    for promise, account in rows:
        cadence = _cadence(settings, account)
        if cadence.promise_reminder is None:
            continue
        day = promise.due_date - timedelta(days=cadence.promise_reminder.days_before)
        made = local_date(promise.created_at or now, debtor_zone(account.zone_names, now))
        if day <= made:
            continue
        planned += plan_step(
            session,
            account,
            "promise_reminder",
            str(promise.id),
            local_midnight(day, account, now),
            reminder_channel(account, cadence),
            promise_id=promise.id,
        )
    return planned


def plan_completed_thanks(session: Session, settings: Settings, now: datetime) -> int:
    rows = session.execute(
        select(PaymentPlan, Account)
        .join(Account, Account.id == PaymentPlan.account_id)
        .where(
            PaymentPlan.status == PlanStatus.COMPLETED,
            _not_planned(_key_expr(Account.id, "plan_completed", PaymentPlan.id)),
        )
        .limit(PLAN_LIMIT)
    ).all()
    planned = 0
    for plan, account in rows:
        cadence = _cadence(settings, account)
        if cadence.plan_completed is None:
            continue
        planned += plan_step(
            session,
            account,
            "plan_completed",
            str(plan.id),
            now,
            reminder_channel(account, cadence),
            plan_id=plan.id,
        )
    return planned


def plan_agreement_emails(session: Session, settings: Settings, now: datetime) -> int:
    """The written agreement (SPEC §14), emailed once per plan to a debtor who consented to
    email; the chat's confirmation already linked it. Only plans agreed in the last
    `AGREEMENT_WINDOW`, so an account without email consent is not looked at again forever."""
    rows = session.execute(
        select(PaymentPlan, Account)
        .join(Account, Account.id == PaymentPlan.account_id)
        .where(
            PaymentPlan.agreed_at >= now - AGREEMENT_WINDOW,
            Account.email.is_not(None),
            _not_planned(_key_expr(Account.id, "agreement", PaymentPlan.id)),
        )
        .limit(PLAN_LIMIT)
    ).all()
    planned = 0
    for plan, account in rows:
        if _cadence(settings, account).agreement is None:
            continue
        if "email" not in (account.contact_consent or []):
            continue
        planned += plan_step(
            session, account, "agreement", str(plan.id), now, "email", plan_id=plan.id
        )
    return planned


PLANNERS = (
    plan_first_contacts,
    plan_installment_reminders,
    plan_promise_reminders,
    plan_missed_payments,
    plan_completed_thanks,
    plan_agreement_emails,
)


# --- the handler -----------------------------------------------------------------------------


def _event(
    session: Session,
    account: Account,
    job: JobView,
    outcome: OutreachOutcome,
    now: datetime,
    reason: str | None = None,
    detail: str | None = None,
    *,
    initiated: bool = False,
    outbound_id: int | None = None,
) -> None:
    session.add(
        OutreachEvent(
            account_id=account.id,
            job_id=job.id,
            step_key=job.idempotency_key,
            step=str(job.payload.get("step")),
            channel=str(job.payload.get("channel")),
            outcome=outcome,
            reason=reason,
            detail=detail,
            initiated=initiated,
            outbound_id=outbound_id,
            created_at=now,
        )
    )


def last_event(session: Session, job_id: int) -> OutreachEvent | None:
    return session.scalars(
        select(OutreachEvent)
        .where(OutreachEvent.job_id == job_id)
        .order_by(OutreachEvent.id.desc())
        .limit(1)
    ).first()


def debtor_replied(session: Session, account: Account, since: datetime) -> bool:
    """Any message from the debtor after `since`, in a conversation about the account or from
    its phone."""
    about = Conversation.account_id == account.id
    if account.phone:
        about = about | (Conversation.phone == account.phone)
    return (
        session.scalar(
            select(Message.id)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(about, Message.direction == Direction.INBOUND, Message.created_at > since)
            .limit(1)
        )
        is not None
    )


def first_contact_at(session: Session, account_id: int) -> datetime | None:
    return session.scalar(
        select(OutreachEvent.created_at)
        .where(
            OutreachEvent.account_id == account_id,
            OutreachEvent.step == "first_contact",
            OutreachEvent.outcome == OutreachOutcome.SENT,
        )
        .order_by(OutreachEvent.created_at)
        .limit(1)
    )


def _day_month(day: date) -> str:
    """ "Jun 13": how a message names a due day (the year goes without saying)."""
    return f"{day:%b} {day.day}"


def context_for(
    session: Session, settings: Settings, account: Account, job: JobView, now: datetime
) -> tuple[dict[str, str], str | None]:
    """The template fields for this step (and why the step no longer applies, if it does not).
    Only plain strings: the sandboxed template sees nothing else."""
    step = str(job.payload.get("step"))
    fields: dict[str, str] = {
        "company": settings.company_name,
        "company_contact": settings.company_contact,
        "first_name": account.first_name,
        "chat_url": settings.debtor_chat_url or f"{settings.public_url.rstrip('/')}/demo",
        "balance": format_cents(max(account.balance_cents, 0)),
        "creditor": account.creditor,
    }
    if step == "first_contact":
        if job.payload.get("channel") not in (account.contact_consent or []):
            return fields, "no_consent"
    elif step == "no_reply":
        sent = first_contact_at(session, account.id)
        if sent is None:
            return fields, "no_first_contact"
        if debtor_replied(session, account, sent):
            return fields, "debtor_replied"
    elif step in ("pre_due", "due_day", "missed_payment"):
        installment = session.get(Installment, int(job.payload.get("installment_id", 0)))
        if installment is None or installment.status == InstallmentStatus.PAID:
            return fields, "installment_paid"
        plan = installment.plan
        live = (PlanStatus.ACTIVE, PlanStatus.BROKEN) if step == "missed_payment" else LIVE_PLAN
        if plan.status not in live or installment.status == InstallmentStatus.CANCELLED:
            return fields, "plan_not_live"
        fields.update(
            amount=format_cents(installment.remaining_cents),
            due_date=_day_month(installment.due_date),
            plan_id=str(plan.id),
        )
    elif step in ("promise_reminder", "broken_promise"):
        # A reminder is for an open promise before its day; the follow-up for a broken one.
        reminder = step == "promise_reminder"
        wanted = PromiseStatus.OPEN if reminder else PromiseStatus.BROKEN
        promise = session.get(Promise, int(job.payload.get("promise_id", 0)))
        if promise is None or promise.status != wanted:
            return fields, "promise_not_open" if reminder else "promise_not_broken"
        if reminder and local_date(now, debtor_zone(account.zone_names, now)) > promise.due_date:
            return fields, "promise_date_passed"  # a reminder after the day reminds of nothing
        fields.update(
            amount=format_cents(promise.amount_cents), due_date=_day_month(promise.due_date)
        )
    elif step == "plan_completed":
        plan_row = session.get(PaymentPlan, int(job.payload.get("plan_id", 0)))
        if plan_row is None or plan_row.status != PlanStatus.COMPLETED:
            return fields, "plan_not_completed"
        fields["plan_id"] = str(plan_row.id)
    elif step == "agreement":
        agreed = session.get(PaymentPlan, int(job.payload.get("plan_id", 0)))
        if agreed is None or agreed.status == PlanStatus.CANCELLED:
            return fields, "plan_cancelled"
        fields.update(
            plan_id=str(agreed.id),
            amount=format_cents(agreed.total_cents),
            agreement_url=agreement_url(settings, agreed),
        )
    return fields, None


def run_step(context: JobContext, job: JobView) -> Result:
    """The handler of every `outreach.<step>` job (see the module docstring)."""
    settings, now = context.settings, context.now
    step, channel_name = str(job.payload.get("step")), str(job.payload.get("channel"))
    with context.factory() as session, session.begin():
        account = session.get(Account, job.account_id or 0)
        if account is None:
            return Done("account_gone")
        previous = last_event(session, job.id)
        channel = get_channel(channel_name)
        if (
            previous is not None
            and previous.outcome == OutreachOutcome.SENDING
            and channel is not None
            and channel.transactional(settings)
        ):
            previous = None  # nothing left the database: the interrupted send is done again
        if previous is not None and previous.outcome == OutreachOutcome.SENDING:
            _event(
                session,
                account,
                job,
                OutreachOutcome.FAILED,
                now,
                "interrupted",
                "the worker stopped while sending; not retried",
            )
            return Done("failed: interrupted")
        if previous is not None and previous.outcome in (
            OutreachOutcome.SENT,
            OutreachOutcome.FAILED,
            OutreachOutcome.BLOCKED,
        ):
            return Done(str(previous.outcome))
        cadence = _cadence(settings, account)
        step_config = cadence.steps().get(step)
        templates = load_cadences(settings.cadences_path).templates
        decision: rules.Decision = rules.ALLOW
        fields, not_applicable = context_for(session, settings, account, job, now)
        address = channel.address(account) if channel is not None else None
        if step_config is None:
            decision = rules.Decision(False, "step_not_in_cadence")
        elif not_applicable:
            decision = rules.Decision(False, not_applicable)
        elif channel is None:
            decision = rules.Decision(False, "channel_unavailable")
        elif not address:
            decision = rules.Decision(False, "no_address")
        else:
            decision = rules.check(
                session,
                load_contact_rules(settings.contact_rules_path),
                account,
                step,
                channel_name,
                address,
                now,
            )
        if not decision.allowed:
            if decision.retry_at is not None:
                _event(
                    session,
                    account,
                    job,
                    OutreachOutcome.RESCHEDULED,
                    now,
                    decision.reason,
                    decision.retry_at.isoformat(),
                )
                return Reschedule(decision.retry_at, decision.reason or "")
            _event(session, account, job, OutreachOutcome.BLOCKED, now, decision.reason)
            return Done(f"blocked: {decision.reason}")
        assert step_config is not None and channel is not None and address
        if step == "missed_payment":
            # A fresh link, made only once the step may go (not at every quiet-hours retry).
            from parley.payments.links import create_link

            installment = session.get(Installment, int(job.payload.get("installment_id", 0)))
            assert installment is not None
            fields["payment_url"] = create_link(session, settings, installment.plan).url
        template = templates[step_config.template]
        text = content.with_collector_statement(render(template.text, fields), settings)
        subject = render(template.subject, fields)
        if step in DISCREET_STEPS:
            named = content.discloses(f"{subject} {text}", account)
            if named:
                _event(
                    session,
                    account,
                    job,
                    OutreachOutcome.BLOCKED,
                    now,
                    "first_contact_discloses_debt",
                    named,
                )
                return Done("blocked: first_contact_discloses_debt")
        counted = step not in UNCOUNTED_STEPS
        _event(session, account, job, OutreachOutcome.SENDING, now, initiated=counted)
    # The `sending` record is committed: from here a crash can lose this message, never repeat it.
    # No `begin()` block here: a channel may commit the session itself (email records and claims
    # its row durably before the SMTP conversation); the outcome is committed below.
    with context.factory() as session:
        account = session.get(Account, job.account_id or 0)
        assert account is not None
        delivery = channel.send(
            session,
            settings,
            account=account,
            to=address,
            subject=subject,
            text=text,
            kind="notice" if step in NOTICE_STEPS else "collection",
            idempotency_key=job.idempotency_key,
            now=now,
            services=context.services,
        )
        if not delivery.ok:
            _event(
                session,
                account,
                job,
                OutreachOutcome.FAILED,
                now,
                delivery.status,
                delivery.error,
                outbound_id=delivery.outbound_id,
            )
            session.commit()
            return Done(f"failed: {delivery.status}")
        _event(
            session,
            account,
            job,
            OutreachOutcome.SENT,
            now,
            initiated=counted,
            outbound_id=delivery.outbound_id,
        )
        if step == "first_contact" and cadence.no_reply is not None:
            for day in cadence.no_reply.days:
                plan_step(
                    session,
                    account,
                    "no_reply",
                    f"{day}:{channel_name}",
                    now + timedelta(days=day),
                    channel_name,
                )
        session.commit()
    return Done("sent")
