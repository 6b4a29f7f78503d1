"""Stripe webhook and the local demo checkout (SPEC §8, §7 local mode).

The webhook reads the raw body and checks `Stripe-Signature` with `stripe.Webhook.construct_event`
(HMAC-SHA256 over "timestamp.body", five-minute tolerance): a bad or stale signature is 400 and
nothing is read further; with no `STRIPE_WEBHOOK_SECRET` it is 503. The event is applied in the
request's unit of work (`SessionDep`), so it commits with its effects or not at all. The local
checkout's rules are in `parley.payments.checkout`; its buttons drive the same event path.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Header, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from api.deps import SessionDep, SettingsDep
from api.rendering import templates
from api.schemas.common import errors
from parley.core.clock import utcnow
from parley.core.errors import Forbidden, InvalidRequest, NotConfigured
from parley.core.money import format_cents
from parley.payments import checkout, events, stripe_api
from parley.tables import LinkStatus

router = APIRouter(tags=["payments"])


async def raw_body(request: Request) -> bytes:
    """The exact bytes Stripe signed (read before anything parses them)."""
    return await request.body()


class WebhookOut(BaseModel):
    received: bool
    outcome: str = Field(description="What the event did, e.g. `posted` or `duplicate`.")


@router.post(
    "/payments/stripe/webhook",
    response_model=WebhookOut,
    responses=errors(400, 503, e400="Bad signature or a malformed event; nothing changed"),
)
def stripe_webhook(
    body: Annotated[bytes, Depends(raw_body)],
    stripe_signature: Annotated[str | None, Header()] = None,
    *,
    session: SessionDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """One Stripe event, applied once (a replayed event id answers 200 "duplicate")."""
    secret = settings.stripe_webhook_secret
    if not secret:
        raise NotConfigured(
            "payments_not_configured", "Payments are not configured on this server."
        )
    now = utcnow()
    event = stripe_api.verified_event(body, stripe_signature, secret, now)
    outcome = events.process_event(session, settings, event, now)
    return {"received": True, "outcome": outcome}


@router.get("/pay/{token}", response_class=HTMLResponse, include_in_schema=False)
def checkout_page(
    request: Request, token: str, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """The local demo checkout: what Stripe Checkout would show, with Pay and Fail."""
    link, plan = checkout.local_link(session, settings, token)
    return templates().TemplateResponse(
        request,
        "checkout.html",
        {
            "company": settings.company_name,
            "amount": format_cents(link.amount_cents),
            "plan": plan,
            "link": link,
            "csrf": checkout.csrf_token(settings, link.token),
            "result": request.query_params.get("result"),
        },
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


@router.post("/pay/{token}", include_in_schema=False)
def checkout_submit(
    token: str,
    session: SessionDep,
    settings: SettingsDep,
    outcome: Annotated[str, Form()],
    csrf: Annotated[str, Form()],
) -> Response:
    """Pay or Fail: the same event path as the webhook, then back to the page with the result."""
    link, plan = checkout.local_link(session, settings, token)
    if not hmac.compare_digest(csrf, checkout.csrf_token(settings, link.token)):
        raise Forbidden("invalid_csrf", "This form has expired; reload the page.")
    if outcome not in ("pay", "fail"):
        raise InvalidRequest("invalid_request", "Choose pay or fail.")
    if link.status == LinkStatus.COMPLETED:
        return RedirectResponse(f"/pay/{token}?result=paid", status_code=303)
    event = checkout.local_event(link, plan, outcome)
    result = events.process_event(session, settings, event, utcnow())
    shown = "paid" if outcome == "pay" else "failed"
    return RedirectResponse(f"/pay/{token}?result={shown}&outcome={result}", status_code=303)


@router.get("/pay/{token}/done", response_class=HTMLResponse, include_in_schema=False)
def checkout_done(request: Request, token: str, settings: SettingsDep) -> HTMLResponse:
    """Where Stripe Checkout returns the debtor; the webhook, not this page, posts payments."""
    result = request.query_params.get("result", "")
    text = (
        "Thank you. Your payment is being confirmed; you'll see it in the chat shortly."
        if result == "success"
        else "The payment was not completed. You can use the link again at any time."
    )
    return templates().TemplateResponse(
        request,
        "checkout_done.html",
        {"company": settings.company_name, "text": text},
    )
