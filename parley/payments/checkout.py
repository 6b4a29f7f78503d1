"""The local demo checkout (SPEC §7 local mode): what Stripe Checkout would show, with Pay and
Fail. It exists only without `STRIPE_SECRET_KEY` and never in production, because it records
payments nobody made; its buttons build the event Stripe would send and hand it to the same
`parley.payments.events.process_event` the webhook calls.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from parley.core.errors import NotFound
from parley.core.settings import Settings
from parley.payments.stripe_api import CURRENCY
from parley.tables import LinkMode, PaymentLink, PaymentPlan

LOCAL_METHOD = "pm_card_visa"


def available(settings: Settings) -> bool:
    """Whether the demo checkout may exist on this server."""
    return not settings.stripe_secret_key and settings.env != "production"


def local_link(session: Session, settings: Settings, token: str) -> tuple[PaymentLink, PaymentPlan]:
    """The local link named by `token` and its plan (installments loaded); 404 otherwise, and
    always 404 where the demo checkout may not exist."""
    if not available(settings):
        raise NotFound("not_found", "No such payment link.")
    link = session.scalars(select(PaymentLink).where(PaymentLink.token == token)).first()
    plan = session.get(PaymentPlan, link.plan_id) if link is not None else None
    if link is None or plan is None or link.mode != LinkMode.LOCAL:
        raise NotFound("not_found", "No such payment link.")
    _ = plan.installments  # loaded for the page
    return link, plan


def csrf_token(settings: Settings, link_token: str) -> str:
    """The local checkout's form token: tied to the link and the server's secret."""
    return hmac.new(
        settings.secret_key.encode(), f"checkout:{link_token}".encode(), hashlib.sha256
    ).hexdigest()


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
