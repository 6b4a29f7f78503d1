"""The Stripe account Parley talks to (SPEC §8): one client per call site, built from settings
(and pointed at the tests' stand-in through `PARLEY_STRIPE_API_BASE`); None in local mode."""

from __future__ import annotations

import stripe

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
