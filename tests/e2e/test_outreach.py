"""SPEC §14 end to end on a running stack (Rasa, action server, API) with the worker's engine
driven by a moved clock against the stack's database:
- an imported account with consent gets a first contact by SMS (the Twilio stand-in) and by
  email (a real SMTP server on loopback) that names nothing of the debt; the debtor replies by
  SMS, verifies and agrees a plan; the written agreement is emailed; a reminder comes before the
  next due date; a dispute mid-cadence stops everything that followed;
- a plan paid through its link gets a receipt; the card then declines: the missed-payment
  follow-up brings a fresh link, which is paid, with a receipt;
- a promise made by SMS is reminded two days before its date, broken, and followed up."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from devstack.stack import Stack, running_stack
from devstack.stripe_standin import DECLINING
from parley.core.clock import ManualClock
from parley.core.db import make_engine, make_session_factory, transaction
from parley.core.settings import Settings
from parley.email.transport import make_transport as make_email_transport
from parley.jobs.engine import Engine as JobEngine
from parley.jobs.kinds import make_engine as make_job_engine
from parley.sms.twilio import make_transport as make_sms_transport
from parley.tables import (
    Account,
    Installment,
    InstallmentCharge,
    OutboundMessage,
    OutreachEvent,
    PaymentPlan,
    Promise,
)
from tests.e2e.test_payments import LINK as PAY_LINK
from tests.e2e.test_payments import _checkout as checkout
from tests.e2e.test_sms import Texter
from tests.email.conftest import SmtpServer, smtp_server  # noqa: F401 - the fixture

pytestmark = pytest.mark.stack

PHONE = "+14155550177"
AGREEMENT = re.compile(r"https?://\S+/documents/agreement/[A-Za-z0-9_.-]+")
HEADER = (
    "account_id,first_name,last_name,date_of_birth,ssn_last4,zip,phone,email,timezone,creditor,"
    "original_creditor,account_last4,description,principal,interest,fees,payments_credits,"
    "itemization_date,policy,address_line1,city,state,contact_consent"
)
ROW = (
    "OUT-1,Olive,Outram,1980-05-06,5555,94107,+14155550177,olive@example.com,America/Los_Angeles,"
    "Bluebird Finance,Bluebird Card,6789,Credit card balance,1000.00,0.00,0.00,0.00,2025-01-01,"
    'default,1 Market St,San Francisco,CA,"sms,email"'
)
# Two more debtors with a phone and no contact consent (no first contact: they write first).
ROWS_WITHOUT_CONSENT = (
    "OUT-2,Nash,Northcott,1975-02-03,5556,94107,+14155550178,,America/Los_Angeles,"
    "Bluebird Finance,Bluebird Card,6790,Credit card balance,1000.00,0.00,0.00,0.00,2025-01-01,"
    "default,2 Market St,San Francisco,CA,",
    "OUT-3,Pearl,Pennington,1982-07-08,5557,94107,+14155550179,,America/Los_Angeles,"
    "Bluebird Finance,Bluebird Card,6791,Credit card balance,1000.00,0.00,0.00,0.00,2025-01-01,"
    "default,3 Market St,San Francisco,CA,",
)
DEBT_WORDS = ("Bluebird", "$", "1,000", "6789", "Credit card")


@pytest.fixture(scope="module")
def outreach_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    accounts = tmp_path_factory.mktemp("outreach") / "accounts.csv"
    accounts.write_text("\n".join([HEADER, ROW, *ROWS_WITHOUT_CONSENT]) + "\n")
    # Timed work only in this test's engine (the worker's code), with its clock moved.
    extra = {"PARLEY_JOBS_INTERVAL_SECONDS": "0"}
    with running_stack(240, extra_env=extra, extra_accounts=accounts, rasa_shards=1) as stack:
        yield stack


def _worker_settings(stack: Stack, smtp_url: str) -> Settings:
    env: dict[str, Any] = {
        key: value
        for key, value in stack.env.items()
        if key.startswith(("PARLEY_", "TWILIO_")) or key == "DATABASE_URL"
    }
    env.update(
        PARLEY_JOBS_INTERVAL_SECONDS=0,
        PARLEY_SMTP_URL=smtp_url,
        PARLEY_EMAIL_FROM="Parley Recovery Services <collections@parley.example>",
    )
    return Settings(**env)


@contextmanager
def worker_on(
    stack: Stack, smtp_url: str, start: datetime
) -> Iterator[tuple[Settings, sessionmaker[Session], ManualClock, JobEngine]]:
    """The worker's job engine over the stack's database, its clock starting at `start`, SMS
    to the Twilio stand-in and email to the loopback SMTP server."""
    settings = _worker_settings(stack, smtp_url)
    db = make_engine(stack.database_url)
    factory = make_session_factory(db)
    clock = ManualClock(start)
    services: dict[str, object] = {
        "sms_transport": make_sms_transport(settings),
        "email_transport": make_email_transport(settings),
    }
    try:
        yield (
            settings,
            factory,
            clock,
            make_job_engine(factory, settings, clock=clock, services=services),
        )
    finally:
        db.dispose()


def _yesterday_morning(now: datetime) -> datetime:
    """17:00 UTC (09:00 or 10:00 in San Francisco) yesterday: the first contact goes out before
    the debtor's real-time replies, as it would."""
    return datetime(now.year, now.month, now.day, 17, tzinfo=timezone.utc) - timedelta(days=1)


def _events(factory: sessionmaker[Session]) -> list[tuple[str, str, str | None]]:
    with factory() as session:
        rows = session.scalars(select(OutreachEvent).order_by(OutreachEvent.id))
        return [(e.step, str(e.outcome), e.reason) for e in rows]


def _sms_to(stack: Stack, phone: str) -> list[str]:
    assert stack.twilio is not None
    return [r.params.get("Body", "") for r in stack.twilio.sent if r.params.get("To") == phone]


def test_first_contact_reply_plan_reminder_and_a_dispute_stops_the_cadence(
    outreach_stack: Stack,
    smtp_server: SmtpServer,  # noqa: F811 - the fixture imported above
) -> None:
    stack = outreach_stack
    start = _yesterday_morning(datetime.now(timezone.utc))
    with worker_on(stack, smtp_server.url, start) as (_settings, factory, clock, worker):
        worker.run_until_idle()
        # First contact on both consented channels, discreet, with the collector statement.
        [first_sms] = _sms_to(stack, PHONE)
        [email] = smtp_server.relay.received
        text = email.message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        for body in (first_sms, text):
            assert "Olive" in body and "debt collector" in body
            for word in DEBT_WORDS:
                assert word not in body, (word, body)
        assert first_sms.rstrip().endswith("Reply STOP to opt out")
        assert email.rcpt_tos == ["olive@example.com"]

        # The debtor replies by SMS, verifies and agrees a plan on the running stack.
        with httpx.Client(base_url=stack.api_url, timeout=60.0) as api:
            phone = Texter(api, stack, PHONE)
            phone.say("got ur text, who is this")
            phone.say("Outram")
            phone.say("05/06/1980")
            verified = phone.say("94107")
            assert any("verified" in r for r in verified), verified
            offer = phone.say("i can do 200 a month")
            assert any("$200.00" in r for r in offer), offer
            agreed = phone.say("yes")
            assert any(r.startswith("Confirmed (plan #") for r in agreed), agreed
            # The written agreement is emailed (the debtor consented to email), once.
            worker.run_until_idle()
            worker.run_until_idle()
            agreement_mails = [
                r
                for r in smtp_server.relay.received
                if "agreement" in str(r.message["Subject"]).lower()
            ]
            assert [r.rcpt_tos for r in agreement_mails] == [["olive@example.com"]]
            body = agreement_mails[0].message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
            found = AGREEMENT.search(body)
            assert found and "$1,000.00" in body and "debt collector" in body, body
            document = api.get(found.group(0).removeprefix(stack.env["PARLEY_PUBLIC_URL"]))
            assert document.status_code == 200 and "Olive" in document.text
            with factory() as session:
                account = session.scalars(
                    select(Account).where(Account.account_ref == "OUT-1")
                ).one()
                plan = session.scalars(
                    select(PaymentPlan).where(PaymentPlan.account_id == account.id)
                ).one()
                dues = sorted(
                    i.due_date
                    for i in session.scalars(
                        select(Installment).where(Installment.plan_id == plan.id)
                    )
                )
            # The first payment is due at once (its link was just sent); the next one is the
            # first with a pre-due reminder.
            agreed_on = datetime.now(timezone.utc).date()
            next_due = next(
                d for d in dues if d - timedelta(days=3) > agreed_on + timedelta(days=1)
            )

            # The pre-due reminder goes three days before the next installment, in the morning.
            before = len(_sms_to(stack, PHONE))
            day = next_due - timedelta(days=3)
            clock.set(datetime(day.year, day.month, day.day, 17, tzinfo=timezone.utc))
            worker.run_until_idle()
            events = _events(factory)
            reminders = _sms_to(stack, PHONE)[before:]
            assert ("pre_due", "sent", None) in events, (events, reminders)
            assert any("$200.00" in r and "debt collector" in r for r in reminders), reminders

            # A dispute mid-cadence: collection pauses and the due-day reminder never goes.
            said = phone.say("wait this isnt even my debt, i never had a bluebird card")
            if any("?" in r and "disput" in r.lower() for r in said):
                said = phone.say("yes")
            with factory() as session:
                assert session.get(Account, account.id).collection_paused  # type: ignore[union-attr]
        before = len(_sms_to(stack, PHONE))
        clock.set(datetime(next_due.year, next_due.month, next_due.day, 17, tzinfo=timezone.utc))
        worker.run_until_idle()
        assert _sms_to(stack, PHONE)[before:] == [], _events(factory)
        assert ("due_day", "blocked", "collection_paused") in _events(factory)
        # No email after the first contact and the agreement.
        assert len(smtp_server.relay.received) == 2


def _receipts(factory: sessionmaker[Session], phone: str) -> list[str]:
    """The receipts sent (or held for the debtor's convenient hours) to `phone`."""
    with factory() as session:
        rows = session.scalars(
            select(OutboundMessage).where(OutboundMessage.to == phone).order_by(OutboundMessage.id)
        )
        return [r.body for r in rows if r.body.startswith("Payment received")]


def test_a_declined_charge_is_followed_up_with_a_fresh_link_that_is_paid_with_a_receipt(
    outreach_stack: Stack,
    smtp_server: SmtpServer,  # noqa: F811 - the fixture imported above
) -> None:
    stack = outreach_stack
    phone_number = "+14155550178"
    start = datetime.now(timezone.utc)
    with worker_on(stack, smtp_server.url, start) as (_settings, factory, clock, worker):
        with httpx.Client(base_url=stack.api_url, timeout=60.0) as api:
            phone = Texter(api, stack, phone_number)
            phone.say("hi")
            phone.say("Northcott")
            phone.say("02/03/1975")
            assert any("verified" in r for r in phone.say("94107"))
            offer = phone.say("i can do 250 a month")
            assert any("$250.00" in r for r in offer), offer
            agreed = phone.say("yes")
            links = [m.group(1) for r in agreed if (m := PAY_LINK.search(r))]
            assert len(links) == 1, agreed
        # The debtor pays the first installment through the link: a receipt follows.
        assert "Payment received" in checkout(links[0], "pay")
        with factory() as session:
            plan = session.scalars(
                select(PaymentPlan)
                .join(Account, Account.id == PaymentPlan.account_id)
                .where(Account.account_ref == "OUT-2")
            ).one()
            assert plan.status == "active" and plan.payment_method_id
            dues = [i.due_date for i in plan.installments]
            plan_id = plan.id
        assert len(_receipts(factory, phone_number)) == 1

        # The card starts to decline: the second installment's charge fails on its date...
        with transaction(factory) as session:
            row = session.get(PaymentPlan, plan_id)
            assert row is not None
            row.payment_method_id = DECLINING
        second = dues[1]
        clock.set(datetime(second.year, second.month, second.day, 17, tzinfo=timezone.utc))
        worker.run_until_idle()
        with factory() as session:
            installment = session.scalars(
                select(Installment).where(
                    Installment.plan_id == plan_id, Installment.due_date == second
                )
            ).one()
            charges = session.scalars(
                select(InstallmentCharge.status).where(
                    InstallmentCharge.installment_id == installment.id
                )
            ).all()
            assert list(charges) == ["failed"]
        # ...and the next morning the missed-payment follow-up brings a fresh link.
        clock.advance(days=1)
        worker.run_until_idle()
        follow_ups = [b for b in _sms_to(stack, phone_number) if "did not go through" in b]
        assert len(follow_ups) == 1, _events(factory)
        fresh = PAY_LINK.search(follow_ups[0])
        assert fresh and fresh.group(1) != links[0] and "$250.00" in follow_ups[0]
        assert "debt collector" in follow_ups[0]
        assert "Payment received" in checkout(fresh.group(1), "pay")
        with factory() as session:
            paid = session.scalars(
                select(Installment).where(
                    Installment.plan_id == plan_id, Installment.due_date == second
                )
            ).one()
            assert paid.status == "paid"
            account = session.scalars(select(Account).where(Account.account_ref == "OUT-2")).one()
            assert account.balance_cents == 50000
        receipts = _receipts(factory, phone_number)
        assert len(receipts) == 2 and "Your balance is now $500.00." in receipts[-1], receipts
        # Paid by the link: the declined charge is not retried.
        clock.advance(days=4)
        worker.run_until_idle()
        with factory() as session:
            attempts = session.scalars(
                select(InstallmentCharge).where(InstallmentCharge.installment_id == paid.id)
            ).all()
            assert len(attempts) == 1


def test_a_promise_made_by_sms_is_reminded_then_broken_and_followed_up(
    outreach_stack: Stack,
    smtp_server: SmtpServer,  # noqa: F811 - the fixture imported above
) -> None:
    stack = outreach_stack
    phone_number = "+14155550179"
    now = datetime.now(timezone.utc)
    due = (now - timedelta(hours=10)).date() + timedelta(days=8)  # a week out, in California
    with worker_on(stack, smtp_server.url, now) as (settings, factory, clock, worker):
        with httpx.Client(base_url=stack.api_url, timeout=60.0) as api:
            phone = Texter(api, stack, phone_number)
            phone.say("hi")
            phone.say("Pennington")
            phone.say("07/08/1982")
            assert any("verified" in r for r in phone.say("94107"))
            said = phone.say(f"i cant pay it all but i can send 100 on {due:%B} {due.day}")
            for _ in range(3):  # the promise is read back for a yes (after any other question)
                if any("note that promise" in r for r in said):
                    break
                said = phone.say("no")
            assert any("$100.00" in r for r in said), said
            noted = phone.say("yes")
            assert any(r.startswith("Noted: $100.00") for r in noted), noted
        with factory() as session:
            promise = session.scalars(
                select(Promise)
                .join(Account, Account.id == Promise.account_id)
                .where(Account.account_ref == "OUT-3")
            ).one()
            assert (promise.amount_cents, promise.due_date, promise.status) == (10000, due, "open")
        worker.run_until_idle()
        # Two days before, in the morning: the reminder.
        day = due - timedelta(days=2)
        clock.set(datetime(day.year, day.month, day.day, 17, tzinfo=timezone.utc))
        worker.run_until_idle()
        [reminder] = [b for b in _sms_to(stack, phone_number) if "reminder of the payment" in b]
        assert "$100.00" in reminder and "debt collector" in reminder
        # Nothing paid by the end of the grace days: broken, and followed up.
        after = due + timedelta(days=settings.promise_grace_days + 1)
        clock.set(datetime(after.year, after.month, after.day, 17, tzinfo=timezone.utc))
        worker.run_until_idle()
        with factory() as session:
            assert session.get(Promise, promise.id).status == "broken"  # type: ignore[union-attr]
        [follow_up] = [b for b in _sms_to(stack, phone_number) if "did not receive" in b]
        assert "$100.00" in follow_up and "debt collector" in follow_up
