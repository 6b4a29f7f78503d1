"""Payments (SPEC §8): checkout links, Stripe events, and what they do to plans and balances.

- An agreed plan gets a link at once: a Stripe Checkout Session (mode `payment`; for an
  installment plan also `setup_future_usage=off_session`, so the card is saved for the job in
  `parley.payment_jobs`), or, with no `STRIPE_SECRET_KEY`, the local demo checkout at
  `/pay/{token}`. The checkout pays the plan's first unpaid payment; card data never passes
  through Parley.
- Every Stripe event goes through `process_event`: the event id is claimed in
  `processed_events` in the same transaction that applies it, so it is applied once. The local
  checkout builds the same event payloads and calls the same function.
- Money is posted through `parley.ledger` keyed by the PaymentIntent id, so the webhook, the
  charging job and a replay can all report one charge and it still counts once.
- A declined installment notifies the debtor (SMS through `parley.outbound.send_sms`, so opt-out
  and quiet hours apply; a chat message on the web) and is retried after the policy's
  `payment_retry_days`; past `failed_payment_tolerance` the plan is broken and a person is
  asked to review it (escalation reason `hardship`, sub-reason `payment_failed`: SPEC §10's
  reasons are fixed and a plan the debtor cannot keep is what a hardship review is for).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import stripe
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from parley import ledger
from parley.db import transaction
from parley.escalations import open_escalation
from parley.models import (
    Account,
    AuditEvent,
    Conversation,
    Installment,
    InstallmentCharge,
    Message,
    PaymentLink,
    PaymentPlan,
    ProcessedEvent,
    utcnow,
)
from parley.money import format_cents
from parley.outbound import send_sms
from parley.policies import PolicyError, get_policy
from parley.settings import Settings, get_settings

log = logging.getLogger(__name__)

STRIPE_SOURCE = "stripe"
CURRENCY = "usd"
FALLBACK_ZONE = "America/New_York"
DEFAULT_TOLERANCE = 2
DEFAULT_RETRY_DAYS = 3
# Stripe's test payment method whose later off-session charges are declined.
DECLINING_TEST_METHOD = "pm_card_chargeCustomerFail"
LOCAL_METHOD = "pm_card_visa"


# --- Stripe client ----------------------------------------------------------------------------


def stripe_client(settings: Settings) -> stripe.StripeClient | None:
    """A client for the configured account (and API base, in tests); None in local mode."""
    if not settings.stripe_secret_key:
        return None
    bases: dict[str, str] = {}
    if settings.stripe_api_base:
        bases["api"] = settings.stripe_api_base.rstrip("/")
    return stripe.StripeClient(
        settings.stripe_secret_key,
        base_addresses=bases,  # type: ignore[arg-type]
        max_network_retries=2,
    )


# --- links ------------------------------------------------------------------------------------


def csrf_token(settings: Settings, link_token: str) -> str:
    """The local checkout's form token: tied to the link and the server's secret."""
    return hmac.new(
        settings.secret_key.encode(), f"checkout:{link_token}".encode(), hashlib.sha256
    ).hexdigest()


class PaymentsNotConfigured(RuntimeError):
    """Payment links were asked for where no real payment provider is configured."""


def first_unpaid(plan: PaymentPlan) -> Installment | None:
    for installment in plan.installments:
        if installment.status not in ("paid", "cancelled"):
            return installment
    return None


def create_link(
    session: Session,
    plan: PaymentPlan,
    settings: Settings | None = None,
    *,
    client: stripe.StripeClient | None = None,
) -> PaymentLink:
    """A checkout link for the plan's first unpaid payment; one idempotency key per attempt."""
    settings = settings or get_settings()
    if settings.env == "production" and not settings.stripe_secret_key:
        # The local demo checkout posts payments nobody made: never in production.
        raise PaymentsNotConfigured("STRIPE_SECRET_KEY is required for payment links in production")
    installment = first_unpaid(plan)
    if installment is None:
        raise ValueError(f"plan {plan.id} has nothing left to pay")
    attempt = 1 + int(
        session.scalar(select(func.count(PaymentLink.id)).where(PaymentLink.plan_id == plan.id))
        or 0
    )
    save_card = len(plan.installments) > 1 and plan.kind == "installments"
    link = PaymentLink(
        plan_id=plan.id,
        installment_id=installment.id,
        attempt=attempt,
        token=secrets.token_urlsafe(24),
        mode="local",
        save_card=save_card,
        amount_cents=installment.amount_cents,
        url="",
        status="open",
    )
    session.add(link)
    session.flush()
    client = client or stripe_client(settings)
    public = settings.public_url.rstrip("/")
    if client is None:
        link.url = f"{public}/pay/{link.token}"
    else:
        metadata = {
            "plan_id": str(plan.id),
            "link_id": str(link.id),
            "installment_id": str(installment.id),
        }
        intent_data: dict[str, Any] = {"metadata": metadata}
        params: dict[str, Any] = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": CURRENCY,
                        "unit_amount": installment.amount_cents,
                        "product_data": {
                            "name": f"{settings.company_name}: payment {installment.sequence} "
                            f"of {len(plan.installments)} (plan #{plan.id})"
                        },
                    },
                }
            ],
            "success_url": f"{public}/pay/{link.token}/done?result=success",
            "cancel_url": f"{public}/pay/{link.token}/done?result=cancelled",
            "client_reference_id": str(plan.id),
            "metadata": metadata,
            "payment_intent_data": intent_data,
        }
        if save_card:
            intent_data["setup_future_usage"] = "off_session"
            params["customer_creation"] = "always"
        checkout = client.v1.checkout.sessions.create(
            params,  # type: ignore[arg-type]
            options={"idempotency_key": f"checkout-plan-{plan.id}-attempt-{attempt}"},
        )
        link.mode, link.url, link.stripe_session_id = "stripe", checkout.url or "", checkout.id
    session.add(
        AuditEvent(
            kind="payment.link_created",
            conversation_id=plan.conversation_id,
            account_id=plan.account_id,
            data={"plan_id": plan.id, "link_id": link.id, "mode": link.mode, "attempt": attempt},
        )
    )
    return link


def link_text(link: PaymentLink, plan: PaymentPlan) -> str:
    """The message that carries the link (chat and SMS alike)."""
    what = format_cents(link.amount_cents)
    saved = (
        " Your card is saved there for the later payments, each charged on its date."
        if link.save_card
        else ""
    )
    return f"Your secure payment link for {what} (plan #{plan.id}): {link.url}{saved}"


# --- events -----------------------------------------------------------------------------------


def process_event(
    factory: sessionmaker[Session],
    event: Mapping[str, Any],
    settings: Settings | None = None,
    now: datetime | None = None,
) -> str:
    """Apply one Stripe event exactly once; returns what happened ("duplicate" on a replay)."""
    settings = settings or get_settings()
    event_id = str(event.get("id") or "")
    if not event_id:
        raise ValueError("event without an id")
    with transaction(factory) as session:
        try:
            with session.begin_nested():
                session.add(ProcessedEvent(source=STRIPE_SOURCE, external_id=event_id[:128]))
                session.flush()
        except IntegrityError:
            return "duplicate"
        return handle_event(session, event, settings, now or utcnow())


def handle_event(
    session: Session, event: Mapping[str, Any], settings: Settings, now: datetime
) -> str:
    """Dispatch one (already de-duplicated) event by type; unknown types are ignored."""
    kind = str(event.get("type") or "")
    obj: Mapping[str, Any] = (event.get("data") or {}).get("object") or {}
    event_id = str(event.get("id") or "")
    metadata: Mapping[str, Any] = obj.get("metadata") or {}
    if kind in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        if obj.get("payment_status") != "paid":
            return "ignored"
        intent = obj.get("payment_intent")
        intent_obj: Mapping[str, Any] = intent if isinstance(intent, Mapping) else {}
        intent_id = str(intent_obj.get("id") or intent or obj.get("id"))
        return checkout_paid(
            session,
            metadata,
            intent_id,
            int(obj.get("amount_total") or 0),
            customer=_str(obj.get("customer")) or _str(intent_obj.get("customer")),
            payment_method=_str(intent_obj.get("payment_method")),
            event_id=event_id,
            settings=settings,
            now=now,
        )
    if kind == "payment_intent.succeeded":
        amount = int(obj.get("amount_received") or obj.get("amount") or 0)
        intent_id = str(obj.get("id"))
        if "attempt" in metadata:
            return installment_paid(
                session, metadata, intent_id, amount, event_id=event_id, now=now
            )
        return checkout_paid(
            session,
            metadata,
            intent_id,
            amount,
            customer=_str(obj.get("customer")),
            payment_method=_str(obj.get("payment_method")),
            event_id=event_id,
            settings=settings,
            now=now,
        )
    if kind == "payment_intent.payment_failed":
        error: Mapping[str, Any] = obj.get("last_payment_error") or {}
        reason = str(error.get("decline_code") or error.get("code") or "declined")
        if "attempt" in metadata:
            return installment_failed(
                session, metadata, _str(obj.get("id")), reason, settings=settings, now=now
            )
        link = _link(session, metadata)
        if link is not None:
            session.add(
                AuditEvent(
                    kind="payment.checkout_failed",
                    account_id=_plan_account(session, link.plan_id),
                    data={"link_id": link.id, "plan_id": link.plan_id, "reason": reason},
                )
            )
            return "checkout_failed"
    return "ignored"


def _str(value: object) -> str | None:
    if isinstance(value, Mapping):
        value = value.get("id")
    return str(value) if value else None


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
    if link.status != "completed":
        link.status, link.completed_at = "completed", now
    installment = session.get(Installment, link.installment_id) if link.installment_id else None
    if installment is not None and installment.status != "paid":
        installment.status, installment.paid_at = "paid", now
    if plan.status == "agreed":
        plan.status = "active"
    _maybe_complete(session, plan, now)
    return "posted" if posted else "already_posted"


def installment_paid(
    session: Session,
    metadata: Mapping[str, Any],
    intent_id: str,
    amount_cents: int,
    *,
    event_id: str | None,
    now: datetime,
) -> str:
    """An off-session charge succeeded (from the job's answer or the webhook, whichever first)."""
    installment_id, attempt = _int(metadata, "installment_id"), _int(metadata, "attempt")
    installment = session.get(Installment, installment_id) if installment_id else None
    if installment is None or attempt is None:
        return "unknown_installment"
    charge = _charge(session, installment, attempt)
    charge.status, charge.payment_intent_id = "succeeded", intent_id
    plan = installment.plan
    posted = ledger.post(
        session,
        plan.account_id,
        amount_cents or installment.amount_cents,
        intent_id,
        plan_id=plan.id,
        installment_id=installment.id,
        event_id=event_id,
    )
    if installment.status != "paid":
        installment.status, installment.paid_at = "paid", now
        installment.charging_since = None
    _maybe_complete(session, plan, now)
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
    charge = _charge(session, installment, attempt)
    if charge.status != "pending":
        return "already_applied"
    charge.status, charge.error = "failed", reason[:500]
    charge.payment_intent_id = charge.payment_intent_id or intent_id
    plan = installment.plan
    if installment.status == "paid" or plan.status != "active":
        return "ignored"
    failures = int(
        session.scalar(
            select(func.count(InstallmentCharge.id)).where(
                InstallmentCharge.installment_id == installment.id,
                InstallmentCharge.status == "failed",
            )
        )
        or 0
    )
    tolerance, retry_days = payment_rules(plan)
    amount = format_cents(installment.amount_cents)
    installment.charging_since = None
    if failures > tolerance:
        installment.status = "failed"
        plan.status, plan.broken_at = "broken", now
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
                "hardship",
                "payment_failed",
                f"Plan #{plan.id} broken: installment {installment.sequence} "
                f"({amount}, due {installment.due_date.isoformat()}) declined {failures} times "
                f"(tolerance {tolerance}); last reason: {reason}. Balance "
                f"{format_cents(plan_account(session, plan).balance_cents)}.",
            )
        session.add(
            AuditEvent(
                kind="plan.broken",
                conversation_id=plan.conversation_id,
                account_id=plan.account_id,
                data={"plan_id": plan.id, "installment_id": installment.id, "failures": failures},
            )
        )
        return "plan_broken"
    retry_on = local_today(plan, now) + timedelta(days=retry_days)
    installment.status, installment.retry_on = "scheduled", retry_on
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


def _charge(session: Session, installment: Installment, attempt: int) -> InstallmentCharge:
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
            status="pending",
        )
        session.add(charge)
        session.flush()
    return charge


def charge_key(installment_id: int, attempt: int) -> str:
    """One idempotency key per installment attempt: a re-sent request is a replay, not a charge."""
    return f"installment-{installment_id}-attempt-{attempt}"


def payment_rules(plan: PaymentPlan) -> tuple[int, int]:
    """(failed_payment_tolerance, payment_retry_days): as recorded at agreement, else the
    account's policy today, else the defaults."""
    values = plan.policy_values or {}
    tolerance, retry = values.get("failed_payment_tolerance"), values.get("payment_retry_days")
    if not isinstance(tolerance, int) or not isinstance(retry, int):
        try:
            policy = get_policy(plan.policy_name)
            tolerance, retry = policy.failed_payment_tolerance, policy.payment_retry_days
        except PolicyError:
            tolerance, retry = DEFAULT_TOLERANCE, DEFAULT_RETRY_DAYS
    return int(tolerance), int(retry)


def plan_account(session: Session, plan: PaymentPlan) -> Account:
    account = session.get(Account, plan.account_id)
    if account is None:
        raise LookupError(f"plan {plan.id} has no account")
    return account


def local_today(plan: PaymentPlan, now: datetime) -> Any:
    """Today's date in the debtor's zone (due dates are calendar dates there)."""
    try:
        zone = ZoneInfo(plan.timezone or FALLBACK_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo(FALLBACK_ZONE)
    return now.astimezone(zone).date()


def _maybe_complete(session: Session, plan: PaymentPlan, now: datetime) -> None:
    """All payments in: the plan is completed; a settlement also forgives the remainder."""
    if plan.status in ("completed", "broken", "cancelled"):
        return
    if not plan.installments or any(i.status != "paid" for i in plan.installments):
        return
    plan.status, plan.completed_at = "completed", now
    if plan.kind == "settlement":
        remainder = plan_account(session, plan).balance_cents
        if remainder > 0:
            ledger.post(
                session,
                plan.account_id,
                remainder,
                f"settlement-plan-{plan.id}",
                kind="settlement",
                plan_id=plan.id,
            )
    session.add(
        AuditEvent(
            kind="plan.completed",
            conversation_id=plan.conversation_id,
            account_id=plan.account_id,
            data={"plan_id": plan.id, "kind": plan.kind},
        )
    )


def notify(
    session: Session, plan: PaymentPlan, text: str, settings: Settings, now: datetime
) -> None:
    """Tell the debtor on the plan's channel: SMS with the channel rules, or the web chat."""
    conversation = session.get(Conversation, plan.conversation_id or "")
    account = plan_account(session, plan)
    phone = (conversation.phone if conversation else None) or account.phone
    if conversation is not None and conversation.channel == "sms" and phone:
        send_sms(
            session,
            phone,
            text,
            "notice",
            conversation.id,
            account.id,
            now,
            settings=settings,
        )
        return
    if conversation is not None:
        session.add(
            Message(
                conversation_id=conversation.id,
                direction="outbound",
                sender="bot",
                text=text,
                created_at=now,
            )
        )


# --- the local demo checkout ------------------------------------------------------------------


def local_event(link: PaymentLink, plan: PaymentPlan, outcome: str) -> dict[str, Any]:
    """The event Stripe would send for this checkout: `pay` or `fail` (same handler after)."""
    metadata = {
        "plan_id": str(plan.id),
        "link_id": str(link.id),
        "installment_id": str(link.installment_id),
    }
    intent_id = f"pi_local_{link.id}_{link.token[:12]}"
    customer = f"cus_local_{plan.id}" if link.save_card else None
    if outcome == "pay":
        return {
            "id": f"evt_local_{link.token[:16]}_paid",
            "object": "event",
            "type": "checkout.session.completed",
            "livemode": False,
            "data": {
                "object": {
                    "id": f"cs_local_{link.token[:16]}",
                    "object": "checkout.session",
                    "mode": "payment",
                    "payment_status": "paid",
                    "amount_total": link.amount_cents,
                    "currency": CURRENCY,
                    "customer": customer,
                    "client_reference_id": str(plan.id),
                    "metadata": metadata,
                    "payment_intent": {
                        "id": intent_id,
                        "object": "payment_intent",
                        "customer": customer,
                        "payment_method": LOCAL_METHOD if link.save_card else None,
                    },
                }
            },
        }
    return {
        "id": f"evt_local_{link.token[:16]}_failed_{secrets.token_hex(4)}",
        "object": "event",
        "type": "payment_intent.payment_failed",
        "livemode": False,
        "data": {
            "object": {
                "id": f"{intent_id}_declined",
                "object": "payment_intent",
                "amount": link.amount_cents,
                "currency": CURRENCY,
                "metadata": metadata,
                "last_payment_error": {
                    "code": "card_declined",
                    "decline_code": "generic_decline",
                    "message": "Your card was declined.",
                },
            }
        },
    }
