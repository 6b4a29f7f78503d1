"""`POST /payments/stripe/webhook` with real signatures (Stripe's t=...,v1=... HMAC-SHA256)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from devstack.stripe_standin import TEST_WEBHOOK_SECRET, sign
from parley.core.db import transaction
from parley.core.settings import Settings
from parley.models import Account, LedgerEntry, PaymentLink, PaymentPlan, ProcessedEvent
from parley.payments import ledger, links
from tests.support.payment_plans import make_plan, settings_for

URL = "/payments/stripe/webhook"


@pytest.fixture
def settings(db_url: str) -> Settings:
    return settings_for(db_url, STRIPE_WEBHOOK_SECRET=TEST_WEBHOOK_SECRET)


@pytest.fixture
def client(settings: Settings, committed_factory: sessionmaker[Session]) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def link(committed_factory: sessionmaker[Session], settings: Settings) -> PaymentLink:
    plan_id = make_plan(committed_factory, (10000, 10000))
    with transaction(committed_factory) as session:
        plan = session.get(PaymentPlan, plan_id)
        assert plan is not None
        return links.create_link(session, settings, plan)


def completed(link: PaymentLink, event_id: str = "evt_1", intent: str = "pi_1") -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "type": "checkout.session.completed",
        "data": {
            "object": {
                "id": "cs_test_1",
                "object": "checkout.session",
                "payment_status": "paid",
                "amount_total": link.amount_cents,
                "customer": "cus_1",
                "payment_intent": intent,
                "metadata": {
                    "plan_id": str(link.plan_id),
                    "link_id": str(link.id),
                    "installment_id": str(link.installment_id),
                },
            }
        },
    }


def post(client: TestClient, payload: str, signature: str | None) -> Any:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return client.post(URL, content=payload, headers=headers)


def state(factory: sessionmaker[Session], plan_id: int) -> tuple[int, int, str]:
    with factory() as session:
        plan = session.get(PaymentPlan, plan_id)
        assert plan is not None
        account = session.get(Account, plan.account_id)
        assert account is not None
        assert ledger.balance_holds(session, account)
        events = session.scalar(select(func.count()).select_from(ProcessedEvent)) or 0
        return account.balance_cents, events, plan.status


def test_valid_event_is_applied(
    client: TestClient, link: PaymentLink, committed_factory: sessionmaker[Session]
) -> None:
    payload = json.dumps(completed(link))
    response = post(client, payload, sign(payload))
    assert response.status_code == 200 and response.json()["outcome"] == "posted"
    assert state(committed_factory, link.plan_id) == (10000, 1, "active")


@pytest.mark.parametrize(
    "case", ["wrong_secret", "stale", "tampered", "missing", "garbage", "future"]
)
def test_bad_signatures_get_400_and_change_nothing(
    case: str, client: TestClient, link: PaymentLink, committed_factory: sessionmaker[Session]
) -> None:
    payload = json.dumps(completed(link))
    signature: str | None
    if case == "wrong_secret":
        signature = sign(payload, "whsec_someone_else")
    elif case == "stale":
        signature = sign(payload, timestamp=int(time.time()) - 301)
    elif case == "tampered":
        signature = sign(payload)
        payload = payload.replace('"amount_total": 10000', '"amount_total": 99999')
    elif case == "future":  # a signature for another body entirely
        signature = sign(payload.replace("evt_1", "evt_2"))
    elif case == "garbage":
        signature = "t=abc,v1=def"
    else:
        signature = None
    response = post(client, payload, signature)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_signature"
    assert state(committed_factory, link.plan_id) == (20000, 0, "agreed")


def test_replayed_event_is_processed_once(
    client: TestClient, link: PaymentLink, committed_factory: sessionmaker[Session]
) -> None:
    payload = json.dumps(completed(link))
    outcomes = [post(client, payload, sign(payload)).json()["outcome"] for _ in range(3)]
    assert outcomes == ["posted", "duplicate", "duplicate"]
    assert state(committed_factory, link.plan_id) == (10000, 1, "active")


def test_same_payment_reported_by_two_events_posts_once(
    client: TestClient, link: PaymentLink, committed_factory: sessionmaker[Session]
) -> None:
    first = json.dumps(completed(link, "evt_a", "pi_same"))
    succeeded = {
        "id": "evt_b",
        "type": "payment_intent.succeeded",
        "data": {
            "object": {
                "id": "pi_same",
                "object": "payment_intent",
                "amount_received": link.amount_cents,
                "customer": "cus_1",
                "payment_method": "pm_1",
                "metadata": completed(link)["data"]["object"]["metadata"],
            }
        },
    }
    second = json.dumps(succeeded)
    assert post(client, first, sign(first)).json()["outcome"] == "posted"
    assert post(client, second, sign(second)).json()["outcome"] == "already_posted"
    assert state(committed_factory, link.plan_id) == (10000, 2, "active")
    with committed_factory() as session:
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == 1
        plan = session.get(PaymentPlan, link.plan_id)
        assert plan is not None and plan.payment_method_id == "pm_1"


def test_no_secret_configured_is_503(db_url: str, committed_factory: sessionmaker[Session]) -> None:
    with TestClient(create_app(settings_for(db_url))) as client:
        payload = json.dumps({"id": "evt_x", "type": "payment_intent.succeeded"})
        response = post(client, payload, sign(payload))
    assert response.status_code == 503
