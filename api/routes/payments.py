"""Stripe webhook and the local demo checkout (SPEC §8, §7 local mode).

The webhook reads the raw body and checks `Stripe-Signature` with `stripe.Webhook.construct_event`
(HMAC-SHA256 over "timestamp.body", five-minute tolerance): a bad or stale signature is 400 and
nothing is read further; with no `STRIPE_WEBHOOK_SECRET` it is 503. The local checkout exists only
in local mode (no `STRIPE_SECRET_KEY`); its buttons build the event Stripe would send and hand it
to the same `parley.payments.process_event` the webhook calls.
"""

from __future__ import annotations

import hmac
import json
from pathlib import Path
from typing import Annotated, Any

import stripe
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from api.deps import StateDep
from parley import payments
from parley.errors import ParleyError
from parley.models import PaymentLink, PaymentPlan
from parley.money import format_cents

router = APIRouter(tags=["payments"])
templates = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")
SIGNATURE_TOLERANCE_SECONDS = 300


@router.post("/payments/stripe/webhook")
async def stripe_webhook(request: Request, state: StateDep) -> JSONResponse:
    """One Stripe event, applied once (a replayed event id answers 200 "duplicate")."""
    secret = state.settings.stripe_webhook_secret
    if not secret:
        raise ParleyError(
            "payments_not_configured",
            "Payments are not configured on this server.",
            status_code=503,
        )
    payload = await request.body()
    try:
        stripe.Webhook.construct_event(
            payload,
            request.headers.get("Stripe-Signature"),
            secret,
            tolerance=SIGNATURE_TOLERANCE_SECONDS,
        )
        event: dict[str, Any] = json.loads(payload)
    except (stripe.SignatureVerificationError, ValueError) as exc:
        raise ParleyError(
            "invalid_signature", "Invalid Stripe signature.", status_code=400
        ) from exc
    outcome = await run_in_threadpool(
        lambda: payments.process_event(state.sessions, event, state.settings)
    )
    return JSONResponse({"received": True, "outcome": outcome})


def _local_link(state: StateDep, token: str) -> tuple[PaymentLink, PaymentPlan]:
    if state.settings.stripe_secret_key or state.settings.env == "production":
        # The demo checkout exists only in local mode: it records payments nobody made.
        raise ParleyError("not_found", "No such payment link.", status_code=404)
    with state.sessions() as session:
        link = session.scalars(select(PaymentLink).where(PaymentLink.token == token)).first()
        plan = session.get(PaymentPlan, link.plan_id) if link is not None else None
        if link is None or plan is None or link.mode != "local":
            raise ParleyError("not_found", "No such payment link.", status_code=404)
        _ = plan.installments  # loaded for the template
        return link, plan


@router.get("/pay/{token}", response_class=HTMLResponse, include_in_schema=False)
def checkout_page(request: Request, token: str, state: StateDep) -> HTMLResponse:
    """The local demo checkout: what Stripe Checkout would show, with Pay and Fail."""
    link, plan = _local_link(state, token)
    return templates.TemplateResponse(
        request,
        "checkout.html",
        {
            "company": state.settings.company_name,
            "amount": format_cents(link.amount_cents),
            "plan": plan,
            "link": link,
            "csrf": payments.csrf_token(state.settings, link.token),
            "result": request.query_params.get("result"),
        },
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


@router.post("/pay/{token}", include_in_schema=False)
def checkout_submit(
    token: str,
    state: StateDep,
    outcome: Annotated[str, Form()],
    csrf: Annotated[str, Form()],
) -> Response:
    """Pay or Fail: the same event path as the webhook, then back to the page with the result."""
    link, plan = _local_link(state, token)
    if not hmac.compare_digest(csrf, payments.csrf_token(state.settings, link.token)):
        raise ParleyError(
            "invalid_csrf", "This form has expired; reload the page.", status_code=403
        )
    if outcome not in ("pay", "fail"):
        raise ParleyError("invalid_request", "Choose pay or fail.", status_code=422)
    if link.status == "completed":
        return RedirectResponse(f"/pay/{token}?result=paid", status_code=303)
    event = payments.local_event(link, plan, outcome)
    result = payments.process_event(state.sessions, event, state.settings)
    shown = "paid" if outcome == "pay" else "failed"
    return RedirectResponse(f"/pay/{token}?result={shown}&outcome={result}", status_code=303)


@router.get("/pay/{token}/done", response_class=HTMLResponse, include_in_schema=False)
def checkout_done(request: Request, token: str, state: StateDep) -> HTMLResponse:
    """Where Stripe Checkout returns the debtor; the webhook, not this page, posts payments."""
    result = request.query_params.get("result", "")
    text = (
        "Thank you. Your payment is being confirmed; you'll see it in the chat shortly."
        if result == "success"
        else "The payment was not completed. You can use the link again at any time."
    )
    return templates.TemplateResponse(
        request,
        "checkout_done.html",
        {"company": state.settings.company_name, "text": text},
    )
