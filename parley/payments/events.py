"""Stripe events (SPEC §8): what a payment, a declined charge or a completed checkout does to
plans, installments and the balance.

- Every Stripe event goes through `process_event`: the event id is claimed in
  `processed_events` in the caller's transaction, the same one that applies it, so it is applied
  once and a failure anywhere leaves no trace (the webhook answers 5xx and Stripe retries). The
  local demo checkout (`parley.payments.checkout`) builds the same event payloads.
- Money is posted through `parley.payments.ledger` keyed by the PaymentIntent id, so the webhook,
  the charging job and a replay can all report one charge and it still counts once.
- A declined installment notifies the debtor (SMS through `parley.outreach.send`, so opt-out
  and quiet hours apply; a chat message on the web) and is retried after the policy's
  `payment_retry_days`; past `failed_payment_tolerance` the plan is broken and a person is
  asked to review it (escalation reason `hardship`, sub-reason `payment_failed`: SPEC §10's
  reasons are fixed and a plan the debtor cannot keep is what a hardship review is for).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, StrictInt, ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from parley.core.clock import local_date
from parley.core.dates import short_date
from parley.core.errors import ParleyError
from parley.core.money import format_cents
from parley.core.settings import Settings
from parley.escalations.queue import open_escalation
from parley.negotiation.policies import PolicyError, get_policy
from parley.outreach.config import load_cadences
from parley.outreach.send import send_sms
from parley.outreach.templates import render
from parley.payments import ledger
from parley.records.audit import Kind, record
from parley.tables import (
    Account,
    Channel,
    ChargeStatus,
    Conversation,
    Direction,
    EscalationReason,
    EventSource,
    Installment,
    InstallmentCharge,
    InstallmentStatus,
    LedgerKind,
    LinkStatus,
    Message,
    OutboundKind,
    PaymentLink,
    PaymentPlan,
    PlanKind,
    PlanStatus,
    ProcessedEvent,
    Sender,
)

log = logging.getLogger(__name__)

DEFAULT_TOLERANCE = 2
DEFAULT_RETRY_DAYS = 3


def process_event(
    session: Session, settings: Settings, event: Mapping[str, Any], now: datetime
) -> str:
    """Apply one Stripe event exactly once, in the caller's transaction; returns what happened
    ("duplicate" on a replay). The caller commits, or rolls back on any error: then nothing is
    recorded, not even that the event was seen."""
    event_id = str(event.get("id") or "")
    if not event_id:
        raise ValueError("event without an id")
    try:
        with session.begin_nested():
            session.add(ProcessedEvent(source=EventSource.STRIPE, external_id=event_id[:128]))
            session.flush()
    except IntegrityError:
        return "duplicate"
    return handle_event(session, event, settings, now)


class _Ref(BaseModel):
    """An expanded Stripe object where only its id (and a few fields) matter."""

    model_config = ConfigDict(extra="allow")
    id: str | None = None
    customer: str | _Ref | None = None
    payment_method: str | _Ref | None = None


class _Error(BaseModel):
    model_config = ConfigDict(extra="allow")
    code: str | None = None
    decline_code: str | None = None


class _Object(BaseModel):
    """The fields of a Checkout Session or PaymentIntent that Parley reads, typed: a signed
    event whose fields have the wrong shape is refused (400), never half-applied."""

    model_config = ConfigDict(extra="allow")
    id: str | None = None
    payment_status: str | None = None
    amount_total: StrictInt | None = None
    amount_received: StrictInt | None = None
    amount: StrictInt | None = None
    payment_intent: str | _Ref | None = None
    customer: str | _Ref | None = None
    payment_method: str | _Ref | None = None
    metadata: dict[str, str] = {}
    last_payment_error: _Error | None = None


_HANDLED = frozenset(
    {
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
    }
)


def _object(event: Mapping[str, Any]) -> _Object:
    data = event.get("data")
    if not isinstance(data, Mapping) or not isinstance(data.get("object"), Mapping):
        raise ParleyError("invalid_event", "The event has no data object.")
    try:
        return _Object.model_validate(data["object"])
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
        raise ParleyError("invalid_event", f"The event's fields are malformed: {fields}.") from exc


def _id(value: str | _Ref | None) -> str | None:
    if isinstance(value, _Ref):
        return value.id
    return value or None


def handle_event(
    session: Session, event: Mapping[str, Any], settings: Settings, now: datetime
) -> str:
    """Dispatch one (already de-duplicated) event by type; unknown types are ignored."""
    kind = str(event.get("type") or "")
    event_id = str(event.get("id") or "")
    if kind not in _HANDLED:
        return "ignored"
    obj = _object(event)
    metadata = obj.metadata
    if kind in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        if obj.payment_status != "paid":
            return "ignored"
        intent = obj.payment_intent
        intent_ref = intent if isinstance(intent, _Ref) else _Ref()
        intent_id = str(intent_ref.id or (intent if isinstance(intent, str) else None) or obj.id)
        return checkout_paid(
            session,
            metadata,
            intent_id,
            obj.amount_total or 0,
            customer=_id(obj.customer) or _id(intent_ref.customer),
            payment_method=_id(intent_ref.payment_method),
            event_id=event_id,
            settings=settings,
            now=now,
        )
    if kind == "payment_intent.succeeded":
        amount = obj.amount_received or obj.amount or 0
        intent_id = str(obj.id)
        if "attempt" in metadata:
            return installment_paid(
                session, metadata, intent_id, amount, event_id=event_id, settings=settings, now=now
            )
        return checkout_paid(
            session,
            metadata,
            intent_id,
            amount,
            customer=_id(obj.customer),
            payment_method=_id(obj.payment_method),
            event_id=event_id,
            settings=settings,
            now=now,
        )
    # payment_intent.payment_failed
    error = obj.last_payment_error or _Error()
    reason = str(error.decline_code or error.code or "declined")
    if "attempt" in metadata:
        return installment_failed(session, metadata, obj.id, reason, settings=settings, now=now)
    link = _link(session, metadata)
    if link is None:
        return "ignored"
    record(
        session,
        Kind.PAYMENT_CHECKOUT_FAILED,
        account_id=_plan_account(session, link.plan_id),
        link_id=link.id,
        plan_id=link.plan_id,
        reason=reason,
    )
    return "checkout_failed"


def _int(metadata: Mapping[str, Any], key: str) -> int | None:
    value = metadata.get(key)
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _link(session: Session, metadata: Mapping[str, Any]) -> PaymentLink | None:
    link_id = _int(metadata, "link_id")
    return session.get(PaymentLink, link_id) if link_id is not None else None


def _plan_account(session: Session, plan_id: int) -> int | None:
    plan = session.get(PaymentPlan, plan_id)
    return plan.account_id if plan is not None else None


def checkout_paid(
    session: Session,
    metadata: Mapping[str, Any],
    intent_id: str,
    amount_cents: int,
    *,
    customer: str | None,
    payment_method: str | None,
    event_id: str,
    settings: Settings,
    now: datetime,
) -> str:
    """A checkout was paid: post it, mark its payment paid, save the card, activate the plan."""
    link = _link(session, metadata)
    if link is None:
        log.warning("stripe payment without a known link", extra={"event_id": event_id})
        return "unknown_link"
    plan = session.get(PaymentPlan, link.plan_id)
    if plan is None:
        return "unknown_plan"
    if customer and not plan.stripe_customer_id:
        plan.stripe_customer_id = customer[:64]
    if payment_method and link.save_card:
        plan.payment_method_id = payment_method[:64]
    if amount_cents < 1:
        return "no_amount"
    posted = ledger.post(
        session,
        plan.account_id,
        amount_cents,
        intent_id,
        plan_id=plan.id,
        installment_id=link.installment_id,
        event_id=event_id,
    )
    if link.status != LinkStatus.COMPLETED:
        link.status, link.completed_at = LinkStatus.COMPLETED, now
    if posted:
        installment = session.get(Installment, link.installment_id) if link.installment_id else None
        apply_to_schedule(plan, installment, amount_cents, now)
    if plan.status == PlanStatus.AGREED:
        plan.status = PlanStatus.ACTIVE
    _maybe_complete(session, plan, now)
    if posted:
        send_receipt(session, plan, amount_cents, settings, now)
    return "posted" if posted else "already_posted"


def apply_to_schedule(
    plan: PaymentPlan, first: Installment | None, amount_cents: int, now: datetime
) -> None:
    """What was paid is what is posted (SPEC §8): the amount goes to `first` (the payment the
    link or charge was for), then to the next unpaid payments in order. A payment is `paid`
    only once its full amount is in; less stays partial (its `paid_cents` shows how much)."""
    ordered = ([first] if first is not None else []) + [
        i for i in plan.installments if i is not first and i.status != InstallmentStatus.CANCELLED
    ]
    left = amount_cents
    for installment in ordered:
        if left <= 0:
            break
        if installment.status == InstallmentStatus.PAID:
            continue
        taken = min(left, installment.remaining_cents)
        installment.paid_cents = (installment.paid_cents or 0) + taken
        left -= taken
        if installment.remaining_cents == 0:
            installment.status, installment.paid_at = InstallmentStatus.PAID, now
            installment.charging_since = None


def installment_paid(
    session: Session,
    metadata: Mapping[str, Any],
    intent_id: str,
    amount_cents: int,
    *,
    event_id: str | None,
    settings: Settings,
    now: datetime,
) -> str:
    """An off-session charge succeeded (from the job's answer or the webhook, whichever first)."""
    installment_id, attempt = _int(metadata, "installment_id"), _int(metadata, "attempt")
    installment = session.get(Installment, installment_id) if installment_id else None
    if installment is None or attempt is None:
        return "unknown_installment"
    charge = charge_row(session, installment, attempt)
    charge.status, charge.payment_intent_id = ChargeStatus.SUCCEEDED, intent_id
    plan = installment.plan
    amount = amount_cents or installment.amount_cents
    posted = ledger.post(
        session,
        plan.account_id,
        amount,
        intent_id,
        plan_id=plan.id,
        installment_id=installment.id,
        event_id=event_id,
    )
    if posted:
        apply_to_schedule(plan, installment, amount, now)
    if installment.status == InstallmentStatus.CHARGING:
        # A partial charge: the rest stays due, and is charged again on the next run.
        installment.status, installment.charging_since = InstallmentStatus.SCHEDULED, None
    _maybe_complete(session, plan, now)
    if posted:
        send_receipt(session, plan, amount, settings, now)
    return "posted" if posted else "already_posted"


def installment_failed(
    session: Session,
    metadata: Mapping[str, Any],
    intent_id: str | None,
    reason: str,
    *,
    settings: Settings,
    now: datetime,
) -> str:
    """A declined off-session charge: notify, retry later, or past tolerance break the plan.

    Keyed on the (installment, attempt) charge row, so the job's answer and the webhook for the
    same attempt count one failure and send one notice.
    """
    installment_id, attempt = _int(metadata, "installment_id"), _int(metadata, "attempt")
    installment = session.get(Installment, installment_id) if installment_id else None
    if installment is None or attempt is None:
        return "unknown_installment"
    charge = charge_row(session, installment, attempt)
    if charge.status != ChargeStatus.PENDING:
        return "already_applied"
    charge.status, charge.error = ChargeStatus.FAILED, reason[:500]
    charge.payment_intent_id = charge.payment_intent_id or intent_id
    plan = installment.plan
    if installment.status == InstallmentStatus.PAID or plan.status != PlanStatus.ACTIVE:
        return "ignored"
    failures = int(
        session.scalar(
            select(func.count(InstallmentCharge.id)).where(
                InstallmentCharge.installment_id == installment.id,
                InstallmentCharge.status == ChargeStatus.FAILED,
            )
        )
        or 0
    )
    tolerance, retry_days = payment_rules(plan, settings)
    amount = format_cents(installment.amount_cents)
    installment.charging_since = None
    if failures > tolerance:
        installment.status = InstallmentStatus.FAILED
        plan.status, plan.broken_at = PlanStatus.BROKEN, now
        notify(
            session,
            plan,
            f"Your payment of {amount} for plan #{plan.id} was declined again, so the plan "
            "has been put on hold. A specialist will contact you to find a way forward.",
            settings,
            now,
        )
        conversation = session.get(Conversation, plan.conversation_id or "")
        if conversation is not None:
            open_escalation(
                session,
                conversation,
                EscalationReason.HARDSHIP,
                "payment_failed",
                f"Plan #{plan.id} broken: installment {installment.sequence} "
                f"({amount}, due {installment.due_date.isoformat()}) declined {failures} times "
                f"(tolerance {tolerance}); last reason: {reason}. Balance "
                f"{format_cents(plan_account(session, plan).balance_cents)}.",
            )
        record(
            session,
            Kind.PLAN_BROKEN,
            conversation_id=plan.conversation_id,
            account_id=plan.account_id,
            plan_id=plan.id,
            installment_id=installment.id,
            failures=failures,
        )
        return "plan_broken"
    retry_on = local_date(now, plan.timezone) + timedelta(days=retry_days)
    installment.status, installment.retry_on = InstallmentStatus.SCHEDULED, retry_on
    notify(
        session,
        plan,
        f"Your payment of {amount} for plan #{plan.id} didn't go through ({reason}). "
        f"We'll try the saved card again on {retry_on:%b} {retry_on.day}. If your card "
        "changed, reply to talk to a person.",
        settings,
        now,
    )
    return "retry_scheduled"


def charge_row(session: Session, installment: Installment, attempt: int) -> InstallmentCharge:
    charge = session.scalars(
        select(InstallmentCharge).where(
            InstallmentCharge.installment_id == installment.id,
            InstallmentCharge.attempt == attempt,
        )
    ).first()
    if charge is None:
        charge = InstallmentCharge(
            installment_id=installment.id,
            attempt=attempt,
            idempotency_key=charge_key(installment.id, attempt),
            status=ChargeStatus.PENDING,
        )
        session.add(charge)
        session.flush()
    return charge


def charge_key(installment_id: int, attempt: int) -> str:
    """One idempotency key per installment attempt: a re-sent request is a replay, not a charge."""
    return f"installment-{installment_id}-attempt-{attempt}"


def payment_rules(plan: PaymentPlan, settings: Settings) -> tuple[int, int]:
    """(failed_payment_tolerance, payment_retry_days): as recorded at agreement, else the
    account's policy today, else the defaults."""
    values = plan.policy_values or {}
    tolerance, retry = values.get("failed_payment_tolerance"), values.get("payment_retry_days")
    if not isinstance(tolerance, int) or not isinstance(retry, int):
        try:
            policy = get_policy(plan.policy_name, settings.policies_path)
            tolerance, retry = policy.failed_payment_tolerance, policy.payment_retry_days
        except PolicyError:
            tolerance, retry = DEFAULT_TOLERANCE, DEFAULT_RETRY_DAYS
    return int(tolerance), int(retry)


def plan_account(session: Session, plan: PaymentPlan) -> Account:
    account = session.get(Account, plan.account_id)
    if account is None:
        raise LookupError(f"plan {plan.id} has no account")
    return account


def _maybe_complete(session: Session, plan: PaymentPlan, now: datetime) -> None:
    """All payments in: the plan is completed; a settlement also forgives the remainder."""
    if plan.status in (PlanStatus.COMPLETED, PlanStatus.BROKEN, PlanStatus.CANCELLED):
        return
    if not plan.installments or any(i.status != InstallmentStatus.PAID for i in plan.installments):
        return
    plan.status, plan.completed_at = PlanStatus.COMPLETED, now
    if plan.kind == PlanKind.SETTLEMENT:
        remainder = plan_account(session, plan).balance_cents
        if remainder > 0:
            ledger.post(
                session,
                plan.account_id,
                remainder,
                f"settlement-plan-{plan.id}",
                kind=LedgerKind.SETTLEMENT,
                plan_id=plan.id,
            )
    record(
        session,
        Kind.PLAN_COMPLETED,
        conversation_id=plan.conversation_id,
        account_id=plan.account_id,
        plan_id=plan.id,
        kind=plan.kind,
    )


def send_receipt(
    session: Session, plan: PaymentPlan, amount_cents: int, settings: Settings, now: datetime
) -> None:
    """After a payment is posted, a receipt in the conversation of the plan, on its channel
    (SPEC §7): once per posted payment, since the ledger posts each payment once. The words are
    the account's cadence's `payment_receipt` templates (config/cadences.yml)."""
    account = plan_account(session, plan)
    day = local_date(now, plan.timezone)
    cadences = load_cadences(settings.cadences_path)
    receipt = cadences.for_policy(account.policy)[1].receipt()
    paid_off = account.balance_cents <= 0
    template = cadences.templates[receipt.paid_off_template if paid_off else receipt.template]
    text = render(
        template.text,
        {
            "amount": format_cents(amount_cents),
            "paid_on": short_date(day),
            "balance": format_cents(max(account.balance_cents, 0)),
            "plan_id": str(plan.id),
        },
    )
    notify(session, plan, text, settings, now)


def notify(
    session: Session, plan: PaymentPlan, text: str, settings: Settings, now: datetime
) -> None:
    """Tell the debtor on the plan's channel: SMS with the channel rules, or the web chat."""
    conversation = session.get(Conversation, plan.conversation_id or "")
    account = plan_account(session, plan)
    phone = (conversation.phone if conversation else None) or account.phone
    if conversation is not None and conversation.channel == Channel.SMS and phone:
        send_sms(
            session,
            settings,
            phone,
            text,
            OutboundKind.NOTICE,
            conversation_id=conversation.id,
            account_id=account.id,
            now=now,
        )
        return
    if conversation is not None:
        session.add(
            Message(
                conversation_id=conversation.id,
                direction=Direction.OUTBOUND,
                sender=Sender.BOT,
                text=text,
                created_at=now,
            )
        )


# --- the local demo checkout ------------------------------------------------------------------
