"""SPEC §8 end to end on the running stack: agree in chat, pay through the link, then the job.

The stack runs payments in local mode (no STRIPE_SECRET_KEY), so the link opens the demo
checkout, whose buttons drive the same event handler as the Stripe webhook. The installment job
is then run here, against the stack's database, with an injected `now` and the stripe library
pointed at the Stripe stand-in, which checks each off-session charge it receives.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from devstack.stack import Stack
from devstack.stripe_standin import DECLINING, TEST_SECRET_KEY
from parley.core.db import transaction
from parley.core.settings import Settings
from parley.payments import charges as payment_jobs
from parley.payments import ledger
from parley.tables import Account, Escalation, Installment, PaymentPlan
from tests.support.chat import verified_chat

pytestmark = pytest.mark.stack

ZIP = "30301"  # every NEG-/PAY- test account of tests/e2e/accounts.csv

LINK = re.compile(r"(http://127\.0\.0\.1:\d+/pay/[A-Za-z0-9_-]+)")


def _plan(
    stack_db: sessionmaker[Session], ref: str
) -> tuple[PaymentPlan, Account, list[Installment]]:
    with stack_db() as session:
        account = session.scalars(select(Account).where(Account.account_ref == ref)).one()
        [plan] = session.scalars(select(PaymentPlan).where(PaymentPlan.account_id == account.id))
        assert ledger.balance_holds(session, account)
        return plan, account, list(plan.installments)


def _agree_and_get_link(chat: Any, offer: str) -> str:
    replies = chat.say(offer)
    assert replies[-1].endswith("Shall I set this up?"), replies
    replies = chat.say("yes")
    assert replies[0].startswith("Confirmed (plan #"), replies
    found = [m.group(1) for r in replies if (m := LINK.search(r))]
    assert len(found) == 1, replies
    return found[0]


def _checkout(url: str, outcome: str) -> str:
    with httpx.Client(timeout=30.0, follow_redirects=True) as client:
        page = client.get(url)
        assert page.status_code == 200, page.text
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
        assert csrf, page.text
        done = client.post(url, data={"outcome": outcome, "csrf": csrf.group(1)})
        assert done.status_code == 200, done.text
        return done.text


def _job_settings(stack: Stack) -> Settings:
    assert stack.stripe is not None
    return Settings(  # type: ignore[call-arg]
        DATABASE_URL=stack.database_url,
        STRIPE_SECRET_KEY=TEST_SECRET_KEY,
        PARLEY_STRIPE_API_BASE=stack.stripe.url,
        PARLEY_JOBS_INTERVAL_SECONDS=0,
    )


def _at(day: Any) -> datetime:
    return datetime(day.year, day.month, day.day, 18, tzinfo=timezone.utc)


def test_plan_link_checkout_job_and_broken_plan(
    stack: Stack, stack_db: sessionmaker[Session], api: httpx.Client
) -> None:
    chat = verified_chat(api, "Paxton", "07/01/1979", ZIP)
    url = _agree_and_get_link(chat, "i can do $200 a month")
    assert url.startswith(stack.api_url + "/pay/")
    # The link is in the transcript too.
    transcript = api.get(f"/api/chat/sessions/{chat.session_id}/messages").json()
    assert any(url in m["text"] for m in transcript["messages"])
    plan, account, installments = _plan(stack_db, "PAY-1")
    assert (plan.status, account.balance_cents, len(installments)) == ("agreed", 60000, 3)

    # A declined checkout changes nothing; paying it activates the plan and saves the card.
    assert "declined" in _checkout(url, "fail")
    assert _plan(stack_db, "PAY-1")[1].balance_cents == 60000
    assert "Payment received" in _checkout(url, "pay")
    plan, account, installments = _plan(stack_db, "PAY-1")
    assert plan.status == "active" and plan.payment_method_id
    assert account.balance_cents == 40000
    assert [i.status for i in installments] == ["paid", "scheduled", "scheduled"]

    # The job charges the second installment on its date (debtor's zone), once.
    settings = _job_settings(stack)
    assert stack.stripe is not None
    second, third = installments[1], installments[2]
    assert (
        payment_jobs.charge_due(stack_db, settings, now=_at(second.due_date) - timedelta(days=1))
        == 0
    )
    assert payment_jobs.charge_due(stack_db, settings, now=_at(second.due_date)) == 1
    assert payment_jobs.charge_due(stack_db, settings, now=_at(second.due_date)) == 0
    [charge] = stack.stripe.charges
    assert charge.idempotency_key == f"installment-{second.id}-attempt-1"
    assert charge.params["amount"] == str(second.amount_cents)
    assert charge.params["payment_method"] == plan.payment_method_id
    plan, account, installments = _plan(stack_db, "PAY-1")
    assert account.balance_cents == 20000
    assert [i.status for i in installments] == ["paid", "paid", "scheduled"]

    # The card starts to decline: a notice each time, retries, then a broken plan.
    with transaction(stack_db) as session:
        row = session.get(PaymentPlan, plan.id)
        assert row is not None
        row.payment_method_id = DECLINING
    day = third.due_date
    for _ in range(3):
        assert payment_jobs.charge_due(stack_db, settings, now=_at(day)) == 1
        day += timedelta(days=3)
    plan, account, installments = _plan(stack_db, "PAY-1")
    assert plan.status == "broken" and account.balance_cents == 20000
    assert len(stack.stripe.charges) == 4
    transcript = api.get(f"/api/chat/sessions/{chat.session_id}/messages").json()
    texts = [m["text"] for m in transcript["messages"]]
    assert sum("didn't go through" in t for t in texts) == 2
    assert any("put on hold" in t for t in texts)
    assert transcript["status"] == "queued"
    with stack_db() as session:
        [escalation] = session.scalars(
            select(Escalation).where(Escalation.account_id == account.id)
        ).all()
        assert (escalation.reason, escalation.sub_reason) == ("hardship", "payment_failed")


def test_pay_in_full_through_the_link_settles_the_account(
    api: httpx.Client, stack_db: sessionmaker[Session]
) -> None:
    chat = verified_chat(api, "Pembury", "07/02/1978", ZIP)
    chat.say("what are my payment options")
    url = _agree_and_get_link(chat, "i'll pay in full")
    with httpx.Client(timeout=30.0, follow_redirects=True) as client:
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get(url).text)
        assert csrf
        for _ in range(2):  # a second click (or a resent form) posts nothing
            done = client.post(url, data={"outcome": "pay", "csrf": csrf.group(1)})
            assert done.status_code == 200 and "Payment received" in done.text
        assert 'name="csrf"' not in client.get(url).text
    plan, account, installments = _plan(stack_db, "PAY-2")
    assert plan.status == "completed" and account.balance_cents == 0
    assert [i.status for i in installments] == ["paid"]
    # The receipt reaches the debtor's chat (SPEC §7), once for the payment.
    transcript = api.get(f"/api/chat/sessions/{chat.session_id}/messages").json()
    texts = (
        [m["text"] for m in transcript["messages"]]
        if isinstance(transcript, dict)
        else [m["text"] for m in transcript]
    )
    receipts = [t for t in texts if t.startswith("Payment received")]
    assert len(receipts) == 1 and receipts[0].endswith("Your account is paid off."), texts
