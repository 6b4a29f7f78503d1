"""The installment charging job (SPEC §8): each due installment charged off-session, once.

State is in the database, so a restart loses nothing. An installment is claimed with a
conditional update (`scheduled` -> `charging`, attempts + 1) before anything is sent, so two
workers never charge the same attempt. The attempt's `InstallmentCharge` row (with its
idempotency key `installment-<id>-attempt-<n>`) is committed before Stripe is called; a worker
that dies mid-charge leaves the installment in `charging`, and after the job lease
(`PARLEY_JOB_LEASE_SECONDS`) it is sent again with the *same* key, which Stripe answers with
the first result instead of charging again.
The result is applied through `parley.payments.events`, the same functions the webhook uses.

The worker runs this through the job engine (parley.jobs): `due_installments` plans one
`payments.charge` job per attempt and `charge_one` is its handler; `charge_due` (every due
installment at once) is the same claim-then-charge path, for tests and one-off runs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import stripe
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from parley.core.clock import local_date, utcnow
from parley.core.db import transaction
from parley.core.settings import Settings
from parley.jobs.lease import BATCH, claimed, run_claimed, stale_before
from parley.payments import events
from parley.payments.stripe_api import CURRENCY, DECLINING_TEST_METHOD, stripe_client
from parley.tables import ChargeStatus, Installment, InstallmentStatus, PaymentPlan, PlanStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChargeResult:
    status: ChargeStatus
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
            "currency": CURRENCY,
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
            return ChargeResult(ChargeStatus.FAILED, intent_id, 0, str(code or "card_declined"))
        if intent.status == "succeeded":
            return ChargeResult(
                ChargeStatus.SUCCEEDED, intent.id, intent.amount_received or amount_cents
            )
        if intent.status in ("requires_payment_method", "requires_action", "canceled"):
            return ChargeResult(ChargeStatus.FAILED, intent.id, 0, intent.status)
        return ChargeResult(ChargeStatus.PENDING, intent.id)  # processing: the webhook will tell


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
        if payment_method == DECLINING_TEST_METHOD:
            return ChargeResult(ChargeStatus.FAILED, intent_id, 0, "card_declined")
        return ChargeResult(ChargeStatus.SUCCEEDED, intent_id, amount_cents)


def make_charger(settings: Settings) -> Charger:
    client = stripe_client(settings)
    return StripeCharger(client) if client is not None else LocalCharger()


@dataclass(frozen=True)
class _Due:
    installment_id: int
    attempts: int
    status: InstallmentStatus
    charging_since: datetime | None


def _claim(session: Session, due: _Due, now: datetime) -> bool:
    """Take one installment: a scheduled one starts its next attempt; a stale claim keeps its
    attempt, so the charge is sent again with the same idempotency key."""
    if due.status == InstallmentStatus.SCHEDULED:
        statement = (
            update(Installment)
            .where(
                Installment.id == due.installment_id,
                Installment.status == InstallmentStatus.SCHEDULED,
                Installment.attempts == due.attempts,
            )
            .values(
                status=InstallmentStatus.CHARGING, attempts=due.attempts + 1, charging_since=now
            )
        )
    else:
        statement = (
            update(Installment)
            .where(
                Installment.id == due.installment_id,
                Installment.status == InstallmentStatus.CHARGING,
                Installment.charging_since == due.charging_since,
            )
            .values(charging_since=now)
        )
    if not claimed(session, statement):
        return False
    installment = session.get(Installment, due.installment_id)
    if installment is not None:
        # The attempt's row (and its idempotency key) commits with the claim, before Stripe.
        events.charge_row(session, installment, installment.attempts)
    return True


def _candidates(
    session: Session,
    now: datetime,
    limit: int,
    lease_seconds: float,
    installment_id: int | None = None,
) -> list[_Due]:
    # Due dates are in the debtor's zone: select a day ahead (no zone is ahead of UTC by more)
    # and check each against its own plan's today below.
    horizon = (now + timedelta(days=1)).date()
    query = select(Installment, PaymentPlan).join(
        PaymentPlan, PaymentPlan.id == Installment.plan_id
    )
    if installment_id is not None:
        query = query.where(Installment.id == installment_id)
    rows = session.execute(
        query.where(
            PaymentPlan.status == PlanStatus.ACTIVE,
            PaymentPlan.payment_method_id.is_not(None),
            or_(
                (Installment.status == InstallmentStatus.SCHEDULED)
                & (func.coalesce(Installment.retry_on, Installment.due_date) <= horizon),
                (Installment.status == InstallmentStatus.CHARGING)
                & (Installment.charging_since < stale_before(now, lease_seconds)),
            ),
        )
        .order_by(Installment.due_date, Installment.id)
        .limit(limit)
    ).all()
    due: list[_Due] = []
    for installment, plan in rows:
        if installment.status == InstallmentStatus.SCHEDULED:
            when = installment.retry_on or installment.due_date
            if when > local_date(now, plan.timezone):
                continue
        due.append(
            _Due(
                installment.id, installment.attempts, installment.status, installment.charging_since
            )
        )
    return due


def charge_due(
    factory: sessionmaker[Session],
    settings: Settings,
    *,
    charger: Charger | None = None,
    now: datetime | None = None,
    limit: int = BATCH,
) -> int:
    """Charge every installment due at `now` (debtor's zone); returns how many were claimed.
    Owns its transactions: the claim commits before Stripe is called (`run_claimed`)."""
    now = now or utcnow()
    with transaction(factory) as session:
        due = {
            item.installment_id: item
            for item in _candidates(session, now, limit, settings.job_lease_seconds)
        }
    if not due:
        return 0
    paying = charger or make_charger(settings)
    return run_claimed(
        factory,
        due,
        lambda session, i: _claim(session, due[i], now),
        lambda i: _charge(factory, settings, paying, i, now),
    )


def due_installments(
    session: Session, settings: Settings, now: datetime, limit: int = BATCH
) -> list[tuple[int, str]]:
    """(installment id, the charge job's idempotency key) for each installment to charge now:
    one key per attempt, and one per stale claim (a worker died mid-charge), so the job engine
    plans each attempt once (parley.jobs.kinds)."""
    keys = []
    for item in _candidates(session, now, limit, settings.job_lease_seconds):
        key = f"charge:{item.installment_id}:{item.attempts}"
        if item.status == InstallmentStatus.CHARGING and item.charging_since is not None:
            key += f":stale:{item.charging_since.isoformat()}"
        keys.append((item.installment_id, key))
    return keys


def charge_one(
    factory: sessionmaker[Session],
    settings: Settings,
    installment_id: int,
    *,
    charger: Charger | None = None,
    now: datetime | None = None,
) -> str:
    """The job engine's handler body: charge this installment if it is still due (or its claim
    is stale), exactly as `charge_due` would; returns what happened."""
    now = now or utcnow()
    with transaction(factory) as session:
        items = [
            item
            for item in _candidates(session, now, BATCH, settings.job_lease_seconds, installment_id)
            if item.installment_id == installment_id
        ]
    if not items:
        return "not_due"
    paying = charger or make_charger(settings)
    with transaction(factory) as session:
        won = _claim(session, items[0], now)
    if not won:
        return "claimed_elsewhere"
    _charge(factory, settings, paying, installment_id, now)
    return "charged"


def _charge(
    factory: sessionmaker[Session],
    settings: Settings,
    paying: Charger,
    installment_id: int,
    now: datetime,
) -> None:
    """Send the claimed attempt to Stripe (outside any transaction) and apply the answer."""
    with transaction(factory) as session:
        installment = session.get(Installment, installment_id)
        if installment is None:
            return
        plan = installment.plan
        attempt = installment.attempts
        metadata = {
            "plan_id": str(plan.id),
            "installment_id": str(installment.id),
            "attempt": str(attempt),
        }
        amount, customer = installment.remaining_cents, plan.stripe_customer_id
        method = plan.payment_method_id or ""
    try:
        result = paying.charge(
            amount_cents=amount,
            customer=customer,
            payment_method=method,
            idempotency_key=events.charge_key(installment_id, attempt),
            metadata=metadata,
        )
    except Exception:  # network or Stripe outage: left `charging`, retried with the same key
        log.exception("installment charge failed", extra={"installment_id": installment_id})
        return
    with transaction(factory) as session:
        if result.status == ChargeStatus.SUCCEEDED and result.payment_intent_id:
            events.installment_paid(
                session,
                metadata,
                result.payment_intent_id,
                result.amount_cents,
                event_id=None,
                settings=settings,
                now=now,
            )
        elif result.status == ChargeStatus.FAILED:
            events.installment_failed(
                session,
                metadata,
                result.payment_intent_id,
                result.error or "declined",
                settings=settings,
                now=now,
            )
