"""Checkout links, the local demo checkout and the installment job (SPEC §8).

Stripe mode runs the real stripe library against the local stand-in, which checks every request
(path, bearer key, parameters, Idempotency-Key) and replays answers for a repeated key.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from devstack.stripe_standin import (
    DECLINING,
    TEST_SECRET_KEY,
    StripeStandIn,
    stripe_standin,
)
from parley.core.db import transaction
from parley.core.errors import NotConfigured
from parley.core.settings import Settings
from parley.payments import charges as payment_jobs
from parley.payments import checkout, ledger, links
from parley.tables import (
    Account,
    Escalation,
    Installment,
    InstallmentCharge,
    LedgerEntry,
    Message,
    OutboundMessage,
    PaymentLink,
    PaymentPlan,
)
from tests.support.payment_plans import AFTERNOON, make_plan, process, settings_for


@pytest.fixture
def standin() -> Iterator[StripeStandIn]:
    with stripe_standin() as running:
        yield running


@pytest.fixture
def stripe_settings(db_url: str, standin: StripeStandIn) -> Settings:
    return settings_for(
        db_url, STRIPE_SECRET_KEY=TEST_SECRET_KEY, PARLEY_STRIPE_API_BASE=standin.url
    )


@pytest.fixture
def local_settings(db_url: str) -> Settings:
    return settings_for(db_url)


def _link(factory: sessionmaker[Session], plan_id: int, settings: Settings) -> PaymentLink:
    with transaction(factory) as session:
        plan = session.get(PaymentPlan, plan_id)
        assert plan is not None
        return links.create_link(session, settings, plan)


def _state(factory: sessionmaker[Session], plan_id: int) -> tuple[PaymentPlan, Account, list[str]]:
    with factory() as session:
        plan = session.get(PaymentPlan, plan_id)
        assert plan is not None
        account = session.get(Account, plan.account_id)
        assert account is not None
        assert ledger.balance_holds(session, account)
        return plan, account, [i.status for i in plan.installments]


# --- links ------------------------------------------------------------------------------------


def test_installment_link_is_a_checkout_session_that_saves_the_card(
    committed_factory: sessionmaker[Session], stripe_settings: Settings, standin: StripeStandIn
) -> None:
    plan_id = make_plan(committed_factory, (10000, 10000, 10000))
    link = _link(committed_factory, plan_id, stripe_settings)
    [request] = standin.accepted("/v1/checkout/sessions")
    assert request.idempotency_key == f"checkout-plan-{plan_id}-attempt-1"
    assert request.params["mode"] == "payment"
    assert request.params["line_items[0][price_data][unit_amount]"] == "10000"
    assert request.params["payment_intent_data[setup_future_usage]"] == "off_session"
    assert request.params["customer_creation"] == "always"
    assert request.params["metadata[link_id]"] == str(link.id)
    assert (
        link.mode == "stripe"
        and link.stripe_session_id
        and link.stripe_session_id.startswith("cs_test_")
    )
    assert link.url.startswith(standin.url) and link.save_card
    assert standin.rejected == []
    # A second link for the same plan is a new attempt with a new key.
    second = _link(committed_factory, plan_id, stripe_settings)
    assert second.attempt == 2
    assert standin.accepted("/v1/checkout/sessions")[1].idempotency_key.endswith("attempt-2")  # type: ignore[union-attr]


def test_pay_in_full_link_does_not_save_the_card(
    committed_factory: sessionmaker[Session], stripe_settings: Settings, standin: StripeStandIn
) -> None:
    plan_id = make_plan(committed_factory, (90000,), kind="full")
    link = _link(committed_factory, plan_id, stripe_settings)
    [request] = standin.accepted("/v1/checkout/sessions")
    assert "payment_intent_data[setup_future_usage]" not in request.params
    assert request.params["line_items[0][price_data][unit_amount]"] == "90000"
    assert not link.save_card


def test_wrong_stripe_key_is_refused_by_the_standin(
    db_url: str, committed_factory: sessionmaker[Session], standin: StripeStandIn
) -> None:
    settings = settings_for(
        db_url, STRIPE_SECRET_KEY="sk_test_wrong", PARLEY_STRIPE_API_BASE=standin.url
    )
    plan_id = make_plan(committed_factory, (90000,), kind="full")
    with pytest.raises(Exception, match="Invalid API Key"):
        _link(committed_factory, plan_id, settings)
    assert standin.received and standin.received[-1].status == 401


# --- the local demo checkout ------------------------------------------------------------------


@pytest.fixture
def local_client(
    local_settings: Settings, committed_factory: sessionmaker[Session]
) -> Iterator[TestClient]:
    with TestClient(create_app(local_settings)) as client:
        yield client


def _csrf(page: str) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert match, page
    return match.group(1)


def test_local_checkout_pay_posts_once_and_activates_the_plan(
    local_client: TestClient, local_settings: Settings, committed_factory: sessionmaker[Session]
) -> None:
    plan_id = make_plan(committed_factory, (10000, 10000, 10000))
    link = _link(committed_factory, plan_id, local_settings)
    assert link.mode == "local" and link.url == f"https://parley.example/pay/{link.token}"
    page = local_client.get(f"/pay/{link.token}")
    assert page.status_code == 200 and "$100.00" in page.text
    csrf = _csrf(page.text)
    # No or a wrong form token: refused, nothing changes.
    bad = local_client.post(f"/pay/{link.token}", data={"outcome": "pay", "csrf": "0" * 64})
    assert bad.status_code == 403
    assert local_client.get("/pay/not-a-token").status_code == 404
    # Fail: nothing posted, the page offers another try.
    failed = local_client.post(f"/pay/{link.token}", data={"outcome": "fail", "csrf": csrf})
    assert failed.status_code == 200 and "declined" in failed.text
    plan, account, statuses = _state(committed_factory, plan_id)
    assert (plan.status, account.balance_cents, statuses[0]) == ("agreed", 30000, "scheduled")
    # Pay: posted, first installment paid, plan active, card saved for the job.
    for _ in range(2):
        paid = local_client.post(f"/pay/{link.token}", data={"outcome": "pay", "csrf": csrf})
        assert paid.status_code == 200 and "Payment received" in paid.text
    plan, account, statuses = _state(committed_factory, plan_id)
    assert plan.status == "active" and plan.payment_method_id == checkout.LOCAL_METHOD
    assert account.balance_cents == 20000 and account.posted_payments_cents == 10000
    assert statuses == ["paid", "scheduled", "scheduled"]
    with committed_factory() as session:
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == 1


def test_local_checkout_pages_do_not_exist_in_stripe_mode(
    stripe_settings: Settings, committed_factory: sessionmaker[Session]
) -> None:
    plan_id = make_plan(committed_factory, (90000,), kind="full")
    link = _link(committed_factory, plan_id, stripe_settings)
    with TestClient(create_app(stripe_settings)) as client:
        assert client.get(f"/pay/{link.token}").status_code == 404


def test_no_demo_checkout_in_production(
    local_settings: Settings, committed_factory: sessionmaker[Session]
) -> None:
    """Without Stripe, production creates no link at all: the demo checkout would record
    payments nobody made. A link made in local mode is not served by a production app."""
    production = local_settings.model_copy(update={"env": "production"})
    plan_id = make_plan(committed_factory, (90000,), kind="full")
    with pytest.raises(NotConfigured):
        _link(committed_factory, plan_id, production)
    link = _link(committed_factory, plan_id, local_settings)
    with TestClient(create_app(production)) as client:
        assert client.get(f"/pay/{link.token}").status_code == 404
        response = client.post(f"/pay/{link.token}", data={"outcome": "pay", "csrf": "0" * 64})
        assert response.status_code == 404
    _plan, account, _statuses = _state(committed_factory, plan_id)
    assert account.posted_payments_cents == 0


def test_paid_settlement_completes_and_settles_the_account(
    committed_factory: sessionmaker[Session], local_settings: Settings
) -> None:
    plan_id = make_plan(committed_factory, (70000,), kind="settlement", balance_cents=100000)
    link = _link(committed_factory, plan_id, local_settings)
    with committed_factory() as session:
        plan = session.get(PaymentPlan, plan_id)
        assert plan is not None
        event = checkout.local_event(link, plan, "pay")
    assert process(committed_factory, event, local_settings) == "posted"
    assert process(committed_factory, event, local_settings) == "duplicate"
    plan, account, _ = _state(committed_factory, plan_id)
    assert plan.status == "completed" and account.balance_cents == 0
    with committed_factory() as session:
        kinds = sorted(session.scalars(select(LedgerEntry.kind)))
    assert kinds == ["payment", "settlement"]


# --- the installment job ----------------------------------------------------------------------


def _day(day: date, hour_utc: int = 18) -> datetime:
    return datetime(day.year, day.month, day.day, hour_utc, tzinfo=timezone.utc)


def test_job_charges_each_installment_on_its_date_once(
    committed_factory: sessionmaker[Session], stripe_settings: Settings, standin: StripeStandIn
) -> None:
    plan_id = make_plan(
        committed_factory, (10000, 10000), status="active", payment_method="pm_card_visa"
    )
    first, second = date(2025, 6, 10), date(2025, 7, 10)
    # The day before (and late evening UTC that is still the day before in New York): nothing.
    assert (
        payment_jobs.charge_due(
            committed_factory, stripe_settings, now=_day(first - timedelta(days=1))
        )
        == 0
    )
    assert (
        payment_jobs.charge_due(
            committed_factory, stripe_settings, now=datetime(2025, 6, 10, 3, tzinfo=timezone.utc)
        )
        == 0
    )
    assert payment_jobs.charge_due(committed_factory, stripe_settings, now=_day(first)) == 1
    assert payment_jobs.charge_due(committed_factory, stripe_settings, now=_day(first)) == 0
    [charge] = standin.charges
    assert charge.params["off_session"] == "true" and charge.params["confirm"] == "true"
    assert charge.params["customer"] == "cus_test_1" and charge.params["amount"] == "10000"
    with committed_factory() as session:
        ids = [
            i.id
            for i in session.scalars(
                select(Installment)
                .where(Installment.plan_id == plan_id)
                .order_by(Installment.sequence)
            )
        ]
    assert charge.idempotency_key == f"installment-{ids[0]}-attempt-1"
    plan, account, statuses = _state(committed_factory, plan_id)
    assert statuses == ["paid", "scheduled"] and account.balance_cents == 10000
    assert payment_jobs.charge_due(committed_factory, stripe_settings, now=_day(second)) == 1
    plan, account, statuses = _state(committed_factory, plan_id)
    assert statuses == ["paid", "paid"] and plan.status == "completed"
    assert account.balance_cents == 0 and len(standin.charges) == 2


class _Crash(Exception):
    pass


class CrashAfterCharging:
    """Stripe took the charge, then the worker died before it could record the answer."""

    def __init__(self, inner: payment_jobs.Charger) -> None:
        self.inner = inner

    def charge(self, **kwargs: object) -> payment_jobs.ChargeResult:
        self.inner.charge(**kwargs)  # type: ignore[arg-type]
        raise _Crash


def test_interrupted_charge_is_resent_with_the_same_key_and_never_charges_twice(
    committed_factory: sessionmaker[Session], stripe_settings: Settings, standin: StripeStandIn
) -> None:
    plan_id = make_plan(committed_factory, (10000,), status="active", payment_method="pm_card_visa")
    real = payment_jobs.make_charger(stripe_settings)
    now = _day(date(2025, 6, 10))
    payment_jobs.charge_due(
        committed_factory, stripe_settings, charger=CrashAfterCharging(real), now=now
    )  # type: ignore[arg-type]
    _, account, statuses = _state(committed_factory, plan_id)
    assert statuses == ["charging"] and account.balance_cents == 10000
    # A restart soon after does not touch it; after the job lease it re-sends the same request.
    assert (
        payment_jobs.charge_due(committed_factory, stripe_settings, now=now + timedelta(minutes=1))
        == 0
    )
    later = now + timedelta(seconds=stripe_settings.job_lease_seconds + 60)
    assert payment_jobs.charge_due(committed_factory, stripe_settings, now=later) == 1
    posts = standin.accepted("/v1/payment_intents")
    assert (
        len(posts) == 2
        and posts[1].replayed
        and posts[0].idempotency_key == posts[1].idempotency_key
    )
    assert len(standin.charges) == 1
    plan, account, statuses = _state(committed_factory, plan_id)
    assert statuses == ["paid"] and account.balance_cents == 0 and plan.status == "completed"


def test_declines_notify_retry_then_break_the_plan_and_escalate(
    committed_factory: sessionmaker[Session], stripe_settings: Settings, standin: StripeStandIn
) -> None:
    plan_id = make_plan(
        committed_factory, (10000, 10000), status="active", payment_method=DECLINING
    )
    day = date(2025, 6, 10)
    outcomes = []
    for expected in ("retry", "retry", "broken"):
        assert payment_jobs.charge_due(committed_factory, stripe_settings, now=_day(day)) == 1
        # Before the retry date nothing more happens.
        assert (
            payment_jobs.charge_due(
                committed_factory, stripe_settings, now=_day(day + timedelta(days=1))
            )
            == 0
        )
        plan, account, statuses = _state(committed_factory, plan_id)
        outcomes.append(plan.status)
        day += timedelta(days=3)
        assert account.balance_cents == 20000, expected
    assert outcomes == ["active", "active", "broken"]
    assert len(standin.charges) == 3
    assert [c.idempotency_key.rsplit("-", 1)[1] for c in standin.charges] == ["1", "2", "3"]  # type: ignore[union-attr]
    with committed_factory() as session:
        plan = session.get(PaymentPlan, plan_id)
        assert plan is not None
        notices = list(
            session.scalars(
                select(Message.text).where(Message.conversation_id == plan.conversation_id)
            )
        )
        assert len(notices) == 3
        assert "try the saved card again on Jun 13" in notices[0]
        assert "put on hold" in notices[2]
        [escalation] = session.scalars(select(Escalation)).all()
        assert (escalation.reason, escalation.sub_reason) == ("hardship", "payment_failed")
        assert "declined 3 times (tolerance 2)" in escalation.summary
        charges = list(session.scalars(select(InstallmentCharge.status)))
        assert charges == ["failed", "failed", "failed"]


def test_sms_notice_respects_quiet_hours(
    committed_factory: sessionmaker[Session], stripe_settings: Settings, standin: StripeStandIn
) -> None:
    make_plan(
        committed_factory,
        (10000, 10000),
        status="active",
        payment_method=DECLINING,
        channel="sms",
        phone="+14045550123",
    )
    # 06:30 in Atlanta: the charge is due today, the notice waits until 08:00.
    early = datetime(2025, 6, 10, 10, 30, tzinfo=timezone.utc)
    assert payment_jobs.charge_due(committed_factory, stripe_settings, now=early) == 1
    with committed_factory() as session:
        [sms] = session.scalars(select(OutboundMessage)).all()
    assert sms.kind == "notice" and sms.status == "scheduled"
    assert sms.send_after == datetime(2025, 6, 10, 12, 0, tzinfo=timezone.utc)
    assert "Reply STOP to opt out" in sms.body and "didn't go through" in sms.body


def test_local_mode_job_uses_the_demo_card(
    committed_factory: sessionmaker[Session], local_settings: Settings
) -> None:
    plan_id = make_plan(committed_factory, (10000,), status="active", payment_method="pm_card_visa")
    assert payment_jobs.charge_due(committed_factory, local_settings, now=AFTERNOON) == 1
    plan, account, _ = _state(committed_factory, plan_id)
    assert plan.status == "completed" and account.balance_cents == 0
