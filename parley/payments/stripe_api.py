"""The Stripe account Parley talks to (SPEC §8): one client per call site, built from settings
(and pointed at the tests' stand-in through `PARLEY_STRIPE_API_BASE`); None in local mode."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import stripe

from parley.core.errors import ParleyError
from parley.core.settings import Settings

CURRENCY = "usd"
# Stripe's test payment method whose later off-session charges are declined.
DECLINING_TEST_METHOD = "pm_card_chargeCustomerFail"


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


# Stripe signs "timestamp.payload"; a signature this far from now either way is refused.
SIGNATURE_TOLERANCE_SECONDS = 300


def verified_event(
    payload: bytes, header: str | None, secret: str, now: datetime
) -> dict[str, Any]:
    """The event Stripe signed, or a 400 `ParleyError` when the signature is missing, wrong,
    stale or dated in the future (`construct_event` checks only the past), or the body is not
    a JSON object."""
    try:
        stripe.Webhook.construct_event(
            payload, header, secret, tolerance=SIGNATURE_TOLERANCE_SECONDS
        )
        event = json.loads(payload)
    except (stripe.SignatureVerificationError, ValueError) as exc:
        raise ParleyError("invalid_signature", "Invalid Stripe signature.") from exc
    stamps = [part[2:] for part in (header or "").split(",") if part.startswith("t=")]
    if not stamps or not stamps[0].isdigit():
        raise ParleyError("invalid_signature", "Invalid Stripe signature.")
    if int(stamps[0]) > now.timestamp() + SIGNATURE_TOLERANCE_SECONDS:
        raise ParleyError("invalid_signature", "Invalid Stripe signature.")
    if not isinstance(event, dict):
        raise ParleyError("invalid_event", "The event is not a JSON object.")
    return event
