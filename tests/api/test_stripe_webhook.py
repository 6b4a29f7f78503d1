"""`POST /payments/stripe/webhook` with real signatures (Stripe's t=...,v1=... HMAC-SHA256)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from devstack.stripe_standin import TEST_WEBHOOK_SECRET, sign
from parley.core.db import transaction
from parley.core.settings import ROOT, Settings
from parley.payments import events, ledger, links
from parley.tables import (
    Account,
    LedgerEntry,
    Message,
    PaymentLink,
    PaymentPlan,
    ProcessedEvent,
    Sender,
)
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


def receipts(factory: sessionmaker[Session], plan_id: int) -> list[str]:
    with factory() as session:
        plan = session.get(PaymentPlan, plan_id)
        assert plan is not None
        return [
            m.text
            for m in session.scalars(
                select(Message).where(
                    Message.conversation_id == plan.conversation_id, Message.sender == Sender.BOT
                )
            )
            if m.text.startswith("Payment received")
        ]


def test_a_payment_gets_one_receipt_in_the_conversation(
    client: TestClient, link: PaymentLink, committed_factory: sessionmaker[Session]
) -> None:
    """SPEC §7: after a payment succeeds the debtor gets a receipt in the conversation, once,
    however often Stripe reports it."""
    payload = json.dumps(completed(link))
    assert post(client, payload, sign(payload)).json()["outcome"] == "posted"
    again = json.dumps(completed(link, event_id="evt_2"))  # the same payment, another event
    assert post(client, again, sign(again)).json()["outcome"] == "already_posted"
    [receipt] = receipts(committed_factory, link.plan_id)
    assert receipt.startswith("Payment received: $100.00 on ")
    assert receipt.endswith("Your balance is now $100.00.")


def test_the_receipt_speaks_the_operators_words(
    tmp_path: Path, db_url: str, committed_factory: sessionmaker[Session]
) -> None:
    """The receipt's wording comes from config/cadences.yml (SPEC §14: wording without code)."""
    shipped = yaml.safe_load((ROOT / "config" / "cadences.yml").read_text())
    shipped["templates"]["payment_receipt"]["text"] = (
        "Got {{ amount }} on {{ paid_on }} for plan #{{ plan_id }}; {{ balance }} to go."
    )
    path = tmp_path / "cadences.yml"
    path.write_text(yaml.safe_dump(shipped))
    settings = settings_for(
        db_url, STRIPE_WEBHOOK_SECRET=TEST_WEBHOOK_SECRET, PARLEY_CADENCES=str(path)
    )
    plan_id = make_plan(committed_factory, (10000, 10000))
    with transaction(committed_factory) as session:
        plan = session.get(PaymentPlan, plan_id)
        assert plan is not None
        link = links.create_link(session, settings, plan)
        conversation_id = plan.conversation_id
    with TestClient(create_app(settings)) as client:
        payload = json.dumps(completed(link))
        assert post(client, payload, sign(payload)).json()["outcome"] == "posted"
    with committed_factory() as session:
        texts = [
            m.text
            for m in session.scalars(
                select(Message).where(
                    Message.conversation_id == conversation_id, Message.sender == Sender.BOT
                )
            )
        ]
    assert any(
        t.startswith("Got $100.00 on ") and t.endswith(f"for plan #{plan_id}; $100.00 to go.")
        for t in texts
    ), texts


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


class FailAtFlush:
    """Fails the n-th flush of any session while armed (counts them when n is 0): a real
    failure injected at every database step of processing an event."""

    def __init__(self) -> None:
        self.n, self.seen, self.armed = 0, 0, False

    def __call__(self, _session: Session, _context: object, _instances: object) -> None:
        if not self.armed:
            return
        self.seen += 1
        if self.seen == self.n:
            raise RuntimeError(f"injected failure at flush {self.n}")

    def arm(self, n: int) -> None:
        self.n, self.seen, self.armed = n, 0, True


@pytest.fixture
def fail_at_flush() -> Iterator[FailAtFlush]:
    hook = FailAtFlush()
    event.listen(Session, "before_flush", hook)
    yield hook
    event.remove(Session, "before_flush", hook)


def test_a_failure_at_any_step_records_nothing_and_the_retry_applies_it(
    settings: Settings,
    link: PaymentLink,
    committed_factory: sessionmaker[Session],
    fail_at_flush: FailAtFlush,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SPEC §8: an event is processed in one transaction with its effects. Whatever step fails,
    the webhook answers 5xx and nothing is recorded, not even that the event was seen, so
    Stripe's retry (the same signed event) is applied in full, once."""
    payload = json.dumps(completed(link))
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        fail_at_flush.arm(0)  # count the flushes of a successful run, on a twin plan
        twin = make_plan(committed_factory, (10000, 10000))
        with transaction(committed_factory) as session:
            plan = session.get(PaymentPlan, twin)
            assert plan is not None
            twin_link = links.create_link(session, settings, plan)
        fail_at_flush.arm(0)
        twin_payload = json.dumps(completed(twin_link, "evt_twin", "pi_twin"))
        assert post(client, twin_payload, sign(twin_payload)).status_code == 200
        flushes = fail_at_flush.seen
        assert flushes >= 3
        for n in range(1, flushes + 1):
            fail_at_flush.arm(n)
            response = post(client, payload, sign(payload))
            fail_at_flush.armed = False
            assert response.status_code == 500, (n, response.text)
            assert state(committed_factory, link.plan_id) == (20000, 1, "agreed"), n

        # A step that fails without touching the database: the same.
        def broken(*_args: object, **_kwargs: object) -> None:
            raise RuntimeError("injected failure in the completion step")

        monkeypatch.setattr(events, "apply_to_schedule", broken)
        assert post(client, payload, sign(payload)).status_code == 500
        assert state(committed_factory, link.plan_id) == (20000, 1, "agreed")
        monkeypatch.undo()
        retried = post(client, payload, sign(payload))
        assert retried.status_code == 200 and retried.json()["outcome"] == "posted"
        assert state(committed_factory, link.plan_id) == (10000, 2, "active")
        again = post(client, payload, sign(payload))
        assert again.json()["outcome"] == "duplicate"
    with committed_factory() as session:
        entries = session.scalars(select(LedgerEntry).where(LedgerEntry.plan_id == link.plan_id))
        assert [e.amount_cents for e in entries] == [10000]


@pytest.mark.parametrize(
    "mangle",
    [
        lambda obj: obj.update(amount_total="12.34abc"),
        lambda obj: obj.update(metadata=["not", "a", "mapping"]),
        lambda obj: obj.update(payment_intent=12345),
        lambda obj: obj.update(amount_total=True),
    ],
    ids=["amount-text", "metadata-list", "intent-number", "amount-bool"],
)
def test_signed_but_malformed_events_get_400_and_the_good_retry_applies(
    mangle: Any, client: TestClient, link: PaymentLink, committed_factory: sessionmaker[Session]
) -> None:
    bad = completed(link)
    mangle(bad["data"]["object"])
    payload = json.dumps(bad)
    response = post(client, payload, sign(payload))
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_event"
    assert state(committed_factory, link.plan_id) == (20000, 0, "agreed")
    good = json.dumps(completed(link))
    assert post(client, good, sign(good)).json()["outcome"] == "posted"


def test_an_event_without_a_data_object_gets_400(
    client: TestClient, link: PaymentLink, committed_factory: sessionmaker[Session]
) -> None:
    payload = json.dumps({"id": "evt_x", "type": "checkout.session.completed", "data": "x"})
    assert post(client, payload, sign(payload)).status_code == 400
    assert state(committed_factory, link.plan_id) == (20000, 0, "agreed")


def test_a_signature_dated_in_the_future_is_refused(
    client: TestClient, link: PaymentLink, committed_factory: sessionmaker[Session]
) -> None:
    payload = json.dumps(completed(link))
    response = post(client, payload, sign(payload, timestamp=int(time.time()) + 600))
    assert response.status_code == 400
    assert state(committed_factory, link.plan_id) == (20000, 0, "agreed")


def test_what_was_paid_is_what_is_posted(
    client: TestClient, committed_factory: sessionmaker[Session], settings: Settings
) -> None:
    """A 1-cent payment on a $605.77 plan is a partial payment; the plan completes only when
    the full amount is in; more than is due is credited."""
    plan_id = make_plan(committed_factory, (60577,))
    with transaction(committed_factory) as session:
        plan = session.get(PaymentPlan, plan_id)
        assert plan is not None
        first = links.create_link(session, settings, plan)
    penny = completed(first, "evt_penny", "pi_penny")
    penny["data"]["object"]["amount_total"] = 1
    payload = json.dumps(penny)
    assert post(client, payload, sign(payload)).json()["outcome"] == "posted"
    with committed_factory() as session:
        plan = session.get(PaymentPlan, plan_id)
        assert plan is not None
        [installment] = plan.installments
        assert (installment.status, installment.paid_cents) == ("scheduled", 1)
        assert plan.status == "active"
        second = links.create_link(session, settings, plan)
        session.commit()
    assert second.amount_cents == 60576  # the new link asks for the rest
    rest = completed(second, "evt_rest", "pi_rest")
    rest["data"]["object"]["amount_total"] = 60676  # a dollar more than due
    payload = json.dumps(rest)
    assert post(client, payload, sign(payload)).json()["outcome"] == "posted"
    balance, _events, status = state(committed_factory, plan_id)
    assert (balance, status) == (-100, "completed")  # the extra dollar is a credit
