"""The installment charging job (SPEC §8): each due installment charged off-session, once.

State is in the database, so a restart loses nothing. An installment is claimed with a
conditional update (`scheduled` -> `charging`, attempts + 1) before anything is sent, so two
workers never charge the same attempt. The attempt's `InstallmentCharge` row (with its
idempotency key `installment-<id>-attempt-<n>`) is committed before Stripe is called; a worker
that dies mid-charge leaves the installment in `charging`, and after `STALE_AFTER` it is sent
again with the *same* key, which Stripe answers with the first result instead of charging again.
The result is applied through `parley.payments`, the same functions the webhook uses.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import stripe
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from parley import payments
from parley.db import transaction
from parley.models import Installment, PaymentPlan, utcnow
from parley.settings import Settings

log = logging.getLogger(__name__)

STALE_AFTER = timedelta(minutes=10)
BATCH = 100


@dataclass(frozen=True)
class ChargeResult:
    status: str  # succeeded | failed | pending
    payment_intent_id: str | None
    amount_cents: int = 0
    error: str = ""


class Charger(Protocol):
    def charge(
        self,
        *,
        amount_cents: int,
        customer: str | None,
        payment_method: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> ChargeResult: ...


class StripeCharger:
    """`PaymentIntent.create(off_session=True, confirm=True)` with the attempt's key."""

    def __init__(self, client: stripe.StripeClient) -> None:
        self._client = client

    def charge(
        self,
        *,
        amount_cents: int,
        customer: str | None,
        payment_method: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> ChargeResult:
        params: dict[str, object] = {
            "amount": amount_cents,
            "currency": payments.CURRENCY,
            "payment_method": payment_method,
            "off_session": True,
            "confirm": True,
            "metadata": metadata,
        }
        if customer:
            params["customer"] = customer
        try:
            intent = self._client.v1.payment_intents.create(
                params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            )
        except stripe.CardError as exc:
            error = exc.error
            intent_obj = getattr(error, "payment_intent", None) if error else None
            intent_id = getattr(intent_obj, "id", None) or (
                intent_obj.get("id") if isinstance(intent_obj, dict) else None
            )
            code = (error.decline_code or error.code) if error else None
            return ChargeResult("failed", intent_id, 0, str(code or "card_declined"))
        if intent.status == "succeeded":
            return ChargeResult("succeeded", intent.id, intent.amount_received or amount_cents)
        if intent.status in ("requires_payment_method", "requires_action", "canceled"):
            return ChargeResult("failed", intent.id, 0, intent.status)
        return ChargeResult("pending", intent.id)  # processing: the webhook will tell


class LocalCharger:
    """Local mode (no Stripe key): the demo card always pays; Stripe's declining test card
    (`pm_card_chargeCustomerFail`) is declined, as it would be by Stripe."""

    def charge(
        self,
        *,
        amount_cents: int,
        customer: str | None,
        payment_method: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> ChargeResult:
        intent_id = f"pi_local_{idempotency_key}"
        if payment_method == payments.DECLINING_TEST_METHOD:
            return ChargeResult("failed", intent_id, 0, "card_declined")
        return ChargeResult("succeeded", intent_id, amount_cents)


def make_charger(settings: Settings) -> Charger:
    client = payments.stripe_client(settings)
    return StripeCharger(client) if client is not None else LocalCharger()


@dataclass(frozen=True)
class _Due:
    installment_id: int
    attempts: int
    status: str
    charging_since: datetime | None


def _claim(factory: sessionmaker[Session], due: _Due, now: datetime) -> int | None:
    """Take one installment for this worker; returns the attempt number, None if lost."""
    with transaction(factory) as session:
        if due.status == "scheduled":
            attempt = due.attempts + 1
            query = (
                update(Installment)
                .where(
                    Installment.id == due.installment_id,
                    Installment.status == "scheduled",
                    Installment.attempts == due.attempts,
                )
                .values(status="charging", attempts=attempt, charging_since=now)
            )
        else:  # a stale claim: same attempt, same key
            attempt = due.attempts
            query = (
                update(Installment)
                .where(
                    Installment.id == due.installment_id,
                    Installment.status == "charging",
                    Installment.charging_since == due.charging_since,
                )
                .values(charging_since=now)
            )
        result = session.execute(query.execution_options(synchronize_session=False))
        if getattr(result, "rowcount", 0) != 1:
            return None
        installment = session.get(Installment, due.installment_id)
        if installment is not None:
            payments._charge(session, installment, attempt)  # noqa: SLF001 - same package
        return attempt


def _candidates(factory: sessionmaker[Session], now: datetime, limit: int) -> list[_Due]:
    # Due dates are in the debtor's zone: select a day ahead (no zone is ahead of UTC by more)
    # and check each against its own plan's today below.
    horizon = (now + timedelta(days=1)).date()
    with factory() as session:
        rows = session.execute(
            select(Installment, PaymentPlan)
            .join(PaymentPlan, PaymentPlan.id == Installment.plan_id)
            .where(
                PaymentPlan.status == "active",
                PaymentPlan.payment_method_id.is_not(None),
                or_(
                    (Installment.status == "scheduled")
                    & (func.coalesce(Installment.retry_on, Installment.due_date) <= horizon),
                    (Installment.status == "charging")
                    & (Installment.charging_since < now - STALE_AFTER),
                ),
            )
            .order_by(Installment.due_date, Installment.id)
            .limit(limit)
        ).all()
        due: list[_Due] = []
        for installment, plan in rows:
            if installment.status == "scheduled":
                when = installment.retry_on or installment.due_date
                if when > payments.local_today(plan, now):
                    continue
            due.append(
                _Due(
                    installment.id,
                    installment.attempts,
                    installment.status,
                    installment.charging_since,
                )
            )
        return due


def run_due(
    factory: sessionmaker[Session],
    settings: Settings,
    *,
    charger: Charger | None = None,
    now: datetime | None = None,
    limit: int = BATCH,
) -> int:
    """Charge every installment due at `now` (debtor's zone); returns how many were charged."""
    now = now or utcnow()
    due = _candidates(factory, now, limit)
    if not due:
        return 0
    charger = charger or make_charger(settings)
    charged = 0
    for item in due:
        attempt = _claim(factory, item, now)
        if attempt is None:
            continue
        with factory() as session:
            installment = session.get(Installment, item.installment_id)
            if installment is None:
                continue
            plan = installment.plan
            metadata = {
                "plan_id": str(plan.id),
                "installment_id": str(installment.id),
                "attempt": str(attempt),
            }
            request = {
                "amount_cents": installment.amount_cents,
                "customer": plan.stripe_customer_id,
                "payment_method": plan.payment_method_id or "",
            }
        key = payments.charge_key(item.installment_id, attempt)
        try:
            result = charger.charge(idempotency_key=key, metadata=metadata, **request)  # type: ignore[arg-type]
        except Exception:  # network or Stripe outage: left `charging`, retried with the same key
            log.exception(
                "installment charge failed", extra={"installment_id": item.installment_id}
            )
            continue
        charged += 1
        with transaction(factory) as session:
            if result.status == "succeeded" and result.payment_intent_id:
                payments.installment_paid(
                    session,
                    metadata,
                    result.payment_intent_id,
                    result.amount_cents,
                    event_id=None,
                    now=now,
                )
            elif result.status == "failed":
                payments.installment_failed(
                    session,
                    metadata,
                    result.payment_intent_id,
                    result.error or "declined",
                    settings=settings,
                    now=now,
                )
    return charged
