"""Payment links (SPEC §8): a Stripe Checkout Session for the plan's first unpaid payment (the
card saved for the later installments of a plan), or the local demo checkout in local mode.
One idempotency key per attempt, so a retried request never creates a second session.
"""

from __future__ import annotations

import secrets
from typing import Any

import stripe
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from parley.core.errors import NotConfigured
from parley.core.money import format_cents
from parley.core.settings import Settings
from parley.payments.stripe_api import CURRENCY, stripe_client
from parley.records.audit import Kind, record
from parley.tables import (
    Installment,
    InstallmentStatus,
    LinkMode,
    LinkStatus,
    PaymentLink,
    PaymentPlan,
    PlanKind,
)


def first_unpaid(plan: PaymentPlan) -> Installment | None:
    for installment in plan.installments:
        if installment.status not in (InstallmentStatus.PAID, InstallmentStatus.CANCELLED):
            return installment
    return None


def create_link(
    session: Session,
    settings: Settings,
    plan: PaymentPlan,
    *,
    client: stripe.StripeClient | None = None,
) -> PaymentLink:
    """A checkout link for the plan's first unpaid payment; one idempotency key per attempt."""
    if settings.env == "production" and not settings.stripe_secret_key:
        # The local demo checkout posts payments nobody made: never in production.
        raise NotConfigured(
            "payments_not_configured", "STRIPE_SECRET_KEY is required for payment links"
        )
    installment = first_unpaid(plan)
    if installment is None:
        raise ValueError(f"plan {plan.id} has nothing left to pay")
    attempt = 1 + int(
        session.scalar(select(func.count(PaymentLink.id)).where(PaymentLink.plan_id == plan.id))
        or 0
    )
    save_card = len(plan.installments) > 1 and plan.kind == PlanKind.INSTALLMENTS
    link = PaymentLink(
        plan_id=plan.id,
        installment_id=installment.id,
        attempt=attempt,
        token=secrets.token_urlsafe(24),
        mode=LinkMode.LOCAL,
        save_card=save_card,
        amount_cents=installment.remaining_cents,
        url="",
        status=LinkStatus.OPEN,
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
                        "unit_amount": installment.remaining_cents,
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
        link.mode, link.url, link.stripe_session_id = (
            LinkMode.STRIPE,
            checkout.url or "",
            checkout.id,
        )
    record(
        session,
        Kind.PAYMENT_LINK_CREATED,
        conversation_id=plan.conversation_id,
        account_id=plan.account_id,
        plan_id=plan.id,
        link_id=link.id,
        mode=link.mode,
        attempt=attempt,
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
